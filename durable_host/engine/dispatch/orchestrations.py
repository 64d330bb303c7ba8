"""The orchestration dispatcher: control-queue messages in, episodes run, checkpoints out.

Per control-queue partition one loop receives up to `batch_size` messages, groups
them per instance and hands each group to that instance's worker. An instance is
processed by one worker at a time; its history stays in memory between episodes
(an extended session) until it has been idle for `session_idle_timeout`.

It triages each batch (duplicates, results ahead of their scheduling event, stale
executions, suspended instances, restarts) and hands the accepted events to the
WorkItemRunner (work_items.py), which runs the episode and checkpoints it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.notifier import InstanceNotifier
from durable_host.engine.dispatch.returns import MessageReturns, storage_unavailable
from durable_host.engine.dispatch.router import MessageRouter, stored_message
from durable_host.engine.dispatch.sessions import (
    RESULT_EVENTS,
    EntityReplies,
    Session,
    result_verdict,
)
from durable_host.engine.dispatch.work_items import OrchestratorRunner, WorkItemRunner
from durable_host.engine.log_context import about_instance
from durable_host.engine.time.clock import Clock, sleep_or_wake
from durable_host.errors import CheckpointConflictError, LeaseLapsingError
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
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

log = logging.getLogger("durable_host.orchestrations")

_MANAGEMENT_EVENTS = (ExecutionTerminated, ExecutionSuspended, ExecutionResumed, ExecutionRewound)
# How long to hide a message that cannot be processed yet (suspended instance, result ahead of
# its scheduling event): 2^dequeue_count seconds, capped, as the provider abandons messages.
_MAX_ABANDON_SECONDS = 600.0
_POISON_DEQUEUE_COUNT = 20
# A body that does not decode may still be read by another host (a newer version sharing the
# hub), so it gets a few tries too, but fewer: on this host it will never decode.
_POISON_UNDECODABLE_DEQUEUE_COUNT = 3
_SUSPENDED_RECHECK_SECONDS = 5.0
# A result for an instance with no history yet is put back this many times (2+4+...+32 s,
# about a minute) before it is dropped as a stray: the provider's bound for out-of-order
# messages of a nonexistent instance (OrchestrationSession.IsOutOfOrderMessage).
_NOT_STARTED_TRIES = 5

EntityProcessor = Callable[[str, list[ReceivedMessage]], Awaitable[None]]
"""(entity instance id "@name@key", its received messages) -> processes and checkpoints them."""


@dataclass
class _Triage:
    accept: list[tuple[ReceivedMessage, HistoryEvent]] = field(default_factory=list)
    discard: list[ReceivedMessage] = field(default_factory=list)
    defer: list[ReceivedMessage] = field(default_factory=list)
    hold: list[ReceivedMessage] = field(default_factory=list)
    restart: ExecutionStarted | None = None


class OrchestrationDispatcher:
    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        router: MessageRouter,
        run_orchestrator: OrchestratorRunner,
        clock: Clock,
        hub_name: str,
        partitions: list[int],
        batch_size: int = 32,
        visibility_timeout: float = 300.0,
        max_poll_interval: float = 30.0,
        max_concurrent: int = 100,
        session_idle_timeout: float = 30.0,
        known_activity: Callable[[str], bool] | None = None,
        notifier: InstanceNotifier | None = None,
        entity_processor: EntityProcessor | None = None,
        forget_entities: Callable[[int], None] | None = None,
    ) -> None:
        self._storage = storage
        self._entity_processor = entity_processor
        self._forget_entities = forget_entities
        self._router = router
        self._clock = clock
        self._partitions = partitions
        self._batch_size = batch_size
        self._visibility = visibility_timeout
        self._returns = MessageReturns(storage, visibility_timeout=visibility_timeout)
        self._max_poll = max_poll_interval
        self._slots = asyncio.Semaphore(max_concurrent)
        self._session_idle = session_idle_timeout
        self.notifier = notifier or InstanceNotifier()
        self._runner = WorkItemRunner(
            storage=storage,
            router=router,
            run_orchestrator=run_orchestrator,
            clock=clock,
            rows=InstanceRowWriter(storage, hub_name),
            known_activity=known_activity,
            notifier=self.notifier,
        )
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, list[ReceivedMessage]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._loops_by_partition: dict[int, asyncio.Task[None]] = {}
        self._max_buffered = max(2000, 40 * batch_size)
        router.control_accepts = self.accepts_more
        self._partition_stops: dict[int, asyncio.Event] = {}
        self._stopping = asyncio.Event()

    def trace_with(self, tracer: DurableTracer) -> None:
        self._runner.tracer = tracer

    @property
    def episodes_run(self) -> int:
        return self._runner.episodes_run

    @property
    def episodes_skipped(self) -> int:
        """Episodes decided without running the orchestrator (see replay_while_blocked)."""
        return self._runner.episodes_skipped

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Process every partition (a single host with no partition manager)."""
        for partition in self._partitions:
            self.acquire(partition)

    @property
    def owned_partitions(self) -> set[int]:
        return set(self._loops_by_partition)

    def acquire(self, partition: int) -> None:
        """Start processing a control queue this host now owns."""
        if partition in self._loops_by_partition or self._stopping.is_set():
            return
        self._partition_stops[partition] = asyncio.Event()
        self._router.deliver_control_locally(
            partition, self._deliver_local, visibility_timeout=self._visibility
        )
        self._loops_by_partition[partition] = asyncio.create_task(self._partition_loop(partition))
        log.info("Processing control queue %02d", partition)

    async def release(self, partition: int) -> None:
        """Stop processing a control queue: drain its running episodes, put back the rest."""
        loop = self._loops_by_partition.pop(partition, None)
        if loop is None:
            return
        self._router.deliver_control_locally(partition, None)
        self._partition_stops[partition].set()
        self._router.control_wakeups[partition].set()
        await asyncio.gather(loop, return_exceptions=True)
        mine = [i for i in list(self._workers) if self._router.partition_of(i) == partition]
        for instance_id in mine:
            for msg in self._pending.pop(instance_id, []):
                await self._abandon_quietly(msg, 0)
        workers = [self._workers[i] for i in mine if i in self._workers]
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        for instance_id in [i for i in self._pending if self._router.partition_of(i) == partition]:
            for msg in self._pending.pop(instance_id, []):
                await self._abandon_quietly(msg, 0)
        await self._wait_finishing()
        # Another worker may write these instances now: never trust the cached copies again.
        for instance_id in [i for i in self._sessions if self._router.partition_of(i) == partition]:
            del self._sessions[instance_id]
        if self._forget_entities is not None:
            self._forget_entities(partition)
        log.info("Released control queue %02d", partition)

    async def stop(self) -> None:
        """Stop receiving; let running episodes finish; unprocessed messages reappear later."""
        self._stopping.set()
        for partition in list(self._loops_by_partition):
            await self.release(partition)
        workers = list(self._workers.values())
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        await self._wait_finishing()
        for messages in self._pending.values():
            for msg in messages:
                await self._abandon_quietly(msg, 0)
        self._pending.clear()
        await self._returns.close()

    # -- receiving --------------------------------------------------------------------------------

    async def _partition_loop(self, partition: int) -> None:
        wake = self._router.control_wakeups[partition]
        stop = self._partition_stops[partition]
        idle_wait = 0.05
        while not stop.is_set():
            try:
                if not self.accepts_more():
                    # Back-pressure: let the workers drain before taking more.
                    await sleep_or_wake(wake, 0.05)
                    continue
                messages = await self._storage.receive_control(
                    partition,
                    max_messages=self._batch_size,
                    visibility_timeout=self._visibility,
                )
            except Exception:
                log.exception("Receiving from control queue %02d failed; retrying", partition)
                await sleep_or_wake(wake, min(idle_wait * 4, self._max_poll))
                continue
            if not messages:
                self._evict_idle_sessions()
                woken = await sleep_or_wake(wake, idle_wait)
                # Woken for a message due now (a timer): poll briskly again, since the queue
                # may make it visible a moment after our clock says it is due.
                idle_wait = 0.05 if woken else min(idle_wait * 2, self._max_poll)
                continue
            idle_wait = 0.05
            for msg in messages:
                await self._route(msg)

    def accepts_more(self) -> bool:
        """Whether this host takes more control messages into memory (back-pressure)."""
        return self._buffered() < self._max_buffered

    def _buffered(self) -> int:
        return sum(len(m) for m in self._pending.values())

    def is_idle(self, settled: bool = True) -> bool:
        """No instance has messages waiting or an episode running on this host (and, when
        `settled`, no checkpoint is still writing its Instances row)."""
        return not self._workers and not self._pending and not (settled and self._runner.finishing)

    async def _wait_finishing(self) -> None:
        if self._runner.finishing:
            await asyncio.gather(*list(self._runner.finishing), return_exceptions=True)

    def _deliver_local(self, msg: ReceivedMessage) -> None:
        """A message this host just sent to one of its own partitions (already invisible)."""
        assert msg.data is not None and msg.data.task_message is not None
        self._enqueue(msg.data.task_message.orchestration_instance.instance_id, msg)

    def _enqueue(self, instance_id: str, msg: ReceivedMessage) -> None:
        self._pending.setdefault(instance_id, []).append(msg)
        if instance_id not in self._workers:
            self._workers[instance_id] = asyncio.create_task(self._instance_worker(instance_id))

    async def _route(self, msg: ReceivedMessage) -> None:
        if msg.data is None or msg.data.task_message is None:
            reason = msg.decode_error or "message has no TaskMessage"
            if msg.dequeue_count < _POISON_UNDECODABLE_DEQUEUE_COUNT:
                log.warning(
                    "Message %s in %s cannot be read (attempt %d): %s",
                    msg.message_id,
                    msg.queue,
                    msg.dequeue_count,
                    reason,
                )
                await self._abandon_quietly(msg, _abandon_delay(msg))
                return
            await self._poison(msg, reason)
            return
        self._enqueue(msg.data.task_message.orchestration_instance.instance_id, msg)

    async def _instance_worker(self, instance_id: str) -> None:
        # This task may have been started by another instance's episode (a local delivery).
        about_instance(instance_id)
        try:
            while True:
                batch = self._pending.pop(instance_id, None)
                if not batch:
                    return
                async with self._slots:
                    await self._process_safely(instance_id, batch)
        finally:
            self._workers.pop(instance_id, None)
            if self._pending.get(instance_id) and not self._stopping.is_set():
                self._workers[instance_id] = asyncio.create_task(self._instance_worker(instance_id))

    def _evict_idle_sessions(self) -> None:
        cutoff = time.monotonic() - self._session_idle
        for instance_id in [k for k, s in self._sessions.items() if s.last_used < cutoff]:
            if instance_id not in self._workers:
                del self._sessions[instance_id]

    # -- one work item ---------------------------------------------------------------------------

    async def _process_safely(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        try:
            await self._process(instance_id, batch)
        except CheckpointConflictError as exc:
            why = (
                str(exc)
                if isinstance(exc, LeaseLapsingError)
                else "was checkpointed by another worker"
            )
            log.warning("Instance %s %s; its messages will be retried", instance_id, why)
            self._sessions.pop(instance_id, None)
            for msg in batch:
                await self._abandon_quietly(msg, 0)
        except Exception as exc:
            log.exception(
                "Processing instance %s failed; its messages will be retried", instance_id
            )
            self._sessions.pop(instance_id, None)
            for msg in batch:
                if msg.dequeue_count >= _POISON_DEQUEUE_COUNT:
                    reason = (
                        f"processing instance {instance_id} failed {msg.dequeue_count} times; "
                        f"last error: {type(exc).__name__}: {exc}"
                    )
                    await self._poison(msg, reason)
                else:
                    # An outage is not the message's fault: no back-off once storage is back.
                    delay = 0.0 if storage_unavailable(exc) else _abandon_delay(msg)
                    await self._abandon_quietly(msg, delay)

    async def _poison(self, msg: ReceivedMessage, reason: str) -> None:
        log.error(
            "Poison message %s in %s moved to %s: %s",
            msg.message_id,
            msg.queue,
            self._storage.names.poison_queue,
            reason,
        )
        await self._storage.move_to_poison(await stored_message(msg), reason)

    async def _session(self, instance_id: str) -> Session:
        session = self._sessions.get(instance_id)
        if session is None:
            loaded = await self._storage.load_history(instance_id)
            session = Session(
                instance_id=instance_id,
                execution_id=loaded.execution_id,
                history=list(loaded.events),
                etag=loaded.etag,
            )
            self._sessions[instance_id] = session
        session.last_used = time.monotonic()
        return session

    async def _process(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        if instance_id.startswith("@") and self._entity_processor is not None:
            # Entities share the control queues and this per-instance serialisation.
            await self._entity_processor(instance_id, batch)
            self.notifier.notify(instance_id)
            return
        session = await self._session(instance_id)
        about_instance(instance_id, session.execution_id)
        batch.sort(key=_arrival_order)
        triage = await self._triage(session, batch)
        log.debug(
            "Messages: %d accepted, %d dropped, %d put back for later, %d held (suspended)",
            len(triage.accept),
            len(triage.discard),
            len(triage.defer),
            len(triage.hold),
        )
        if session.status is None and not triage.accept:
            # Nothing started here: read the history again next time, a late first write of
            # another host may land meanwhile (the deferred results wait for it).
            self._sessions.pop(instance_id, None)
        for msg in triage.defer:
            if msg.dequeue_count >= _POISON_DEQUEUE_COUNT:
                await self._poison(
                    msg, f"deferred {msg.dequeue_count} times: its instance never expected it"
                )
            else:
                await self._abandon_quietly(msg, _abandon_delay(msg))
        for msg in triage.hold:
            # Suspended: look again soon, so a resume is not followed by a long wait.
            await self._abandon_quietly(msg, min(_abandon_delay(msg), _SUSPENDED_RECHECK_SECONDS))
        if not triage.accept:
            if triage.discard and session.status is not None:
                await self._repair_row(session)
            await self._delete_all(triage.discard)
            return
        consumed = [m for m, _ in triage.accept] + triage.discard
        events = [e for _, e in triage.accept]
        session.consumed = consumed
        about_instance(instance_id, _started_execution(events) or session.execution_id)
        log.debug("Episode starts: %s", ", ".join(e.event_type.dotnet_name for e in events))
        await self._runner.run(session, events, triage.restart)
        about_instance(instance_id, session.execution_id)  # a new one after continue-as-new
        if log.isEnabledFor(logging.DEBUG):  # status walks the history
            log.debug("Episode done: %s", session.status.name if session.status else "no status")
        await self._delete_all(session.consumed)
        session.consumed = []

    async def _repair_row(self, session: Session) -> None:
        """Bring the row up to the history once the last checkpoint's own write is done."""
        if session.finishing is not None:
            await asyncio.gather(session.finishing, return_exceptions=True)
        await self._runner.rows.repair(session, self._clock.now())

    async def _triage(self, session: Session, batch: list[ReceivedMessage]) -> _Triage:
        triage = _Triage()
        index: tuple[set[tuple[str, int]], set[tuple[str, int]]] | None = None
        replies: EntityReplies | None = None
        status = session.status
        execution = session.execution_id
        starting = False
        for msg in batch:
            assert msg.data is not None and msg.data.task_message is not None
            task_message = msg.data.task_message
            event = task_message.event
            target_execution = task_message.orchestration_instance.execution_id
            if isinstance(event, ExecutionStarted):
                if starting:
                    # Two starts in one batch (a parent that redid a lost checkpoint sends
                    # its child's start again): the first one runs, as if they had come apart.
                    log.warning(
                        "Ignoring a second start of instance %s in one batch", session.instance_id
                    )
                    triage.discard.append(msg)
                    continue
                verdict = await self._start_verdict(session, event, status, msg)
                if verdict == "accept":
                    triage.accept.append((msg, event))
                    triage.restart = event if session.history else None
                    starting = True
                    # The rest of the batch is for the new execution, whose history is empty.
                    status = OrchestrationStatus.Running
                    execution = event.orchestration_instance.execution_id
                    index = (set(), set())
                    replies = EntityReplies(set(), set())
                elif verdict == "defer":
                    triage.defer.append(msg)
                else:
                    triage.discard.append(msg)
                continue
            if status is None:
                if _may_precede_first_checkpoint(msg) and msg.dequeue_count <= _NOT_STARTED_TRIES:
                    # A result (or an entity's reply) sent by the instance's first episode can
                    # arrive before that episode's history write lands: a killed or stalled
                    # host still has it in flight. Once it lands, the start message is a
                    # duplicate and nothing is sent again, so dropping this would lose it.
                    triage.defer.append(msg)
                    continue
                log.info(
                    "Dropping %s for instance %s, which has not started",
                    event.event_type.dotnet_name,
                    session.instance_id,
                )
                triage.discard.append(msg)
                continue
            if status.is_terminal:
                if isinstance(event, ExecutionRewound) and status == OrchestrationStatus.Failed:
                    triage.accept.append((msg, event))
                else:
                    triage.discard.append(msg)
                continue
            if target_execution and execution and target_execution != execution:
                triage.discard.append(msg)
                continue
            if status == OrchestrationStatus.Suspended and not isinstance(
                event, _MANAGEMENT_EVENTS
            ):
                triage.hold.append(msg)
                continue
            if isinstance(event, RESULT_EVENTS):
                if index is None:
                    index = session.result_index()
                verdict = result_verdict(index, event)
                if verdict == "duplicate":
                    triage.discard.append(msg)
                    continue
                if verdict == "unknown":
                    triage.defer.append(msg)
                    continue
            if isinstance(event, EventRaised):
                if replies is None:
                    replies = session.entity_replies()
                from_entity = msg.data.sender.instance_id.startswith("@")
                if from_entity and event.name not in replies.calls:
                    # An entity's reply ahead of the EventSent of its call (the caller's
                    # checkpoint was lost in a crash and is being redone): the provider's
                    # out-of-order rule puts it back until the call is in the history.
                    triage.defer.append(msg)
                    continue
                if not replies.accept(event.name):
                    # A second reply to one entity call (the entity re-ran it after a crash).
                    triage.discard.append(msg)
                    continue
            if isinstance(event, TimerFired) and self._clock.seconds_until(event.fire_at) > 1.0:
                # A timer longer than the queue's visibility limit arrives early: hide it again.
                await self._abandon_quietly(msg, self._clock.seconds_until(event.fire_at))
                continue
            triage.accept.append((msg, event))
            if isinstance(event, ExecutionSuspended):
                status = OrchestrationStatus.Suspended
            elif isinstance(event, ExecutionResumed):
                status = OrchestrationStatus.Running
        return triage

    async def _start_verdict(
        self,
        session: Session,
        event: ExecutionStarted,
        status: OrchestrationStatus | None,
        msg: ReceivedMessage,
    ) -> str:
        """'accept', 'discard' or 'defer' an ExecutionStarted (docs/task-hub-layout.md §5.2)."""
        new_execution = event.orchestration_instance.execution_id
        if status is None:
            return "accept"
        if new_execution == session.execution_id:
            return "discard"  # a duplicate delivery of the start we already ran
        if not status.is_terminal:
            log.warning("Ignoring a second start of running instance %s", session.instance_id)
            return "discard"
        if event.parent_instance is not None:
            # A parent reusing a finished sub-orchestration's id: its new execution wins (no
            # client writes a Pending row for sub-orchestrations to check against).
            return "accept"
        # A restart (or start_new with an id that finished before): the Instances row names it.
        record = await self._storage.get_instance(session.instance_id)
        if record is not None and record.execution_id == new_execution:
            return "accept"
        # The client writes the row after sending the message; give it time, then give up.
        return "defer" if msg.dequeue_count < 10 else "discard"

    # -- episodes ---------------------------------------------------------------------------------

    # -- queue housekeeping ------------------------------------------------------------------

    async def _delete_all(self, messages: list[ReceivedMessage]) -> None:
        await self._runner.delete_all(messages)

    async def _abandon_quietly(self, msg: ReceivedMessage, delay: float) -> None:
        try:
            stored = await stored_message(msg)
        except Exception as exc:  # never stored: nothing to give back
            log.debug("Message %s was never stored: %s", msg.message_id, exc)
            return
        await self._returns.give_back(stored, delay)


# --------------------------------------------------------------------------- helpers


def _arrival_order(msg: ReceivedMessage) -> tuple[datetime, int]:
    inserted = msg.insertion_time or datetime.min.replace(tzinfo=None)
    if inserted.tzinfo is not None:
        inserted = inserted.replace(tzinfo=None)
    seq = msg.data.sequence_number if msg.data is not None else 0
    return inserted, seq


def _may_precede_first_checkpoint(msg: ReceivedMessage) -> bool:
    """A result of something the instance's first episode sent: an activity, timer or
    sub-orchestration result, or an entity's reply (the provider's out-of-order kinds)."""
    assert msg.data is not None and msg.data.task_message is not None
    event = msg.data.task_message.event
    if isinstance(event, RESULT_EVENTS):
        return True
    return isinstance(event, EventRaised) and msg.data.sender.instance_id.startswith("@")


def _started_execution(events: list[HistoryEvent]) -> str | None:
    """The execution a (re)start among the episode's events begins, if there is one."""
    started = next((e for e in events if isinstance(e, ExecutionStarted)), None)
    return started.orchestration_instance.execution_id if started is not None else None


def _abandon_delay(msg: ReceivedMessage) -> float:
    return float(min(2 ** max(msg.dequeue_count, 0), _MAX_ABANDON_SECONDS))


__all__ = ["EntityProcessor", "OrchestrationDispatcher"]
