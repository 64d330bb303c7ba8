"""What both protocols' replays share once the code has run: how a recorded event reads in a
divergence, and how the end of the history is compared with what the code does there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from durable_host.history_check.recorded import RecordedHistory
from durable_host.history_check.verdicts import Divergence, ReplayReport, SourceLine, Verdict
from durable_host.taskhub.events import (
    EventSent,
    HistoryEvent,
    OrchestrationStatus,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
)

# Terminated and canceled instances stopped where the host stopped them, not where the code
# did; a failed one may have failed in the host (an unknown activity), not in the code.
NOT_COMPARED = (
    OrchestrationStatus.Terminated,
    OrchestrationStatus.Canceled,
    OrchestrationStatus.Failed,
)

NOTHING_SCHEDULED = (
    "nothing: by then the current code has scheduled no task with that sequence "
    "id (it schedules fewer tasks, or waits on another one first)"
)

# The events that record a task the orchestrator asked for (its sequence id is theirs).
SCHEDULING_EVENTS = (TaskScheduled, SubOrchestrationInstanceCreated, TimerCreated, EventSent)


def describe_event(event: HistoryEvent) -> str:
    if isinstance(event, TaskScheduled):
        return f"call_activity('{event.name}')"
    if isinstance(event, SubOrchestrationInstanceCreated):
        return f"call_sub_orchestrator('{event.name}')"
    if isinstance(event, TimerCreated):
        return "create_timer(...)"
    if isinstance(event, EventSent):
        return f"an entity operation on '{event.instance_id}'"
    return type(event).__name__


def judge_ending(
    recorded: RecordedHistory,
    new_events: Sequence[HistoryEvent],
    got_status: OrchestrationStatus | None,
    source_by_seq: Mapping[int, SourceLine | None],
) -> ReplayReport:
    """Every recorded task matched: compare how the history ended with what the code does
    after it (`new_events`: tasks it schedules beyond the history; `got_status`: how it ends,
    None while it still waits)."""
    name = recorded.name
    recorded_end = recorded.completion
    status = recorded.status
    if recorded_end is None or status in NOT_COMPARED:
        # In flight (the code may go on past the history), or stopped by a terminate, or
        # failed: the recorded tasks matched, which is all a resumed instance relies on.
        return ReplayReport(recorded.instance_id, name, Verdict.OK)
    end_index = recorded.events.index(recorded_end)
    expected = f"the orchestration to end as {status.name}"
    if new_events:
        first = new_events[0]
        return ReplayReport(
            recorded.instance_id,
            name,
            Verdict.NON_DETERMINISTIC,
            divergence=Divergence(
                expected=expected,
                got=f"a new task, {describe_event(first)}",
                event_index=end_index,
                sequence_id=first.event_id,
                source=source_by_seq.get(first.event_id),
            ),
        )
    if got_status is not status:
        got = "it still waits for a task" if got_status is None else f"it ends as {got_status.name}"
        return ReplayReport(
            recorded.instance_id,
            name,
            Verdict.NON_DETERMINISTIC,
            divergence=Divergence(expected, got, end_index, None, None),
        )
    return ReplayReport(recorded.instance_id, name, Verdict.OK)
