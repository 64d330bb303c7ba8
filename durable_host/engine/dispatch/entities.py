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
3. checkpoint, as a continue-as-new under a new ExecutionId, through the same
   Checkpoint as an orchestration's episode (checkpoint.py), in the provider's order:
   responses to callers, then history rows 0-2 (OrchestratorStarted, ExecutionStarted
   whose Input is the SchedulerState, with the sorter and the requests it holds back,
   OrchestratorCompleted) + sentinel with the ETag guard, then the Instances row (where
   clients read the entity's state), then the consumed messages are deleted. A batch
   whose requests were all held back still checkpoints (the sorter changed), without
   running the entity function.

A crash after the replies and before the state is stored cannot show a caller a state
the entity never kept: the caller's next request names the answered one as its
predecessor, so it waits until that one is redelivered and applied again.

The entity's session stays in memory between batches in the dispatcher's SessionCache,
with the orchestrations' sessions, until it has been idle for `session_idle_timeout`.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.abandon import Abandoner
from durable_host.engine.dispatch.checkpoint import Checkpoint, Checkpoints
from durable_host.engine.dispatch.effects import EpisodeEffects, HistoryWrite, WorkItemKind
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
from durable_host.engine.dispatch.instance_row import entity_row_fields
from durable_host.engine.dispatch.router import stored_message
from durable_host.engine.dispatch.sessions import Session, SessionCache
from durable_host.engine.log_context import about_instance
from durable_host.engine.replay.decision import Outbound
from durable_host.engine.time.clock import Clock
from durable_host.taskhub.events import (
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
)
from durable_host.taskhub.storage import ReceivedMessage

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


class _EntityMemory:
    """What an entity's session keeps between batches besides its stored history: the ids of
    the requests it applied (more than a checkpoint stores) and its state as last read."""

    def __init__(self) -> None:
        self._applied: deque[str] = deque(maxlen=_REMEMBERED_REQUESTS)
        self.applied: set[str] = set()
        self._state: SchedulerState | None = None
        self._state_of: str | None = None

    def state(self, session: Session) -> SchedulerState:
        """The SchedulerState of the session's execution (its ExecutionStarted's Input)."""
        if self._state is None or self._state_of != session.execution_id:
            started = session.started
            self._state = SchedulerState.from_json(started.input if started else None)
            self._state_of = session.execution_id
            if started is not None and not self._applied:
                for request_id in ((started.tags or {}).get(_APPLIED_TAG) or "").split():
                    self.remember(request_id)
        return self._state

    def stored(self, execution_id: str, state: SchedulerState) -> None:
        self._state, self._state_of = state, execution_id

    def remember(self, request_id: str) -> None:
        if len(self._applied) == self._applied.maxlen:
            self.applied.discard(self._applied[0])
        self._applied.append(request_id)
        self.applied.add(request_id)

    def newest(self) -> str:
        """The newest request ids, as the checkpoint stores them."""
        return " ".join(list(self._applied)[-_STORED_REQUESTS:])


class EntityProcessor:
    """Pass an instance's `process` as the OrchestrationDispatcher's `entity_processor`."""

    def __init__(
        self,
        *,
        checkpoints: Checkpoints,
        sessions: SessionCache,
        executor_for: EntityExecutorFor,
        clock: Clock,
        reorder_window: timedelta = timedelta(minutes=30),
        visibility_timeout: float = 300.0,
        tracer: DurableTracer | None = None,
    ) -> None:
        """`checkpoints` and `sessions` are the orchestration dispatcher's: one checkpoint
        path (and its storage), one cache of sessions with one idle eviction."""
        storage = checkpoints.storage
        self._abandoner = Abandoner(storage, visibility_timeout=visibility_timeout)
        self._reorder_window = reorder_window // timedelta(microseconds=1) * 10  # .NET ticks
        self._storage = storage
        self._checkpoints = checkpoints
        self._sessions = sessions
        self._executor_for = executor_for
        self._clock = clock
        self.batches_run = 0
        self.operations_run = 0
        self.tracer = tracer  # when tracing is on

    async def process(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        """Process and checkpoint one batch; raising leaves the messages to the dispatcher."""
        try:
            await self._process(instance_id, batch)
        except BaseException:
            # Whatever was stored wins: reload it next time.
            self._sessions.pop(instance_id, None)
            raise

    async def _process(self, instance_id: str, batch: list[ReceivedMessage]) -> None:
        session = await self._sessions.load(self._storage, instance_id)
        memory = session.memory(_EntityMemory)
        state = memory.state(session)
        about_instance(instance_id, session.execution_id)
        sorted_batch = sort_batch(
            instance_id,
            batch,
            sorter=state.sorter,
            applied=memory.applied,
            clock=self._clock,
            reorder_window=self._reorder_window,
        )
        for msg, delay in sorted_batch.later:
            # As the dispatchers abandon: an abandon storage does not take now is retried in
            # the background, and the due operations of the batch go on.
            await self._abandoner.abandon(await stored_message(msg), delay)
        started = session.started
        plan = schedule(
            replace(state, sorter=sorted_batch.sorter),
            sorted_batch.operations,
            releases=sorted_batch.releases,
            resumed=sorted_batch.resumed,
            suspended_since=started.timestamp if started is not None else None,
            now=self._clock.now(),
        )
        checkpoint = self._checkpoints.begin(sorted_batch.consumed)
        if plan.run or plan.lock_request is not None:
            log.debug("Batch starts: %d operation(s)", len(plan.run))
            await self._run_batch(checkpoint, session, memory, plan)
            log.debug("Batch done: checkpointed as execution %s", session.execution_id)
        elif plan.state != state:
            # Requests were only held back, queued behind a lock, or the lock was released:
            # that lives in the state now, so it is stored before the messages are deleted.
            await self._commit(checkpoint, session, memory, plan.state, [], self._clock.now())
            log.debug("Entity state stored as execution %s", session.execution_id)
        else:
            await checkpoint.drop()

    # -- running ------------------------------------------------------------------------------

    async def _run_batch(
        self, checkpoint: Checkpoint, session: Session, memory: _EntityMemory, plan: Schedule
    ) -> None:
        name, key = split_entity_id(session.instance_id)
        operations = plan.run
        requests = [r for _, r in operations]
        state = memory.state(session)
        began = self._clock.now()
        outcome = (
            await self._invoke(session, state, name, key, requests)
            if requests
            else EntityOutcome(EntityResult(state=state, outcomes=[]))
        )
        result = outcome.result
        now = self._clock.now()
        if self.tracer is not None and requests:
            trace_batch(self.tracer, session.instance_id, operations, result, began, now)
        sends, locked_by = batch_sends(
            OrchestrationInstance(session.instance_id, session.execution_id or ""),
            requests,
            result,
            plan,
            now,
            outcome.sends,
        )
        if plan.lock_request is not None:
            requests.append(plan.lock_request)
        # Stored with the checkpoint; a failed checkpoint drops the whole session anyway.
        for request in requests:
            memory.remember(request.request_id)
        new_state = replace(
            plan.state, exists=result.state.exists, state=result.state.state, locked_by=locked_by
        )
        await self._commit(checkpoint, session, memory, new_state, sends, now)
        # Counted once stored, so a reader that sees the count also sees the state.
        self.batches_run += 1
        self.operations_run += len(operations)

    async def _invoke(
        self,
        session: Session,
        state: SchedulerState,
        name: str,
        key: str,
        requests: list[OperationRequest],
    ) -> EntityOutcome:
        batch = EntityBatch(session.instance_id, name, key, state, requests)
        try:
            return await self._executor_for(name).run_entity_batch(batch)
        except Exception as exc:
            return EntityOutcome(failed_batch(batch, exc))

    # -- checkpoint -----------------------------------------------------------------------------

    async def _commit(
        self,
        checkpoint: Checkpoint,
        session: Session,
        memory: _EntityMemory,
        state: SchedulerState,
        sends: list[Outbound],
        now: datetime,
    ) -> None:
        """The batch as a continue-as-new: its sends go out from the execution that ran it
        (past this point the replies are out, so a host whose lease is lapsing sends none and
        leaves the batch to the partition's next owner), then the new execution is stored."""
        previous = session.started
        await checkpoint.send(
            sends, OrchestrationInstance(session.instance_id, session.execution_id or ""), None
        )
        execution_id = uuid.uuid4().hex
        generation = (previous.generation if previous else 0) + 1 if session.execution_id else 0
        started = ExecutionStarted(
            timestamp=now,
            orchestration_instance=OrchestrationInstance(session.instance_id, execution_id),
            name=session.instance_id,
            version="",
            input=state.to_json(),
            generation=generation,
            tags={_APPLIED_TAG: memory.newest()},
        )
        events: list[HistoryEvent] = [
            OrchestratorStarted(timestamp=now),
            started,
            OrchestratorCompleted(timestamp=now),
        ]
        session.begin_generation(execution_id)
        effects = EpisodeEffects(
            outbound=[],
            events=events,
            history_write=HistoryWrite.NEW_GENERATION,
            episode=None,
            row_fields=entity_row_fields(started, state.custom_status()),
            terminal=False,
            kind=WorkItemKind.ENTITY,
        )
        await checkpoint.commit(session, effects)
        memory.stored(execution_id, state)

    async def close(self) -> None:
        """Stop retrying abandons: what is left reappears when its visibility runs out."""
        await self._abandoner.close()
