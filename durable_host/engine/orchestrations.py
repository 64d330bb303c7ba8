"""The orchestration dispatcher: control-queue messages in, episodes run, checkpoints out.

Per control-queue partition one loop receives up to `batch_size` messages, groups
them per instance and hands each group to that instance's worker. An instance is
processed by one worker at a time; its history stays in memory between episodes
(an extended session) until it has been idle for `session_idle_timeout`.

Checkpoint order (task-hub-layout.md §0.3): outbound messages, then history
rows + sentinel (ETag-guarded), then the Instances row, then the consumed
messages are deleted. A crash between any two steps replays the episode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_host.engine.clock import Clock, sleep_or_wake
from durable_host.engine.replay import (
    Completion,
    Decision,
    EpisodeContext,
    Outbound,
    replay,
    replay_while_blocked,
)
from durable_host.engine.router import MessageRouter, stored_message
from durable_host.errors import CheckpointConflictError, FunctionNotFoundError
from durable_host.taskhub.codec import event_to_json
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
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
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

log = logging.getLogger("durable_host.orchestrations")

_RESULT_EVENTS = (
    TaskCompleted,
    TaskFailed,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    TimerFired,
)
_MANAGEMENT_EVENTS = (ExecutionTerminated, ExecutionSuspended, ExecutionResumed, ExecutionRewound)
# How long to hide a message that cannot be processed yet (suspended instance, result ahead of
# its scheduling event): 2^dequeue_count seconds, capped, as the provider abandons messages.
_MAX_ABANDON_SECONDS = 600.0
_POISON_DEQUEUE_COUNT = 20
# A body that does not decode may still be read by another host (a newer version sharing the
# hub), so it gets a few tries too, but fewer: on this host it will never decode.
_POISON_UNDECODABLE_DEQUEUE_COUNT = 3
_SUSPENDED_RECHECK_SECONDS = 5.0

EntityProcessor = Callable[[str, list[ReceivedMessage]], Awaitable[None]]
"""(entity instance id "@name@key", its received messages) -> processes and checkpoints them."""

OrchestratorRunner = Callable[[str, str], Awaitable[tuple[dict[str, Any] | None, str | None]]]
"""(orchestrator name, context JSON) -> (SDK OrchestratorState or None, error text or None)."""


@dataclass
class Session:
    """An instance's current execution, as stored (plus the sentinel ETag)."""

    instance_id: str
    execution_id: str | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    etag: str | None = None
    last_used: float = field(default_factory=time.monotonic)
    consumed: list[ReceivedMessage] = field(default_factory=list)
    # The background end of the last checkpoint (Instances row, message deletes).
    finishing: asyncio.Task[None] | None = field(default=None, repr=False)
    # The SDK-form JSON of `history`, built once per event rather than once per episode.
    # The orchestrator's last OrchestratorState for this execution (see replay_while_blocked).
    last_state: dict[str, Any] | None = field(default=None, repr=False)
    _json: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _json_of: list[HistoryEvent] | None = field(default=None, repr=False)

    def played_json(self) -> list[dict[str, Any]]:
        """`history` as the SDK receives it on replay: every event IsPlayed except
        OrchestratorStarted (DTFx leaves that one false)."""
        if self._json_of is not self.history:
            self._json, self._json_of = [], self.history
        for event in self.history[len(self._json) :]:
            data = event_to_json(event, with_type=False)
            if not isinstance(event, OrchestratorStarted):
                data["IsPlayed"] = True
            self._json.append(data)
        return list(self._json)

    def result_index(self) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        """(scheduled tasks, applied results) as keys like ("task", 3)."""
        scheduled: set[tuple[str, int]] = set()
        applied: set[tuple[str, int]] = set()
        for event in self.history:
            if isinstance(event, TaskScheduled):
                scheduled.add(("task", event.event_id))
            elif isinstance(event, TimerCreated):
                scheduled.add(("timer", event.event_id))
            elif isinstance(event, SubOrchestrationInstanceCreated):
                scheduled.add(("sub", event.event_id))
            elif isinstance(event, _RESULT_EVENTS):
                applied.add(_result_key(event))
        return scheduled, applied

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


@dataclass
class _Triage:
    accept: list[tuple[ReceivedMessage, HistoryEvent]] = field(default_factory=list)
    discard: list[ReceivedMessage] = field(default_factory=list)
    defer: list[ReceivedMessage] = field(default_factory=list)
    hold: list[ReceivedMessage] = field(default_factory=list)
    restart: ExecutionStarted | None = None


class InstanceNotifier:
    """Wakes waiters (the client's wait_for_completion) when this host checkpoints an instance."""

    def __init__(self) -> None:
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def notify(self, instance_id: str) -> None:
        for waiter in self._waiters.pop(instance_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def register(self, instance_id: str) -> asyncio.Future[None]:
        """A future resolved at this instance's next checkpoint (register before reading)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(instance_id, []).append(waiter)
        return waiter

    async def wait(self, instance_id: str, waiter: asyncio.Future[None], timeout: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(instance_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[instance_id]


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
    ) -> None:
        self._storage = storage
        self._entity_processor = entity_processor
        self._router = router
        self._run = run_orchestrator
        self._clock = clock
        self._hub_name = hub_name
        self._partitions = partitions
        self._batch_size = batch_size
        self._visibility = visibility_timeout
        self._max_poll = max_poll_interval
        self._slots = asyncio.Semaphore(max_concurrent)
        self._session_idle = session_idle_timeout
        self._known_activity = known_activity
        self.notifier = notifier or InstanceNotifier()
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, list[ReceivedMessage]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._loops_by_partition: dict[int, asyncio.Task[None]] = {}
        self._max_buffered = max(2000, 40 * batch_size)
        router.control_accepts = self.accepts_more
        self._finishing: set[asyncio.Task[None]] = set()
        self._partition_stops: dict[int, asyncio.Event] = {}
        self._stopping = asyncio.Event()
        self.episodes_run = 0
        self.episodes_skipped = 0

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
        return not self._workers and not self._pending and not (settled and self._finishing)

    async def _wait_finishing(self) -> None:
        if self._finishing:
            await asyncio.gather(*list(self._finishing), return_exceptions=True)

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
        except CheckpointConflictError:
            log.warning(
                "Instance %s was checkpointed by another worker; its messages will be retried",
                instance_id,
            )
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
                    await self._abandon_quietly(msg, _abandon_delay(msg))

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
        batch.sort(key=_arrival_order)
        triage = await self._triage(session, batch)
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
            if triage.discard and session.status is not None and session.status.is_terminal:
                await self._repair_terminal_row(session)
            await self._delete_all(triage.discard)
            return
        consumed = [m for m, _ in triage.accept] + triage.discard
        events = [e for _, e in triage.accept]
        session.consumed = consumed
        await self._run_work_item(session, events, triage.restart)
        await self._delete_all(session.consumed)
        session.consumed = []

    async def _repair_terminal_row(self, session: Session) -> None:
        """Make the Instances row say what the history says: finished.

        A crash after the final history write but before the row's merge leaves the row
        Running; the episode's messages then come back and are discarded (the history is
        terminal), so without this nothing would ever finish the row.
        """
        if session.finishing is not None:
            await asyncio.gather(session.finishing, return_exceptions=True)
        completed = next(
            (e for e in reversed(session.history) if isinstance(e, ExecutionCompleted)), None
        )
        started = session.started
        if completed is None or started is None:
            return
        record = await self._storage.get_instance(session.instance_id)
        if (
            record is not None
            and record.runtime_status == completed.orchestration_status
            and record.execution_id == session.execution_id
        ):
            return
        log.warning(
            "Instance %s finished but its Instances row says %s; writing its final status",
            session.instance_id,
            record.runtime_status.name if record is not None else "nothing",
        )
        completion = Completion(
            completed.orchestration_status, completed.result, completed.failure_details
        )
        fields = self._instance_fields(
            session, started, session.history, completion, None, completed.timestamp, False
        )
        del fields["custom_status"]  # not in the history: leave whatever the row has
        await self._storage.merge_instance(session.instance_id, fields)

    async def _triage(self, session: Session, batch: list[ReceivedMessage]) -> _Triage:
        triage = _Triage()
        index: tuple[set[tuple[str, int]], set[tuple[str, int]]] | None = None
        status = session.status
        starting = False
        for msg in batch:
            assert msg.data is not None and msg.data.task_message is not None
            task_message = msg.data.task_message
            event = task_message.event
            target_execution = task_message.orchestration_instance.execution_id
            if isinstance(event, ExecutionStarted):
                verdict = await self._start_verdict(session, event, status, msg)
                if verdict == "accept":
                    triage.accept.append((msg, event))
                    triage.restart = event if session.history else None
                    starting = True
                elif verdict == "defer":
                    triage.defer.append(msg)
                else:
                    triage.discard.append(msg)
                continue
            if status is None and not starting:
                log.info(
                    "Dropping %s for instance %s, which has not started",
                    event.event_type.dotnet_name,
                    session.instance_id,
                )
                triage.discard.append(msg)
                continue
            if status is not None and status.is_terminal and not starting:
                if isinstance(event, ExecutionRewound) and status == OrchestrationStatus.Failed:
                    triage.accept.append((msg, event))
                else:
                    triage.discard.append(msg)
                continue
            if (
                target_execution
                and session.execution_id
                and target_execution != session.execution_id
                and not starting
            ):
                triage.discard.append(msg)
                continue
            if status == OrchestrationStatus.Suspended and not isinstance(
                event, _MANAGEMENT_EVENTS
            ):
                triage.hold.append(msg)
                continue
            if isinstance(event, _RESULT_EVENTS) and not starting:
                if index is None:
                    index = session.result_index()
                verdict = _result_verdict(index, event)
                if verdict == "duplicate":
                    triage.discard.append(msg)
                    continue
                if verdict == "unknown":
                    triage.defer.append(msg)
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
        """'accept', 'discard' or 'defer' an ExecutionStarted (task-hub-layout.md §5.2)."""
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

    async def _run_work_item(
        self, session: Session, events: list[HistoryEvent], restart: ExecutionStarted | None
    ) -> None:
        if restart is not None:
            session.history = []
            session.execution_id = None
            session.last_state = None
        start_index = len(session.history)
        now = self._clock.now()
        new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now)]
        outbound: list[Outbound] = []
        completion: Completion | None = None
        custom_status: str | None = None
        for event in events:
            if isinstance(event, ExecutionStarted):
                session.execution_id = event.orchestration_instance.execution_id
            new_events.append(event)
        terminated = next((e for e in events if isinstance(e, ExecutionTerminated)), None)
        rewound = next((e for e in events if isinstance(e, ExecutionRewound)), None)
        suspended_now = _suspended_after(session.history + new_events)
        started = _find_started(session.history + new_events)
        if started is None:
            log.warning("Instance %s has no ExecutionStarted; dropping", session.instance_id)
            return
        if rewound is not None:
            await self._rewind(session, rewound, now)
            return
        if terminated is not None:
            completion = Completion(OrchestrationStatus.Terminated, result=terminated.input)
        elif not suspended_now:
            decision = await self._episode(session, started, new_events, now)
            completion = decision.completion
            custom_status = decision.custom_status
            outbound = decision.outbound
            new_events.extend(decision.new_events)
            if completion is not None and completion.status == OrchestrationStatus.ContinuedAsNew:
                await self._continue_as_new(
                    session, started, new_events, decision, start_index, now
                )
                return
        episode = session.episode_count() + 1
        if completion is not None:
            new_events.append(
                ExecutionCompleted(
                    timestamp=now,
                    orchestration_status=completion.status,
                    result=completion.result,
                    failure_details=completion.failure_details,
                )
            )
            outbound.extend(self._parent_notification(session, started, completion, now))
        new_events.append(OrchestratorCompleted(timestamp=now))
        await self._checkpoint(
            session,
            started,
            outbound,
            new_events,
            start_index,
            completion,
            custom_status,
            now,
            episode,
            suspended=suspended_now and completion is None,
        )

    async def _episode(
        self,
        session: Session,
        started: ExecutionStarted,
        new_events: list[HistoryEvent],
        now: datetime,
    ) -> Decision:
        history = session.history + new_events
        assert session.execution_id is not None
        ctx = EpisodeContext(
            instance_id=session.instance_id,
            execution_id=session.execution_id,
            orchestrator_name=started.name,
            now=now,
        )
        if session.last_state is not None and session.history:
            unchanged = replay_while_blocked(ctx, history, session.last_state)
            if unchanged is not None:
                self.episodes_skipped += 1
                return unchanged
        history_json = session.played_json() + [
            event_to_json(e, with_type=False) for e in new_events
        ]
        context_json = build_context_json(
            session.instance_id, history_json, started, is_replaying=bool(session.history)
        )
        try:
            state, error = await self._run(started.name, context_json)
        except FunctionNotFoundError:
            # Retrying cannot help: fail the instance, as the extension does for a start
            # (or a sub-orchestration call) naming an orchestrator the app does not have.
            state, error = (
                None,
                f"The function '{started.name}' doesn't exist, is disabled, or is not an "
                "orchestrator function. Additional info: check the name passed to start_new or "
                "call_sub_orchestrator against the app's @app.orchestration_trigger functions.",
            )
        self.episodes_run += 1
        session.last_state = state if error is None else None
        decision = replay(ctx, history, state, error)
        unknown = self._unknown_activities(decision)
        if unknown and decision.completion is None:
            message = (
                f"The function '{unknown}' doesn't exist, is disabled, or is not an activity "
                "function. Additional info: check the name passed to context.call_activity "
                "against the app's @app.activity_trigger functions."
            )
            failed = replay(ctx, history, None, message)
            failed.custom_status = decision.custom_status
            return failed
        return decision

    def _unknown_activities(self, decision: Decision) -> str | None:
        if self._known_activity is None:
            return None
        for event in decision.new_events:
            if isinstance(event, TaskScheduled) and not self._known_activity(event.name):
                return event.name
        return None

    async def _continue_as_new(
        self,
        session: Session,
        started: ExecutionStarted,
        old_new_events: list[HistoryEvent],
        decision: Decision,
        start_index: int,
        now: datetime,
    ) -> None:
        """Send the old generation's messages, then run the next generation in this work item
        (as DTFx does); only the newest generation's history is written, from row 0."""
        while True:
            sender = OrchestrationInstance(session.instance_id, session.execution_id)
            await self._send_all(decision.outbound, sender, session.episode_count() + 1)
            new_execution = uuid.uuid4().hex
            started = ExecutionStarted(
                timestamp=now,
                orchestration_instance=OrchestrationInstance(session.instance_id, new_execution),
                name=started.name,
                version=started.version,
                input=decision.continue_as_new_input,
                parent_instance=started.parent_instance,
                tags=started.tags,
                generation=started.generation + 1,
            )
            carried: list[HistoryEvent] = list(decision.unconsumed_events)
            session.history = []
            session.execution_id = new_execution
            new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now), started, *carried]
            decision = await self._episode(session, started, new_events, now)
            new_events.extend(decision.new_events)
            completion = decision.completion
            if completion is None or completion.status != OrchestrationStatus.ContinuedAsNew:
                break
            await asyncio.sleep(0)
        outbound = list(decision.outbound)
        if completion is not None:
            new_events.append(
                ExecutionCompleted(
                    timestamp=now,
                    orchestration_status=completion.status,
                    result=completion.result,
                    failure_details=completion.failure_details,
                )
            )
            outbound.extend(self._parent_notification(session, started, completion, now))
        new_events.append(OrchestratorCompleted(timestamp=now))
        await self._checkpoint(
            session,
            started,
            outbound,
            new_events,
            0,
            completion,
            decision.custom_status,
            now,
            1,
            suspended=False,
            new_generation=True,
        )

    def _parent_notification(
        self,
        session: Session,
        started: ExecutionStarted,
        completion: Completion,
        now: datetime,
    ) -> list[Outbound]:
        parent = started.parent_instance
        if parent is None:
            return []
        event: HistoryEvent
        if completion.status == OrchestrationStatus.Completed:
            event = SubOrchestrationInstanceCompleted(
                timestamp=now, task_scheduled_id=parent.task_schedule_id, result=completion.result
            )
        elif completion.status in (OrchestrationStatus.Failed, OrchestrationStatus.Terminated):
            details = completion.failure_details
            event = SubOrchestrationInstanceFailed(
                timestamp=now,
                task_scheduled_id=parent.task_schedule_id,
                reason=completion.result,
                details=details.error_message if details else None,
                failure_details=details,
            )
        else:
            return []
        return [Outbound(target=parent.orchestration_instance, event=event)]

    async def _rewind(self, session: Session, rewound: ExecutionRewound, now: datetime) -> None:
        """Drop the failures from the history so the failed tasks run again, then resume."""
        failed_ids = {
            e.task_scheduled_id
            for e in session.history
            if isinstance(e, (TaskFailed, SubOrchestrationInstanceFailed))
        }
        kept = [
            e
            for e in session.history
            if not isinstance(e, (TaskFailed, SubOrchestrationInstanceFailed, ExecutionCompleted))
            and not (
                isinstance(e, (TaskScheduled, SubOrchestrationInstanceCreated))
                and e.event_id in failed_ids
            )
        ]
        started = _find_started(kept)
        assert started is not None and session.execution_id is not None
        session.history = kept
        session.last_state = None
        new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now), rewound]
        decision = await self._episode(session, started, new_events, now)
        new_events.extend(decision.new_events)
        outbound = list(decision.outbound)
        if decision.completion is not None:
            new_events.append(
                ExecutionCompleted(
                    timestamp=now,
                    orchestration_status=decision.completion.status,
                    result=decision.completion.result,
                    failure_details=decision.completion.failure_details,
                )
            )
            outbound.extend(self._parent_notification(session, started, decision.completion, now))
        new_events.append(OrchestratorCompleted(timestamp=now))
        # The rewritten history replaces the old rows from index 0.
        await self._checkpoint(
            session,
            started,
            outbound,
            kept + new_events,
            0,
            decision.completion,
            decision.custom_status,
            now,
            session.episode_count() + 1,
            suspended=False,
            replace_history=True,
        )

    # -- checkpoint -------------------------------------------------------------------------------

    async def _send_all(
        self, outbound: list[Outbound], sender: OrchestrationInstance, episode: int
    ) -> None:
        sends: list[Awaitable[object]] = []
        for item in outbound:
            if item.to_work_items:
                sends.append(
                    self._router.send_work_item(
                        item.target, item.event, sender=sender, episode=episode
                    )
                )
            else:
                sends.append(
                    self._router.send_to_instance(
                        item.target,
                        item.event,
                        visible_at=item.visible_at,
                        sender=sender,
                        episode=episode,
                    )
                )
        if sends:
            await asyncio.gather(*sends)

    async def _checkpoint(
        self,
        session: Session,
        started: ExecutionStarted,
        outbound: list[Outbound],
        new_events: list[HistoryEvent],
        start_index: int,
        completion: Completion | None,
        custom_status: str | None,
        now: datetime,
        episode: int,
        *,
        suspended: bool,
        new_generation: bool = False,
        replace_history: bool = False,
    ) -> None:
        assert session.execution_id is not None
        sender = OrchestrationInstance(session.instance_id, session.execution_id)
        await self._send_all(outbound, sender, episode)
        session.etag = await self._storage.append_history(
            session.instance_id,
            session.execution_id,
            start_index=start_index,
            events=new_events,
            etag=session.etag,
        )
        if new_generation or replace_history:
            session.history = list(new_events)
        else:
            session.history.extend(new_events)
        fields = self._instance_fields(
            session, started, new_events, completion, custom_status, now, suspended
        )
        consumed, session.consumed = session.consumed, []
        # The rest of the checkpoint (Instances row, then nothing depends on it, and the
        # consumed messages) runs in the background, so the instance's next episode can start
        # as soon as its history is written. Row writes stay in order: each waits for the one
        # before; a crash before they finish replays the episode's messages as duplicates.
        finishing = asyncio.create_task(
            self._finish_checkpoint(
                session.finishing, session.instance_id, fields, consumed, completion is not None
            )
        )
        session.finishing = finishing
        self._finishing.add(finishing)
        finishing.add_done_callback(self._finishing.discard)

    async def _finish_checkpoint(
        self,
        previous: asyncio.Task[None] | None,
        instance_id: str,
        fields: dict[str, Any],
        consumed: list[ReceivedMessage],
        terminal: bool,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await self._storage.merge_instance(instance_id, fields)
            # Only once the row is written: a crash in between then replays the messages,
            # which repair a finished instance's row (see _repair_terminal_row).
            await self._delete_all(consumed)
        except Exception:
            log.exception(
                "Finishing a checkpoint of instance %s failed; the next checkpoint rewrites its "
                "status and its messages will be dropped as duplicates",
                instance_id,
            )
        if terminal:
            self.notifier.notify(instance_id)

    def _instance_fields(
        self,
        session: Session,
        started: ExecutionStarted,
        new_events: list[HistoryEvent],
        completion: Completion | None,
        custom_status: str | None,
        now: datetime,
        suspended: bool,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "custom_status": custom_status,
            "execution_id": session.execution_id,
            "last_updated_time": now,
            "task_hub_name": self._hub_name,
        }
        if any(isinstance(e, ExecutionStarted) for e in new_events):
            fields.update(
                name=started.name,
                version=started.version or "",
                input=started.input if started.input is not None else "null",
                created_time=started.timestamp,
                generation=started.generation,
            )
        if completion is not None:
            fields.update(
                runtime_status=completion.status,
                completed_time=now,
                output=completion.result if completion.result is not None else "null",
            )
        elif suspended:
            fields["runtime_status"] = OrchestrationStatus.Suspended
        else:
            fields["runtime_status"] = OrchestrationStatus.Running
        return fields

    # -- queue housekeeping ------------------------------------------------------------------

    async def _delete_all(self, messages: list[ReceivedMessage]) -> None:
        if messages:
            await asyncio.gather(*(self._delete(m) for m in messages))

    async def _delete(self, msg: ReceivedMessage) -> None:
        await self._storage.delete_message(await stored_message(msg))

    async def _abandon_quietly(self, msg: ReceivedMessage, delay: float) -> None:
        try:
            await self._storage.abandon_message(await stored_message(msg), delay=delay)
        except Exception as exc:  # the message reappears after its visibility timeout anyway
            log.debug("Abandoning message %s failed: %s", msg.message_id, exc)


# --------------------------------------------------------------------------- helpers


def build_context_json(
    instance_id: str,
    history_json: list[dict[str, Any]],
    started: ExecutionStarted,
    *,
    is_replaying: bool,
) -> str:
    """The orchestration trigger payload (out-of-proc-protocol.md §1.1)."""
    parent = started.parent_instance
    payload = {
        "history": history_json,
        "input": _parse_json_or_none(started.input),
        "instanceId": instance_id,
        "isReplaying": is_replaying,
        "parentInstanceId": parent.orchestration_instance.instance_id if parent else None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        "longRunningTimerIntervalDuration": "3.00:00:00",
        "maximumShortTimerDuration": "6.00:00:00",
        "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
    }
    return json.dumps(payload, ensure_ascii=False)


def _parse_json_or_none(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _find_started(history: list[HistoryEvent]) -> ExecutionStarted | None:
    for event in history:
        if isinstance(event, ExecutionStarted):
            return event
    return None


def _suspended_after(history: list[HistoryEvent]) -> bool:
    suspended = False
    for event in history:
        if isinstance(event, ExecutionSuspended):
            suspended = True
        elif isinstance(event, ExecutionResumed):
            suspended = False
    return suspended


def _result_verdict(
    index: tuple[set[tuple[str, int]], set[tuple[str, int]]], event: HistoryEvent
) -> str:
    """'ok', 'duplicate' (already applied) or 'unknown' (its scheduling event is not in history).

    An accepted result is added to the index, so a copy later in the same batch is a duplicate.
    """
    scheduled, applied = index
    key = _result_key(event)
    if key not in scheduled:
        return "unknown"
    if key in applied:
        return "duplicate"
    applied.add(key)
    return "ok"


def _result_key(event: HistoryEvent) -> tuple[str, int]:
    if isinstance(event, TimerFired):
        return ("timer", event.timer_id)
    if isinstance(event, (TaskCompleted, TaskFailed)):
        return ("task", event.task_scheduled_id)
    assert isinstance(event, (SubOrchestrationInstanceCompleted, SubOrchestrationInstanceFailed))
    return ("sub", event.task_scheduled_id)


def _arrival_order(msg: ReceivedMessage) -> tuple[datetime, int]:
    inserted = msg.insertion_time or datetime.min.replace(tzinfo=None)
    if inserted.tzinfo is not None:
        inserted = inserted.replace(tzinfo=None)
    seq = msg.data.sequence_number if msg.data is not None else 0
    return inserted, seq


def _abandon_delay(msg: ReceivedMessage) -> float:
    return float(min(2 ** max(msg.dequeue_count, 0), _MAX_ABANDON_SECONDS))


__all__ = ["InstanceNotifier", "OrchestrationDispatcher", "Session", "build_context_json"]
