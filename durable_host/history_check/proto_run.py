"""Replay one recorded history through the app's own 2.x worker (the Durable Task protobuf
protocol) against the app's current code.

The whole history goes to the orchestrator's trigger as one `OrchestratorRequest` (the last
episode as its new events), as the engine would send it: the app's worker runs it through
durabletask's `_OrchestrationExecutor`, which matches every recorded task with the action the
code makes under the same id and raises `NonDeterminismError` at the first that differs (the
same check it makes in production). `ExecutorWatch` follows that run with a profile hook (the
trigger runs inline, on this thread): which history event the executor is at, the code's
action under that event's id, and the app line that asked for each action. The response's
actions then read as an episode's Decision (`proto_decision`, as the engine reads them) for
the ending.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from durabletask import worker

from durable_host.engine.replay.decision import EpisodeContext
from durable_host.engine.replay.proto_decisions import proto_decision
from durable_host.errors import FunctionInvocationError, MessageFormatError
from durable_host.functions import DurableKind
from durable_host.functions.invoker import FunctionInvoker
from durable_host.history_check.app_sources import AppSources, ProfileHook
from durable_host.history_check.ending import (
    NOTHING_SCHEDULED,
    SCHEDULING_EVENTS,
    describe_event,
    judge_ending,
)
from durable_host.history_check.recorded import RecordedHistory
from durable_host.history_check.verdicts import Divergence, ReplayReport, SourceLine, Verdict
from durable_host.protobuf.actions import read_orchestrator_response
from durable_host.protobuf.requests import decode_base64, encode_base64, orchestrator_request
from durable_host.taskhub.events import (
    ExecutionCompleted,
    FailureDetails,
    HistoryEvent,
    OrchestrationStatus,
    OrchestratorStarted,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
)

_EXECUTE = worker._OrchestrationExecutor.execute.__code__
_PROCESS_EVENT = worker._OrchestrationExecutor.process_event.__code__
_NEXT_SEQUENCE = worker._RuntimeOrchestrationContext.next_sequence_number.__code__
# What the extension sends when entities are on (DTFx's default reorder window).
_REORDER_WINDOW = timedelta(minutes=30)


class ExecutorWatch(ProfileHook):
    """Follows durabletask's executor through one replay of `instance_id`."""

    def __init__(self, app_dir: Path, instance_id: str) -> None:
        self._sources = AppSources(app_dir)
        self._instance_id = instance_id
        self.position = -1  # index of the history event the executor is processing
        self.pending: Any = None  # the code's action under that event's id, if it made one
        self.source_by_seq: dict[int, SourceLine | None] = {}

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code is _PROCESS_EVENT:
            caller = frame.f_back
            ctx: Any = frame.f_locals.get("ctx")
            # Only the executor's own loop over the history (not events it replays from a
            # suspension buffer), and only this instance's.
            if caller is None or caller.f_code is not _EXECUTE or not self._ours(ctx):
                return
            self.position += 1
            history_event = frame.f_locals["event"]
            self.pending = ctx._pending_actions.get(history_event.eventId)
        elif code is _NEXT_SEQUENCE:
            context: Any = frame.f_locals.get("self")
            if self._ours(context):
                self.source_by_seq[context._sequence_number + 1] = self._sources.caller_line(frame)

    def _ours(self, ctx: Any) -> bool:
        return getattr(ctx, "_instance_id", None) == self._instance_id

    def last_source(self) -> SourceLine | None:
        known = [seq for seq, line in self.source_by_seq.items() if line is not None]
        return self.source_by_seq[max(known)] if known else None


def describe_action(action: Any) -> str:
    """A durabletask `OrchestratorAction` in the words `describe_event` uses for history."""
    kind = action.WhichOneof("orchestratorActionType")
    if kind == "scheduleTask":
        return f"call_activity('{action.scheduleTask.name}')"
    if kind == "createSubOrchestration":
        return f"call_sub_orchestrator('{action.createSubOrchestration.name}')"
    if kind == "createTimer":
        return "create_timer(...)"
    if kind == "sendEntityMessage":
        return "an entity operation"
    if kind == "sendEvent":
        return f"send_event('{action.sendEvent.name}')"
    return str(kind)


async def replay_protobuf(
    invoker: FunctionInvoker, app_dir: Path, recorded: RecordedHistory
) -> ReplayReport:
    """`recorded` replayed against a protobuf-protocol orchestrator of `invoker`'s app."""
    events = [e for e in recorded.events if not isinstance(e, ExecutionCompleted)]
    last_episode = max(
        (i for i, e in enumerate(events) if isinstance(e, OrchestratorStarted)), default=0
    )
    request = orchestrator_request(
        recorded.instance_id,
        recorded.execution_id,
        events[:last_episode],
        events[last_episode:],
        entity_reorder_window=_REORDER_WINDOW,
    )
    try:
        with ExecutorWatch(app_dir, recorded.instance_id) as watch:
            answer = await invoker.invoke_protobuf(
                DurableKind.ORCHESTRATOR, recorded.name, encode_base64(request)
            )
        result = read_orchestrator_response(decode_base64(answer, "OrchestratorResponse"))
    except (FunctionInvocationError, MessageFormatError) as exc:
        return _failed(recorded, str(exc))
    ctx = EpisodeContext(
        instance_id=recorded.instance_id,
        execution_id=recorded.execution_id or "",
        orchestrator_name=recorded.name,
        now=events[-1].timestamp,
    )
    decision = proto_decision(ctx, events, result)
    completion = decision.completion
    failure = completion.failure_details if completion is not None else None
    if _diverged_at(events, watch) or (
        failure is not None
        and "NonDeterminismError" in (failure.error_type or "")
        and 0 <= watch.position < len(events)
    ):
        return _diverged(recorded, events, watch)
    if failure is not None and (
        recorded.status is not OrchestrationStatus.Failed
        or _scheduled_after(events, watch.position)
    ):
        # It stopped (or ended) because it raised, where the history went on: that is the news.
        return _failed(recorded, f"The orchestrator raised: {_failure_text(failure)}")
    got_status = completion.status if completion is not None else None
    return judge_ending(recorded, decision.new_events, got_status, watch.source_by_seq)


def _diverged_at(events: list[HistoryEvent], watch: ExecutorWatch) -> bool:
    """The executor stopped at a recorded task the code's action under its id does not match
    (durabletask raises NonDeterminismError there; it reports it as a failure only while the
    orchestrator has not already returned)."""
    if not 0 <= watch.position < len(events):
        return False
    stored = events[watch.position]
    if not isinstance(stored, SCHEDULING_EVENTS):
        return False
    kind = None if watch.pending is None else watch.pending.WhichOneof("orchestratorActionType")
    if isinstance(stored, TaskScheduled):
        return kind != "scheduleTask" or watch.pending.scheduleTask.name != stored.name
    if isinstance(stored, SubOrchestrationInstanceCreated):
        return (
            kind != "createSubOrchestration"
            or watch.pending.createSubOrchestration.name != stored.name
        )
    if isinstance(stored, TimerCreated):
        return kind != "createTimer"
    return kind not in ("sendEvent", "sendEntityMessage")


def _diverged(
    recorded: RecordedHistory, events: list[HistoryEvent], watch: ExecutorWatch
) -> ReplayReport:
    stored = events[watch.position]
    pending = watch.pending
    if pending is None or pending.HasField("completeOrchestration"):
        # The code returned (or waits) where the history holds another task.
        got, source = NOTHING_SCHEDULED, watch.last_source()
    else:
        got, source = describe_action(pending), watch.source_by_seq.get(pending.id)
    divergence = Divergence(
        expected=describe_event(stored),
        got=got,
        event_index=watch.position,
        sequence_id=stored.event_id,
        source=source,
    )
    return ReplayReport(
        recorded.instance_id, recorded.name, Verdict.NON_DETERMINISTIC, divergence=divergence
    )


def _scheduled_after(events: list[HistoryEvent], position: int) -> bool:
    return any(isinstance(e, SCHEDULING_EVENTS) for e in events[position + 1 :])


def _failure_text(failure: FailureDetails) -> str:
    return (
        f"{failure.error_type}: {failure.error_message}"
        if failure.error_type
        else (failure.error_message or "")
    )


def _failed(recorded: RecordedHistory, error: str) -> ReplayReport:
    return ReplayReport(recorded.instance_id, recorded.name, Verdict.FAILED, error=error)
