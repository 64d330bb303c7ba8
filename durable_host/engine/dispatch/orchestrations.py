"""The orchestration dispatcher: control-queue messages in, episodes run, checkpoints out.

Per control-queue partition one loop receives up to `batch_size` messages, groups
them per instance and hands each group to that instance's worker. An instance is
processed by one worker at a time; its history stays in memory between episodes
(an extended session) until it has been idle for `session_idle_timeout`.

It triages each batch (triage.py) and hands the accepted events, with a Checkpoint
owning the consumed messages (checkpoint.py), to the WorkItemRunner (work_items.py),
which runs the episode and commits the checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from durable_host.engine.dispatch.checkpoint import Checkpoints
from durable_host.engine.dispatch.instance_workers import InstanceWorkers
from durable_host.engine.dispatch.queue_consumer import (
    QueueConsumer,
    QueueSettings,
    abandon_delay,
    arrival_order,
)
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.dispatch.sessions import Session, SessionCache
from durable_host.engine.dispatch.triage import Triage, needs_row_execution, triage
from durable_host.engine.dispatch.work_items import WorkItemRunner
from durable_host.engine.log_context import about_instance
from durable_host.engine.time.clock import Clock, sleep_or_wake
from durable_host.errors import CheckpointConflictError, LeaseLapsingError
from durable_host.taskhub.events import ExecutionStarted, HistoryEvent
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

log = logging.getLogger("durable_host.orchestrations")

# A suspended instance's messages are looked at again this soon (at the latest), so a resume
# is not followed by a long wait.
_SUSPENDED_RECHECK_SECONDS = 5.0

EntityBatchHandler = Callable[[str, list[ReceivedMessage]], Awaitable[None]]
"""(entity instance id "@name@key", its received messages) -> processes and checkpoints them."""


class OrchestrationDispatcher(QueueConsumer):
    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        router: MessageRouter,
        runner: WorkItemRunner,
        checkpoints: Checkpoints,
        sessions: SessionCache,
        clock: Clock,
        partitions: list[int],
        batch_size: int = 32,
        queue: QueueSettings = QueueSettings(),
        max_concurrent: int = 100,
        session_idle_timeout: float = 30.0,
        entity_processor: EntityBatchHandler | None = None,
        max_buffered: int | None = None,
    ) -> None:
        super().__init__(storage, queue, log)
        self._entity_processor = entity_processor
        self._router = router
        self._clock = clock
        self._partitions = partitions
        self._batch_size = batch_size
        self._session_idle = session_idle_timeout
        self._runner = runner
        # Shared with the entity processor: one checkpoint path, one cache of sessions.
        self._checkpoints = checkpoints
        self.notifier = checkpoints.notifier
        self._sessions = sessions
        self._loops_by_partition: dict[int, asyncio.Task[None]] = {}
        self._max_buffered = max(2000, 40 * batch_size) if max_buffered is None else max_buffered
        self._partition_stops: dict[int, asyncio.Event] = {}
        self._stopping = asyncio.Event()
        self._workers = InstanceWorkers(
            self._process_safely, max_concurrent=max_concurrent, stopping=self._stopping
        )
        self._pending = self._workers.pending

    @property
    def episodes_run(self) -> int:
        return self._runner.episodes_run

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
            partition,
            self._deliver_local,
            accepts=self.accepts_more,
            visibility_timeout=self._visibility,
        )
        self._loops_by_partition[partition] = asyncio.create_task(self._partition_loop(partition))
        log.info("Processing control queue %02d", partition)

    async def release(self, partition: int) -> None:
        """Stop processing a control queue: drain its running episodes, abandon the rest."""
        loop = self._loops_by_partition.pop(partition, None)
        if loop is None:
            return
        self._router.deliver_control_locally(partition, None)
        self._partition_stops[partition].set()
        self._router.control_wakeups[partition].set()
        await asyncio.gather(loop, return_exceptions=True)

        def ours(instance_id: str) -> bool:
            return self._router.partition_of(instance_id) == partition

        mine = [i for i in list(self._workers.running) if ours(i)]
        for instance_id in mine:
            await self._abandon_waiting(instance_id)
        await self._workers.wait(mine)
        for instance_id in [i for i in self._pending if ours(i)]:
            await self._abandon_waiting(instance_id)
        await self._checkpoints.wait_finishing()
        # Another worker may write these instances now: never trust the cached copies again
        # (an entity's either: its checkpoint's ETag check would fail, but only after its
        # replies were sent from the stale state).
        self._sessions.forget(ours)
        self._checkpoints.rows.known.forget_where(ours)
        log.info("Released control queue %02d", partition)

    async def stop(self) -> None:
        """Stop receiving; let running episodes finish; unprocessed messages reappear later."""
        self._stopping.set()
        for partition in list(self._loops_by_partition):
            await self.release(partition)
        await self._workers.wait()
        await self._checkpoints.wait_finishing()
        for instance_id in list(self._pending):
            await self._abandon_waiting(instance_id)
        await self._stop_abandoning()

    async def _abandon_waiting(self, instance_id: str) -> None:
        """Abandon an instance's waiting messages, visible in their queue at once."""
        for msg in self._pending.pop(instance_id, []):
            await self._abandon(msg, 0)

    # -- receiving --------------------------------------------------------------------------------

    async def _partition_loop(self, partition: int) -> None:
        async def receive() -> list[ReceivedMessage]:
            return await self._storage.receive_control(
                partition, max_messages=self._batch_size, visibility_timeout=self._visibility
            )

        await self._poll(
            self._storage.names.control_queue(partition),
            receive,
            self._route_all,
            wake=self._router.control_wakeups[partition],
            stop=self._partition_stops[partition],
        )

    async def _wait_for_room(self, wake: asyncio.Event) -> bool:
        if self.accepts_more():
            return True
        # Back-pressure: let the workers drain before taking more.
        await sleep_or_wake(wake, 0.05)
        return False

    def _on_idle(self) -> None:
        self._sessions.evict_idle(self._session_idle, busy=self._workers.running)

    def expect_new(self, instance_id: str) -> None:
        """The instance's start, under an id made here, is about to be handed to this host:
        its first episode reads no history (there is none), if this host runs it."""
        if self._router.partition_of(instance_id) in self._loops_by_partition:
            self._sessions.expect_new(instance_id)

    def forget_session(self, instance_id: str) -> None:
        """Drop the instance's cached session (it was purged): the next batch reads storage."""
        self._sessions.pop(instance_id, None)

    def accepts_more(self) -> bool:
        """Whether this host takes more control messages into memory (back-pressure)."""
        return self._workers.buffered() < self._max_buffered

    def is_idle(self, settled: bool = True) -> bool:
        """No instance has messages waiting or an episode running on this host (and, when
        `settled`, no checkpoint is still writing its Instances row)."""
        finishing = settled and self._checkpoints.finishing
        return self._workers.idle and not finishing

    def _deliver_local(self, msg: ReceivedMessage) -> None:
        """A received message, or one this host just sent to one of its own partitions
        (already invisible): to its instance's worker."""
        assert msg.data is not None and msg.data.task_message is not None
        self._workers.add(msg.data.task_message.orchestration_instance.instance_id, msg)

    async def _route_all(self, messages: list[ReceivedMessage]) -> None:
        for msg in messages:
            if not await self._settle_unreadable(msg):
                self._deliver_local(msg)

    async def _process_safely(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        try:
            await self._process(instance_id, batch)
        except Exception as exc:
            if isinstance(exc, LeaseLapsingError):
                log.warning("Instance %s %s; its messages will be retried", instance_id, exc)
            elif isinstance(exc, CheckpointConflictError):
                log.warning(
                    "Instance %s was checkpointed by another worker; its messages will be retried",
                    instance_id,
                )
            else:
                log.exception(
                    "Processing instance %s failed; its messages will be retried", instance_id
                )
            self._sessions.pop(instance_id, None)
            await self._abandon_failed(batch, exc, f"processing instance {instance_id}")

    async def _process(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        if instance_id.startswith("@") and self._entity_processor is not None:
            # Entities share the control queues and this per-instance serialisation.
            await self._entity_processor(instance_id, batch)
            self.notifier.notify(instance_id)
            return
        session = await self._sessions.load(self._storage, instance_id)
        if _names_another_execution(session, batch):
            # Maybe a newer execution another host wrote: not to be judged stale by this copy.
            self._sessions.pop(instance_id, None)
            session = await self._sessions.load(self._storage, instance_id)
        about_instance(instance_id, session.execution_id)
        batch.sort(key=arrival_order)
        sorted_out = await self._triage(session, batch)
        log.debug(
            "Messages: %d accepted, %d dropped, %d abandoned for later, %d held (suspended)",
            len(sorted_out.accept),
            len(sorted_out.discard),
            len(sorted_out.defer) + len(sorted_out.hide),
            len(sorted_out.hold),
        )
        if session.status is None and not sorted_out.accept:
            # Nothing started here: read the history again next time, a late first write of
            # another host may land meanwhile (the deferred results wait for it).
            self._sessions.pop(instance_id, None)
        await self._abandon_unaccepted(sorted_out)
        if not sorted_out.accept:
            if sorted_out.discard and session.status is not None:
                await self._repair_row(session)
            await self._checkpoints.delete(sorted_out.discard)
            return
        events = sorted_out.events
        about_instance(instance_id, _started_execution(events) or session.execution_id)
        if log.isEnabledFor(logging.DEBUG):  # the event list is built only for --verbose
            log.debug("Episode starts: %s", ", ".join(e.event_type.dotnet_name for e in events))
        checkpoint = self._checkpoints.begin(sorted_out.consumed)
        await self._runner.run(session, events, sorted_out.restart, checkpoint)
        about_instance(instance_id, session.execution_id)  # a new one after continue-as-new
        if log.isEnabledFor(logging.DEBUG):  # status walks the history
            log.debug("Episode done: %s", session.status.name if session.status else "no status")

    async def _abandon_unaccepted(self, sorted_out: Triage) -> None:
        for msg, seconds in sorted_out.hide:
            # A timer longer than the queue's visibility limit arrives early: hide it again.
            await self._abandon(msg, seconds)
        for msg in sorted_out.defer:
            await self._abandon_later(msg, "its instance never expected it: deferred")
        for msg in sorted_out.hold:
            # Suspended: look again soon, so a resume is not followed by a long wait.
            await self._abandon(msg, min(abandon_delay(msg), _SUSPENDED_RECHECK_SECONDS))

    async def _triage(self, session: Session, batch: list[ReceivedMessage]) -> Triage:
        """Read what the pure triage needs from storage (a restart's Instances row), then sort."""
        row_execution_id: str | None = None
        if needs_row_execution(session, batch):
            record = await self._storage.get_instance(session.instance_id)
            row_execution_id = record.execution_id if record is not None else None
        return triage(session, batch, now=self._clock.now(), row_execution_id=row_execution_id)

    async def _repair_row(self, session: Session) -> None:
        """Bring the row up to the history once the last checkpoint's own write is done."""
        await session.finished()
        await self._runner.repair_row(session, self._clock.now())
        self.notifier.notify(session.instance_id)  # the row may read ended only now


def _names_another_execution(session: Session, batch: list[ReceivedMessage]) -> bool:
    """A message (other than a start, which names the execution it begins) for an execution
    other than the session's. Dropped as stale against a cached copy that another host's
    continue-as-new has outdated, such a message would leave the instance waiting for ever."""
    if session.execution_id is None:
        return False
    for msg in batch:
        task = msg.data.task_message if msg.data is not None else None
        if task is None or isinstance(task.event, ExecutionStarted):
            continue
        target = task.orchestration_instance.execution_id
        if target and target != session.execution_id:
            return True
    return False


def _started_execution(events: list[HistoryEvent]) -> str | None:
    """The execution a (re)start among the episode's events begins, if there is one."""
    started = next((e for e in events if isinstance(e, ExecutionStarted)), None)
    return started.orchestration_instance.execution_id if started is not None else None


__all__ = ["EntityBatchHandler", "OrchestrationDispatcher"]
