"""An orchestration instance's current execution, kept in memory between episodes."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from durable_host.engine.replay.blocked_episodes import BlockedWalk
from durable_host.engine.replay.context import event_json_text
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionStarted,
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
from durable_host.taskhub.storage import TaskHubStorage

# (schedulings, applied results) per key like ("task", 3): Session.result_index
ResultIndex = tuple[Counter[tuple[str, int]], Counter[tuple[str, int]]]

RESULT_EVENTS = (
    TaskCompleted,
    TaskFailed,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    TimerFired,
)


@dataclass
class EntityReplies:
    """Entity call request ids of an execution, and those already answered."""

    calls: set[str]
    answered: set[str]

    def accept(self, event_name: str) -> bool:
        """False for a second reply to the same call; any other event is accepted."""
        if event_name not in self.calls:
            return True
        if event_name in self.answered:
            return False
        self.answered.add(event_name)
        return True


def _request_id(request_json: str) -> str | None:
    try:
        request = json.loads(request_json)
    except ValueError:
        return None
    value = request.get("id") if isinstance(request, dict) else None
    return str(value) if value else None


@dataclass
class Session:
    """An instance's current execution, as stored (plus the sentinel ETag)."""

    instance_id: str
    execution_id: str | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    etag: str | None = None
    last_used: float = field(default_factory=time.monotonic)
    # The ETag of the Instances row as this session last wrote it (None: not written yet).
    row_etag: str | None = None
    # The background end of the last checkpoint (Instances row, message deletes).
    finishing: asyncio.Task[None] | None = field(default=None, repr=False)
    # The orchestrator's last OrchestratorState for this execution (see blocked_episodes.py), and
    # the walk of the history that found it still blocked, continued next episode.
    last_state: dict[str, Any] | None = field(default=None, repr=False)
    blocked_walk: BlockedWalk | None = field(default=None, repr=False)
    # What the session's executor keeps between episodes (the protobuf one: the converted
    # past events, protobuf/requests.ProtoHistory).
    executor_cache: Any = field(default=None, repr=False)
    # The SDK-form JSON text of `history`, encoded once per event rather than once per episode.
    _json: list[str] = field(default_factory=list, repr=False)
    _json_of: list[HistoryEvent] | None = field(default=None, repr=False)

    def played_json(self) -> list[str]:
        """`history` as the SDK receives it on replay (each event's `event_json_text`): every
        event IsPlayed except OrchestratorStarted (DTFx leaves that one false)."""
        if self._json_of is not self.history:
            self._json, self._json_of = [], self.history
        for event in self.history[len(self._json) :]:
            data = event_to_json(event, with_type=False)
            if not isinstance(event, OrchestratorStarted):
                data["IsPlayed"] = True
            self._json.append(event_json_text(data))
        return list(self._json)

    def result_index(self) -> ResultIndex:
        """(schedulings, applied results) counted by keys like ("task", 3)."""
        scheduled: Counter[tuple[str, int]] = Counter()
        applied: Counter[tuple[str, int]] = Counter()
        for event in self.history:
            if isinstance(event, TaskScheduled):
                scheduled["task", event.event_id] += 1
            elif isinstance(event, TimerCreated):
                scheduled["timer", event.event_id] += 1
            elif isinstance(event, SubOrchestrationInstanceCreated):
                scheduled["sub", event.event_id] += 1
            elif isinstance(event, RESULT_EVENTS):
                applied[result_key(event)] += 1
        return scheduled, applied

    def entity_replies(self) -> EntityReplies:
        """Which entity calls this execution made, and which of them were answered."""
        calls: set[str] = set()
        answered: set[str] = set()
        for event in self.history:
            if isinstance(event, EventSent) and event.input:
                request_id = _request_id(event.input)
                if request_id:
                    calls.add(request_id)
            elif isinstance(event, EventRaised):
                answered.add(event.name)
        return EntityReplies(calls, answered & calls)

    @property
    def started(self) -> ExecutionStarted | None:
        for event in self.history[:3]:
            if isinstance(event, ExecutionStarted):
                return event
        return None

    @property
    def status(self) -> OrchestrationStatus | None:
        if not self.history:
            return None
        status = OrchestrationStatus.Running
        for event in self.history:
            if isinstance(event, ExecutionCompleted):
                return event.orchestration_status
            if isinstance(event, ExecutionSuspended):
                status = OrchestrationStatus.Suspended
            elif isinstance(event, ExecutionResumed):
                status = OrchestrationStatus.Running
        return status

    def episode_count(self) -> int:
        return sum(1 for e in self.history if isinstance(e, OrchestratorStarted))


class SessionCache(dict[str, Session]):
    """The sessions of the instances this host works on, by instance id (extended sessions)."""

    async def load(self, storage: TaskHubStorage, instance_id: str) -> Session:
        """The instance's session: the cached one, or its history as stored."""
        session = self.get(instance_id)
        if session is None:
            loaded = await storage.load_history(instance_id)
            session = Session(
                instance_id=instance_id,
                execution_id=loaded.execution_id,
                history=list(loaded.events),
                etag=loaded.etag,
            )
            self[instance_id] = session
        session.last_used = time.monotonic()
        return session

    def evict_idle(self, idle_seconds: float, busy: Container[str]) -> None:
        """Forget sessions unused for `idle_seconds`, except those of `busy` instances."""
        cutoff = time.monotonic() - idle_seconds
        for instance_id in [k for k, s in self.items() if s.last_used < cutoff]:
            if instance_id not in busy:
                del self[instance_id]

    def forget(self, which: Callable[[str], bool]) -> None:
        """Forget the sessions of the instances `which` selects."""
        for instance_id in [i for i in self if which(i)]:
            del self[instance_id]


def find_started(history: list[HistoryEvent]) -> ExecutionStarted | None:
    for event in history:
        if isinstance(event, ExecutionStarted):
            return event
    return None


def suspended_after(history: list[HistoryEvent]) -> bool:
    suspended = False
    for event in history:
        if isinstance(event, ExecutionSuspended):
            suspended = True
        elif isinstance(event, ExecutionResumed):
            suspended = False
    return suspended


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
