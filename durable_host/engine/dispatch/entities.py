"""The entity processor: runs a batch of operations on one `@name@key` entity and checkpoints it.

The orchestration dispatcher hands every message for an entity instance here,
one batch at a time per entity. A batch is processed as the extension's entity
scheduler does (docs/task-hub-layout.md §6):

1. the operations (`op` EventRaised messages) are taken in arrival order through the
   entity's sorter, which delivers each sender's requests in the order they were sent
   (entity_batches.py); a scheduled one (`op@<time>`) not due yet is hidden again; those
   delivered join the entity's queue, which runs as the extension's does (entity_queue.py:
   requests wait while another orchestration holds the entity's lock or it is suspended;
   lock requests are granted after the batch's operations);
2. the app's entity function runs the delivered ones in one invocation through the SDK;
3. checkpoint, as a continue-as-new under a new ExecutionId, in the provider's
   order: responses to callers, then history rows 0-2 (OrchestratorStarted,
   ExecutionStarted whose Input is the SchedulerState, with the sorter and the
   requests it holds back, OrchestratorCompleted) + sentinel with the ETag guard,
   then the Instances row, then the consumed messages are deleted. A batch whose
   requests were all held back still checkpoints (the sorter changed), without
   running the entity function.

A crash after the replies and before the state is stored cannot show a caller a state
the entity never kept: the caller's next request names the answered one as its
predecessor, so it waits until that one is redelivered and applied again.

The state stays in memory between batches (like an orchestration session) until
the entity has been idle for `session_idle_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.entity_batches import sort_batch
from durable_host.engine.dispatch.entity_queue import Schedule, schedule
from durable_host.engine.dispatch.entity_sends import batch_sends, trace_batch
from durable_host.engine.dispatch.entity_state import (
    EntityResult,
    OperationRequest,
    SchedulerState,
    split_entity_id,
)
from durable_host.engine.dispatch.executors import (
    EntityBatch,
    EntityExecutor,
    EntityOutcome,
    failed_batch,
)
from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.queue_consumer import delete_settled
from durable_host.engine.dispatch.returns import MessageReturns
from durable_host.engine.dispatch.router import MessageRouter, stored_message
from durable_host.engine.log_context import about_instance
from durable_host.engine.time.clock import Clock
from durable_host.errors import CheckpointConflictError, LeaseLapsingError, StorageError
from durable_host.taskhub.events import (
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
)
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

__all__ = ["EntityExecutorFor", "EntityProcessor"]

log = logging.getLogger("durable_host.entities")

EntityExecutorFor = Callable[[str], EntityExecutor]
"""The executor of an entity, by its name (executors.py)."""

# Request ids remembered per entity, so a message redelivered after its batch was
# checkpointed (a lost delete, an abandoned retry) is not applied a second time.
_REMEMBERED_REQUESTS = 4096
# The newest of them are also stored with each checkpoint (a tag of the entity's
# ExecutionStarted; the SchedulerState keeps the extension's format), so a host that
# crashed before deleting a batch's messages is not followed by one that applies them again.
_STORED_REQUESTS = 128
_APPLIED_TAG = "durableHostAppliedRequests"
# Attempts at storing a batch whose replies are out (about 6 s in all; see _store).
_STORE_ATTEMPTS = 6


@dataclass
class _EntitySession:
    instance_id: str
    execution_id: str | None = None
    etag: str | None = None
    generation: int = 0
    started_at: datetime | None = None
    state: SchedulerState = field(default_factory=SchedulerState)
    last_used: float = field(default_factory=time.monotonic)
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=_REMEMBERED_REQUESTS))
    seen_set: set[str] = field(default_factory=set)

    def remember(self, request_id: str) -> None:
        if len(self.seen) == self.seen.maxlen:
            self.seen_set.discard(self.seen[0])
        self.seen.append(request_id)
        self.seen_set.add(request_id)


class EntityProcessor:
    """Pass an instance's `process` as the OrchestrationDispatcher's `entity_processor`."""

    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        router: MessageRouter,
        executor_for: EntityExecutorFor,
        clock: Clock,
        hub_name: str,
        session_idle_timeout: float = 30.0,
        may_reply: Callable[[str], bool] | None = None,
        reorder_window: timedelta = timedelta(minutes=30),
        visibility_timeout: float = 300.0,
        tracer: DurableTracer | None = None,
    ) -> None:
        self._may_reply = may_reply
        self._returns = MessageReturns(storage, visibility_timeout=visibility_timeout)
        self._reorder_window = reorder_window // timedelta(microseconds=1) * 10  # .NET ticks
        self._storage = storage
        self._router = router
        self._executor_for = executor_for
        self._clock = clock
        self._rows = InstanceRowWriter(storage, hub_name)
        self._session_idle = session_idle_timeout
        self._sessions: dict[str, _EntitySession] = {}
        self._active: set[str] = set()
        self.batches_run = 0
        self.operations_run = 0
        self.tracer = tracer  # when tracing is on

    async def process(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        """Process and checkpoint one batch; raising leaves the messages to the dispatcher."""
        self._evict_idle()
        self._active.add(instance_id)
        try:
            await self._process(instance_id, batch)
        except BaseException:
            # Whatever was stored wins: reload it next time.
            self._sessions.pop(instance_id, None)
            raise
        finally:
            self._active.discard(instance_id)

    async def _process(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        session = await self._session(instance_id)
        about_instance(instance_id, session.execution_id)
        sorted_batch = sort_batch(
            instance_id,
            batch,
            sorter=session.state.sorter,
            applied=session.seen_set,
            clock=self._clock,
            reorder_window=self._reorder_window,
        )
        for msg, delay in sorted_batch.later:
            # Through the dispatchers' returns: a put-back storage does not take now is
            # retried in the background, and the due operations of the batch go on.
            await self._returns.give_back(await stored_message(msg), delay)
        plan = schedule(
            replace(session.state, sorter=sorted_batch.sorter),
            sorted_batch.operations,
            releases=sorted_batch.releases,
            resumed=sorted_batch.resumed,
            suspended_since=session.started_at,
            now=self._clock.now(),
        )
        if plan.run or plan.lock_request is not None:
            log.debug("Batch starts: %d operation(s)", len(plan.run))
            await self._run_batch(session, plan)
            log.debug("Batch done: checkpointed as execution %s", session.execution_id)
        elif plan.state != session.state:
            # Requests were only held back, queued behind a lock, or the lock was released:
            # that lives in the state now, so it is stored before the messages are deleted.
            await self._checkpoint(session, plan.state, self._clock.now())
            log.debug("Entity state stored as execution %s", session.execution_id)
        await delete_settled(self._storage, sorted_batch.consumed)

    # -- loading and sorting ------------------------------------------------------------------

    async def _session(self, instance_id: str) -> _EntitySession:
        session = self._sessions.get(instance_id)
        if session is None:
            loaded = await self._storage.load_history(instance_id)
            session = _EntitySession(
                instance_id=instance_id, execution_id=loaded.execution_id, etag=loaded.etag
            )
            started = next((e for e in loaded.events if isinstance(e, ExecutionStarted)), None)
            if started is not None:
                session.state = SchedulerState.from_json(started.input)
                session.generation = started.generation
                session.started_at = started.timestamp
                for request_id in ((started.tags or {}).get(_APPLIED_TAG) or "").split():
                    session.remember(request_id)
            self._sessions[instance_id] = session
        session.last_used = time.monotonic()
        return session

    # -- running ------------------------------------------------------------------------------

    async def _run_batch(self, session: _EntitySession, plan: Schedule) -> None:
        name, key = split_entity_id(session.instance_id)
        operations = plan.run
        requests = [r for _, r in operations]
        began = self._clock.now()
        outcome = (
            await self._invoke(session, name, key, requests)
            if requests
            else EntityOutcome(EntityResult(state=session.state, outcomes=[]))
        )
        result = outcome.result
        now = self._clock.now()
        if self.tracer is not None and requests:
            trace_batch(self.tracer, session.instance_id, operations, result, began, now)
        sends, locked_by = batch_sends(
            self._router,
            OrchestrationInstance(session.instance_id, session.execution_id or ""),
            requests,
            result,
            plan,
            now,
            outcome.sends,
        )
        if plan.lock_request is not None:
            requests.append(plan.lock_request)
        if sends and self._may_reply is not None and not self._may_reply(session.instance_id):
            # Past this point the replies are out; a host whose lease is lapsing leaves the
            # batch to the partition's next owner rather than answer from what may be stale.
            for send in sends:
                send.close()
            raise LeaseLapsingError(
                f"is not answered here: this host's lease on its partition is lapsing "
                f"(entity {session.instance_id})"
            )
        if sends:
            await asyncio.gather(*sends)
        # Remembered before the checkpoint, which stores them; a failed checkpoint drops the
        # whole session anyway.
        for request in requests:
            session.remember(request.request_id)
        new_state = replace(
            plan.state, exists=result.state.exists, state=result.state.state, locked_by=locked_by
        )
        await self._checkpoint(session, new_state, now)
        # Counted once stored, so a reader that sees the count also sees the state.
        self.batches_run += 1
        self.operations_run += len(operations)

    async def _invoke(
        self,
        session: _EntitySession,
        name: str,
        key: str,
        requests: list[OperationRequest],
    ) -> EntityOutcome:
        batch = EntityBatch(session.instance_id, name, key, session.state, requests)
        try:
            return await self._executor_for(name).run_entity_batch(batch)
        except Exception as exc:
            return EntityOutcome(failed_batch(batch, exc))

    # -- checkpoint -----------------------------------------------------------------------------

    async def _checkpoint(
        self, session: _EntitySession, state: SchedulerState, now: datetime
    ) -> None:
        execution_id = uuid.uuid4().hex
        generation = session.generation + 1 if session.execution_id else 0
        input_json = state.to_json()
        started = ExecutionStarted(
            timestamp=now,
            orchestration_instance=OrchestrationInstance(session.instance_id, execution_id),
            name=session.instance_id,
            version="",
            input=input_json,
            generation=generation,
            tags={_APPLIED_TAG: " ".join(list(session.seen)[-_STORED_REQUESTS:])},
        )
        events: list[HistoryEvent] = [
            OrchestratorStarted(timestamp=now),
            started,
            OrchestratorCompleted(timestamp=now),
        ]
        session.etag = await self._store(session, execution_id, events)
        session.execution_id = execution_id
        session.generation = generation
        session.started_at = now
        session.state = state
        await self._rows.write_entity(started, state.custom_status())

    async def _store(
        self, session: _EntitySession, execution_id: str, events: list[HistoryEvent]
    ) -> str:
        """Write the batch's new state; returns the sentinel's ETag.

        The batch's replies are already out, so a transient failure is retried here rather
        than left to the messages' redelivery: a caller that got its reply sends its next
        call at once, and that call must not run on the state before this batch. A conflict
        (another writer, or an earlier attempt whose answer was lost) is not retried: the
        entity reloads, and the stored request ids drop what was already applied.
        """
        for attempt in range(_STORE_ATTEMPTS):
            try:
                return await self._storage.append_history(
                    session.instance_id,
                    execution_id,
                    start_index=0,
                    events=events,
                    etag=session.etag,
                )
            except CheckpointConflictError:
                raise
            except StorageError as exc:
                if attempt == _STORE_ATTEMPTS - 1:
                    raise
                log.warning(
                    "Entity %s: storing its state failed (%s); retrying", session.instance_id, exc
                )
                await asyncio.sleep(min(0.25 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Stop retrying put-backs: what is left reappears when its visibility runs out."""
        await self._returns.close()

    def forget_partition(self, partition: int) -> None:
        """Drop the cached state of the partition's entities: another host may own it now.

        Called once the partition's running batches are done. Without it, a host that gets a
        partition back would answer callers from the state it had before, however stale:
        the checkpoint's ETag check then fails, but the replies are already sent.
        """
        for instance_id in [i for i in self._sessions if self._router.partition_of(i) == partition]:
            if instance_id not in self._active:
                del self._sessions[instance_id]

    def _evict_idle(self) -> None:
        cutoff = time.monotonic() - self._session_idle
        for instance_id in [k for k, s in self._sessions.items() if s.last_used < cutoff]:
            if instance_id not in self._active:
                del self._sessions[instance_id]
