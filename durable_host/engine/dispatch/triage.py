"""Which of a batch of control-queue messages an orchestration episode takes: a pure decision.

Given an instance's session (its stored history) and a batch in arrival order, every
message gets one TriageVerdict: taken into the episode, dropped (a duplicate, a stale execution,
an instance that will never expect it), abandoned for later (a result ahead of the event
that scheduled it, a start whose Instances row is not written yet), held while the instance
is suspended, or hidden until due (a timer longer than the queue's visibility limit). The
only storage fact it needs, the ExecutionId of the Instances row for a restart, is read by
the caller beforehand (`needs_row_execution`), so this module does no I/O.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from durable_host.engine.dispatch.history_summary import (
    RESULT_EVENTS,
    ResultIndex,
    ResultVerdict,
    result_verdict,
)
from durable_host.engine.dispatch.sessions import EntityReplies, Session
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    HistoryEvent,
    OrchestrationStatus,
    TimerFired,
)
from durable_host.taskhub.storage import ReceivedMessage

log = logging.getLogger("durable_host.orchestrations")

_MANAGEMENT_EVENTS = (ExecutionTerminated, ExecutionSuspended, ExecutionResumed, ExecutionRewound)
# A result for an instance with no history yet is abandoned this many times (2+4+...+32 s,
# about a minute) before it is dropped as a stray: the provider's bound for out-of-order
# messages of a nonexistent instance (OrchestrationSession.IsOutOfOrderMessage).
NOT_STARTED_TRIES = 5
# A restart's start message is abandoned this many times while the client's Instances row
# (written after the message is sent) does not name its execution yet.
START_ROW_TRIES = 10
# A timer due further ahead than this was received early (longer than the queue can hide
# a message): hidden again until due.
EARLY_TIMER_SECONDS = 1.0


class TriageVerdict(Enum):
    ACCEPT = "accept"  # into this episode
    DISCARD = "discard"  # consumed without effect: deleted with the episode's messages
    DEFER = "defer"  # not yet: abandoned with back-off, poisoned after too many tries
    HOLD = "hold"  # the instance is suspended: looked at again soon
    HIDE = "hide"  # a timer received before it is due: hidden again until then


@dataclass
class Triage:
    """A batch sorted by verdict; `restart` is an accepted start over an older execution."""

    accept: list[tuple[ReceivedMessage, HistoryEvent]] = field(default_factory=list)
    discard: list[ReceivedMessage] = field(default_factory=list)
    defer: list[ReceivedMessage] = field(default_factory=list)
    hold: list[ReceivedMessage] = field(default_factory=list)
    hide: list[tuple[ReceivedMessage, float]] = field(default_factory=list)
    restart: ExecutionStarted | None = None

    @property
    def consumed(self) -> list[ReceivedMessage]:
        """The messages the episode's checkpoint deletes: accepted and discarded."""
        return [m for m, _ in self.accept] + self.discard

    @property
    def events(self) -> list[HistoryEvent]:
        return [e for _, e in self.accept]


def needs_row_execution(session: Session, batch: list[ReceivedMessage]) -> bool:
    """Whether `triage` must know the Instances row's ExecutionId: a start of a new
    execution of a finished instance, not from a parent (a restart or a reused id)."""
    status = session.status
    if status is None or not status.is_terminal:
        return False
    for msg in batch:
        event = _event(msg)
        if (
            isinstance(event, ExecutionStarted)
            and event.parent_instance is None
            and event.orchestration_instance.execution_id != session.execution_id
        ):
            return True
    return False


def triage(
    session: Session,
    batch: list[ReceivedMessage],
    *,
    now: datetime,
    row_execution_id: str | None = None,
) -> Triage:
    """Sort `batch` (in arrival order) by verdict; `row_execution_id` as `needs_row_execution`
    asks for (None: no row, or not needed)."""
    judge = _BatchJudge(session, now, row_execution_id)
    out = Triage()
    for msg in batch:
        event = _event(msg)
        verdict = judge.verdict(msg, event)
        if verdict is TriageVerdict.ACCEPT:
            out.accept.append((msg, event))
            if isinstance(event, ExecutionStarted) and session.history:
                out.restart = event
        elif verdict is TriageVerdict.DISCARD:
            out.discard.append(msg)
        elif verdict is TriageVerdict.DEFER:
            out.defer.append(msg)
        elif verdict is TriageVerdict.HOLD:
            out.hold.append(msg)
        else:
            assert isinstance(event, TimerFired)
            out.hide.append((msg, _seconds_until(event.fire_at, now)))
    return out


class _BatchJudge:
    """The instance as the batch so far leaves it: status and execution change as a start,
    a suspend or a resume earlier in the batch is accepted."""

    def __init__(self, session: Session, now: datetime, row_execution_id: str | None) -> None:
        self._session = session
        self._now = now
        self._row_execution = row_execution_id
        self._status = session.status
        self._execution = session.execution_id
        self._starting = False
        self._index: ResultIndex | None = None
        self._replies: EntityReplies | None = None

    def verdict(self, msg: ReceivedMessage, event: HistoryEvent) -> TriageVerdict:
        if isinstance(event, ExecutionStarted):
            return self._start(msg, event)
        status = self._status
        if status is None:
            return self._before_first_checkpoint(msg, event)
        if status.is_terminal:
            rewind = isinstance(event, ExecutionRewound) and status == OrchestrationStatus.Failed
            return TriageVerdict.ACCEPT if rewind else TriageVerdict.DISCARD
        assert msg.data is not None and msg.data.task_message is not None
        target_execution = msg.data.task_message.orchestration_instance.execution_id
        if target_execution and self._execution and target_execution != self._execution:
            return TriageVerdict.DISCARD
        if status == OrchestrationStatus.Suspended and not isinstance(event, _MANAGEMENT_EVENTS):
            return TriageVerdict.HOLD
        verdict = self._ordering(msg, event)
        if verdict is TriageVerdict.ACCEPT:
            if isinstance(event, ExecutionSuspended):
                self._status = OrchestrationStatus.Suspended
            elif isinstance(event, ExecutionResumed):
                self._status = OrchestrationStatus.Running
        return verdict

    def _start(self, msg: ReceivedMessage, event: ExecutionStarted) -> TriageVerdict:
        if self._starting:
            # Two starts in one batch (a parent that redid a lost checkpoint sends its
            # child's start again): the first one runs, as if they had come apart.
            log.warning(
                "Ignoring a second start of instance %s in one batch", self._session.instance_id
            )
            return TriageVerdict.DISCARD
        verdict = start_verdict(self._session, event, self._status, msg, self._row_execution)
        if verdict is TriageVerdict.ACCEPT:
            self._starting = True
            # The rest of the batch is for the new execution, whose history is empty.
            self._status = OrchestrationStatus.Running
            self._execution = event.orchestration_instance.execution_id
            self._index = (Counter(), Counter())
            self._replies = EntityReplies(set(), set())
        return verdict

    def _before_first_checkpoint(self, msg: ReceivedMessage, event: HistoryEvent) -> TriageVerdict:
        if may_precede_first_checkpoint(msg) and msg.dequeue_count <= NOT_STARTED_TRIES:
            # A result (or an entity's reply) sent by the instance's first episode can arrive
            # before that episode's history write lands: a killed or stalled host still has
            # it in flight. Once it lands, the start message is a duplicate and nothing is
            # sent again, so dropping this would lose it.
            return TriageVerdict.DEFER
        log.info(
            "Dropping %s for instance %s, which has not started",
            event.event_type.dotnet_name,
            self._session.instance_id,
        )
        return TriageVerdict.DISCARD

    def _ordering(self, msg: ReceivedMessage, event: HistoryEvent) -> TriageVerdict:
        """Results, entity replies and timers of a running execution."""
        if isinstance(event, RESULT_EVENTS):
            if self._index is None:
                self._index = self._session.result_index()
            verdict = result_verdict(self._index, event)
            if verdict is ResultVerdict.DUPLICATE:
                return TriageVerdict.DISCARD
            if verdict is ResultVerdict.UNKNOWN:
                return TriageVerdict.DEFER
        if isinstance(event, EventRaised):
            if self._replies is None:
                self._replies = self._session.entity_replies()
            assert msg.data is not None
            from_entity = msg.data.sender.instance_id.startswith("@")
            if from_entity and event.name not in self._replies.calls:
                # An entity's reply ahead of the EventSent of its call (the caller's
                # checkpoint was lost in a crash and is being redone): the provider's
                # out-of-order rule puts it back until the call is in the history.
                return TriageVerdict.DEFER
            if not self._replies.accept(event.name):
                # A second reply to one entity call (the entity re-ran it after a crash).
                return TriageVerdict.DISCARD
        if (
            isinstance(event, TimerFired)
            and _seconds_until(event.fire_at, self._now) > EARLY_TIMER_SECONDS
        ):
            return TriageVerdict.HIDE
        return TriageVerdict.ACCEPT


def start_verdict(
    session: Session,
    event: ExecutionStarted,
    status: OrchestrationStatus | None,
    msg: ReceivedMessage,
    row_execution_id: str | None,
) -> TriageVerdict:
    """ACCEPT, DISCARD or DEFER an ExecutionStarted (docs/task-hub-layout.md §5.2)."""
    new_execution = event.orchestration_instance.execution_id
    if status is None:
        return TriageVerdict.ACCEPT
    if new_execution == session.execution_id:
        return TriageVerdict.DISCARD  # a duplicate delivery of the start we already ran
    if not status.is_terminal:
        log.warning("Ignoring a second start of running instance %s", session.instance_id)
        return TriageVerdict.DISCARD
    if event.parent_instance is not None:
        if status == OrchestrationStatus.Completed and _same_call(session.started, event):
            # The same call of the same parent execution, sent again by a redo of the
            # parent's lost checkpoint (each run of an episode picks a new execution id): it
            # was answered already, and running it again would replace that history.
            log.warning("Dropping a repeated start of completed sub-orchestration")
            return TriageVerdict.DISCARD
        # A parent reusing a finished sub-orchestration's id: its new execution wins (no
        # client writes a Pending row for sub-orchestrations to check against).
        return TriageVerdict.ACCEPT
    # A restart (or start_new with an id that finished before): the Instances row names it.
    if row_execution_id == new_execution:
        return TriageVerdict.ACCEPT
    # The client writes the row after sending the message; give it time, then give up.
    return TriageVerdict.DEFER if msg.dequeue_count < START_ROW_TRIES else TriageVerdict.DISCARD


def _same_call(started: ExecutionStarted | None, event: ExecutionStarted) -> bool:
    """Both starts come from one call: the same task of the same parent execution."""
    old = started.parent_instance if started is not None else None
    new = event.parent_instance
    return (
        old is not None
        and new is not None
        and old.orchestration_instance == new.orchestration_instance
        and old.task_schedule_id == new.task_schedule_id
    )


def may_precede_first_checkpoint(msg: ReceivedMessage) -> bool:
    """A result of something the instance's first episode sent: an activity, timer or
    sub-orchestration result, or an entity's reply (the provider's out-of-order kinds)."""
    event = _event(msg)
    if isinstance(event, RESULT_EVENTS):
        return True
    assert msg.data is not None
    return isinstance(event, EventRaised) and msg.data.sender.instance_id.startswith("@")


def _event(msg: ReceivedMessage) -> HistoryEvent:
    assert msg.data is not None and msg.data.task_message is not None
    return msg.data.task_message.event


def _seconds_until(when: datetime, now: datetime) -> float:
    return max(0.0, (when - now).total_seconds())
