"""An orchestration instance's current execution, kept in memory between episodes."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Container, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from durable_host.engine.dispatch.effects import EpisodeEffects, HistoryWrite
from durable_host.engine.dispatch.history_summary import (
    HistorySummary,
    ResultIndex,
)
from durable_host.engine.replay.blocked_episodes import BlockedWalk
from durable_host.engine.replay.context import event_json_text
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionResumed,
    ExecutionStarted,
    ExecutionSuspended,
    HistoryEvent,
    OrchestrationStatus,
    OrchestratorStarted,
)
from durable_host.taskhub.storage import TaskHubStorage

M = TypeVar("M")

# Instances SessionCache remembers as new (no history) at most: a start whose message went
# to another host's partition is never loaded here.
_NEW_KEPT = 10_000


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


class Session:
    """An instance's current execution, as stored (plus the sentinel ETag).

    Its state changes only through the methods below, each named for what happened (as
    DTFx's OrchestrationSession changes only through UpdateRuntimeState); what others read
    is exposed read-only. `history` is the stored list itself: read it, never change it.
    """

    def __init__(
        self,
        instance_id: str,
        execution_id: str | None = None,
        history: Sequence[HistoryEvent] = (),
        etag: str | None = None,
    ) -> None:
        self._instance_id = instance_id
        self._execution_id = execution_id
        self._history: list[HistoryEvent] = list(history)
        self._etag = etag
        self._last_used = time.monotonic()
        # The ETag of the Instances row as this session last wrote it (None: not written yet).
        self._row_etag: str | None = None
        # The background end of the last checkpoint (Instances row, message deletes).
        self._finishing: asyncio.Task[None] | None = None
        # The orchestrator's last OrchestratorState for this execution (see
        # blocked_episodes.py), and the walk of the history that found it still blocked,
        # continued next episode.
        self._last_state: dict[str, Any] | None = None
        self._blocked_walk: BlockedWalk | None = None
        # What the session's executor keeps between episodes (the protobuf one: the past
        # events' encodings, protobuf/request_bytes.ProtoHistory), or the entity processor
        # between batches.
        self._memory: object = None
        # The SDK-form JSON text of `history`, encoded once per event rather than once per
        # episode; emptied whenever the history is replaced rather than extended.
        self._json: list[str] = []
        self._summary = HistorySummary()

    def __repr__(self) -> str:
        return (
            f"Session({self._instance_id!r}, execution_id={self._execution_id!r}, "
            f"events={len(self._history)}, etag={self._etag!r})"
        )

    # -- what others read ---------------------------------------------------------------------

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def execution_id(self) -> str | None:
        return self._execution_id

    @property
    def history(self) -> list[HistoryEvent]:
        return self._history

    @property
    def etag(self) -> str | None:
        """The sentinel's ETag as this session last wrote or read it."""
        return self._etag

    @property
    def last_used(self) -> float:
        return self._last_used

    @property
    def row_etag(self) -> str | None:
        return self._row_etag

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self._last_state

    @property
    def blocked_walk(self) -> BlockedWalk | None:
        return self._blocked_walk

    # -- what happens to it -------------------------------------------------------------------

    def touch(self) -> None:
        """Used now (idle eviction counts from here)."""
        self._last_used = time.monotonic()

    def restart(self) -> None:
        """A restart replaces the execution: nothing of the old one is kept but the ETag."""
        self._replace_history([])
        self._execution_id = None
        self._row_etag = None
        self.forget_state()

    def begin_execution(self, execution_id: str | None) -> None:
        """An ExecutionStarted among the work item's events names the execution."""
        self._execution_id = execution_id

    def begin_generation(self, execution_id: str) -> None:
        """A continue-as-new: the next generation starts with no history."""
        self._replace_history([])
        self._execution_id = execution_id

    def rewind(self, kept: list[HistoryEvent]) -> None:
        """A rewind keeps the history without its failures; the orchestrator replays it."""
        self._replace_history(kept)
        self.forget_state()

    def apply(self, effects: EpisodeEffects, etag: str) -> None:
        """The work item's history rows are stored, under the sentinel's new `etag`."""
        self._etag = etag
        if effects.history_write is HistoryWrite.APPEND:
            self._history.extend(effects.events)
        else:
            self._replace_history(list(effects.events))

    def finish_after_last(
        self, finish: Callable[[asyncio.Task[None] | None], Coroutine[Any, Any, None]]
    ) -> asyncio.Task[None]:
        """Start a checkpoint's background end, which waits for the one before it (`finish`
        gets that one), so the row writes stay in order."""
        task = asyncio.create_task(finish(self._finishing))
        self._finishing = task
        return task

    async def finished(self) -> None:
        """Wait until the last checkpoint's background end is done (whatever its outcome)."""
        if self._finishing is not None:
            await asyncio.gather(self._finishing, return_exceptions=True)

    def wrote_row(self, etag: str | None) -> None:
        """The Instances row's version this session wrote or read (None: to be read again)."""
        self._row_etag = etag

    def remember_state(self, state: dict[str, Any] | None) -> None:
        """The orchestrator's state after this episode (None: the next episode runs it)."""
        self._last_state = state
        self._blocked_walk = None

    def forget_state(self) -> None:
        self.remember_state(None)

    def continue_walk(self, walk: BlockedWalk | None) -> None:
        """Where the walk that found the orchestrator still blocked got to."""
        self._blocked_walk = walk

    def memory(self, kind: type[M]) -> M:
        """What the session's executor (or the entity processor) keeps between work items,
        made on first use."""
        if not isinstance(self._memory, kind):
            self._memory = kind()
        return self._memory

    def _replace_history(self, history: list[HistoryEvent]) -> None:
        self._history = history
        self._json = []
        self._summary = HistorySummary()

    # -- derived ------------------------------------------------------------------------------

    def played_json(self) -> list[str]:
        """`history` as the SDK receives it on replay (each event's `event_json_text`): every
        event IsPlayed except OrchestratorStarted (DTFx leaves that one false)."""
        for event in self._history[len(self._json) :]:
            data = event_to_json(event, with_type=False)
            if not isinstance(event, OrchestratorStarted):
                data["IsPlayed"] = True
            self._json.append(event_json_text(data))
        return list(self._json)

    def result_index(self) -> ResultIndex:
        """(schedulings, applied results) counted by keys like ("task", 3): copies, the
        caller's to count on."""
        summary = self._summary.catch_up(self._history)
        return Counter(summary.scheduled), Counter(summary.applied)

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
        if not self._history:
            return None
        return self._summary.catch_up(self._history).status

    def episode_count(self) -> int:
        return self._summary.catch_up(self._history).episodes


class SessionCache(dict[str, Session]):
    """The sessions of the instances this host works on, by instance id (extended sessions)."""

    def __init__(self) -> None:
        super().__init__()
        # Instances known to have no history yet (started here under an id made here), the
        # oldest forgotten first past _NEW_KEPT: their first episode needs no read.
        self._new: dict[str, None] = {}

    def expect_new(self, instance_id: str) -> None:
        """The instance has no history: its id was made here a moment ago, from 122 random
        bits, and its start is about to be handed to this host's dispatcher."""
        if len(self._new) >= _NEW_KEPT:
            del self._new[next(iter(self._new))]
        self._new[instance_id] = None

    async def load(self, storage: TaskHubStorage, instance_id: str) -> Session:
        """The instance's session: the cached one, an empty one for an instance known to be
        new, or its history as stored."""
        session = self.get(instance_id)
        if session is None:
            if instance_id in self._new:
                del self._new[instance_id]
                session = Session(instance_id, None, [], None)
            else:
                loaded = await storage.load_history(instance_id)
                session = Session(instance_id, loaded.execution_id, loaded.events, loaded.etag)
            self[instance_id] = session
        session.touch()
        return session

    def evict_idle(self, idle_seconds: float, busy: Container[str]) -> None:
        """Forget sessions unused for `idle_seconds`, except those of `busy` instances."""
        cutoff = time.monotonic() - idle_seconds
        for instance_id in [k for k, s in self.items() if s.last_used < cutoff]:
            if instance_id not in busy:
                del self[instance_id]

    def forget(self, which: Callable[[str], bool]) -> None:
        """Forget the sessions of the instances `which` selects (and that they are new)."""
        for instance_id in [i for i in self if which(i)]:
            del self[instance_id]
        for instance_id in [i for i in self._new if which(i)]:
            del self._new[instance_id]


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
