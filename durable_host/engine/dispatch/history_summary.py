"""What the episodes ask of an execution's history, kept up as the history grows: its status,
its episodes, the results it has scheduled and applied, and whether a result is new."""

from __future__ import annotations

from collections import Counter
from enum import Enum

from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionSuspended,
    HistoryEvent,
    OrchestrationStatus,
    OrchestratorStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)

# (schedulings, applied results) per key like ("task", 3): Session.result_index
ResultIndex = tuple[Counter[tuple[str, int]], Counter[tuple[str, int]]]

RESULT_EVENTS = (
    TaskCompleted,
    TaskFailed,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    TimerFired,
)


class HistorySummary:
    """What the episodes ask of the history each time (its status, its episodes, the
    results it expects), kept up as events are appended: each event is looked at once, not
    once per episode (a long chain's history is read by every one of its episodes)."""

    def __init__(self) -> None:
        self.read = 0  # events of the history summed up so far
        self.status = OrchestrationStatus.Running
        self.ended = False
        self.episodes = 0
        self.scheduled: Counter[tuple[str, int]] = Counter()
        self.applied: Counter[tuple[str, int]] = Counter()

    def catch_up(self, history: list[HistoryEvent]) -> HistorySummary:
        for event in history[self.read :]:
            if isinstance(event, OrchestratorStarted):
                self.episodes += 1
            elif isinstance(event, TaskScheduled):
                self.scheduled["task", event.event_id] += 1
            elif isinstance(event, TimerCreated):
                self.scheduled["timer", event.event_id] += 1
            elif isinstance(event, SubOrchestrationInstanceCreated):
                self.scheduled["sub", event.event_id] += 1
            elif isinstance(event, RESULT_EVENTS):
                self.applied[result_key(event)] += 1
            elif self.ended:
                pass  # the first end decides the status
            elif isinstance(event, ExecutionCompleted):
                self.status, self.ended = event.orchestration_status, True
            elif isinstance(event, ExecutionSuspended):
                self.status = OrchestrationStatus.Suspended
            elif isinstance(event, ExecutionResumed):
                self.status = OrchestrationStatus.Running
        self.read = len(history)
        return self


class ResultVerdict(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"  # already applied
    UNKNOWN = "unknown"  # its scheduling event is not in the history


def result_verdict(index: ResultIndex, event: HistoryEvent) -> ResultVerdict:
    """Whether a result is new, a duplicate, or of something the history never scheduled.

    Keys are counted, not just seen: a protobuf worker retries a task under the action id of
    its first attempt (durabletask's RetryableTask), so one id may be scheduled, and answered,
    more than once. An accepted result is counted, so a copy later in the same batch is a
    duplicate.
    """
    scheduled, applied = index
    key = result_key(event)
    if not scheduled[key]:
        return ResultVerdict.UNKNOWN
    if applied[key] >= scheduled[key]:
        return ResultVerdict.DUPLICATE
    applied[key] += 1
    return ResultVerdict.NEW


def result_key(event: HistoryEvent) -> tuple[str, int]:
    if isinstance(event, TimerFired):
        return ("timer", event.timer_id)
    if isinstance(event, (TaskCompleted, TaskFailed)):
        return ("task", event.task_scheduled_id)
    assert isinstance(event, (SubOrchestrationInstanceCompleted, SubOrchestrationInstanceFailed))
    return ("sub", event.task_scheduled_id)
