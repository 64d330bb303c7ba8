"""The Durable Task protobuf protocol, over any `ProtoChannel` (executors.py).

Orchestrations: an OrchestratorRequest (past events = the stored history, new events = this
episode's; its bytes joined from encodings the session keeps, protobuf/request_bytes.py), the
worker's new actions back (engine/replay/proto_decisions.py). Entities: an
EntityBatchRequest (state and operations), the EntityBatchResult back. Activities: an
ActivityRequest with TaskScheduled's Input as stored (the protobuf protocol does not wrap it
in an array), the ActivityResponse back.
"""

from __future__ import annotations

import json
from datetime import timedelta

from durable_host.engine.dispatch.entity_state import (
    EntityResult,
    OperationOutcome,
    SchedulerState,
)
from durable_host.engine.dispatch.executors import (
    ActivityResult,
    ActivityWorkItem,
    EntityBatch,
    EntityOutcome,
    EntitySend,
    Episode,
    ProtoChannel,
    failed_batch,
)
from durable_host.engine.replay.decision import Decision, failed_decision
from durable_host.engine.replay.proto_decisions import proto_decision
from durable_host.errors import FunctionInvocationError, MessageFormatError
from durable_host.protobuf.actions import read_orchestrator_response
from durable_host.protobuf.entities import (
    EntityBatchOutcome,
    EntityOperation,
    entity_batch_request,
    read_entity_batch_result,
)
from durable_host.protobuf.request_bytes import ProtoHistory, encoded_orchestrator_request
from durable_host.protobuf.requests import activity_request, read_activity_response
from durable_host.taskhub.events import FailureDetails, TaskScheduled

__all__ = ["ProtoExecutor"]


class ProtoExecutor:
    """Runs orchestrations, entities and activities through a `ProtoChannel`."""

    def __init__(self, channel: ProtoChannel, *, entity_reorder_window: timedelta) -> None:
        self._channel = channel
        self._reorder_window = entity_reorder_window

    async def run_episode(self, episode: Episode) -> Decision:
        session = episode.session
        request = encoded_orchestrator_request(
            session.instance_id,
            session.execution_id,
            session.history,
            episode.new_events,
            entity_reorder_window=self._reorder_window,
            past_history=session.memory(ProtoHistory),
        )
        ctx = episode.context
        try:
            response = await self._channel.orchestrate(episode.started.name, request)
            result = read_orchestrator_response(response)
        except (FunctionInvocationError, MessageFormatError) as exc:
            # The SDK itself failed (user errors come back as a failed completion action).
            return failed_decision(ctx, str(exc), type(exc).__name__)
        return proto_decision(ctx, session.history + list(episode.new_events), result)

    async def run_entity_batch(self, batch: EntityBatch) -> EntityOutcome:
        state = batch.state
        request = entity_batch_request(
            batch.instance_id,
            state.state if state.exists else None,
            [EntityOperation(r.request_id, r.operation or "", r.input) for r in batch.requests],
        )
        try:
            outcome = read_entity_batch_result(
                await self._channel.run_entity_batch(batch.name, request)
            )
            return _entity_outcome(batch, outcome)
        except (FunctionInvocationError, MessageFormatError, ValueError) as exc:
            return EntityOutcome(failed_batch(batch, exc))

    def activity_input(self, event: TaskScheduled) -> str | None:
        return event.input

    async def run_activity(self, item: ActivityWorkItem) -> ActivityResult:
        request = activity_request(item.event, item.instance)
        try:
            response = await self._channel.run_activity(item.event.name, request)
        except FunctionInvocationError as exc:
            return ActivityResult(
                error_message=exc.message, error_type=exc.error_type, stack_trace=exc.stack_trace
            )
        outcome = read_activity_response(response)
        if outcome.failure is not None:
            return _activity_failure(outcome.failure)
        return ActivityResult(result_json=outcome.result)


def _activity_failure(failure: FailureDetails) -> ActivityResult:
    return ActivityResult(
        error_message=failure.error_message,
        error_type=failure.error_type or "Exception",
        stack_trace=failure.stack_trace,
    )


def _entity_outcome(batch: EntityBatch, outcome: EntityBatchOutcome) -> EntityOutcome:
    if outcome.failure is not None:
        return EntityOutcome(
            failed_batch(
                batch, Exception(f"{outcome.failure.error_type}: {outcome.failure.error_message}")
            )
        )
    if len(outcome.results) != len(batch.requests):
        raise ValueError(
            f"the entity answered {len(outcome.results)} results for "
            f"{len(batch.requests)} operations"
        )
    results = []
    for r in outcome.results:
        if r.failure is None:
            results.append(OperationOutcome(result=r.result, is_error=False))
        else:
            text = f"{r.failure.error_type}: {r.failure.error_message}".lstrip(": ")
            results.append(OperationOutcome(result=json.dumps(text), is_error=True))
    state = SchedulerState(exists=outcome.state is not None, state=outcome.state)
    sends = [
        EntitySend(s.instance_id, s.name, s.input, s.scheduled_time) for s in outcome.signals
    ] + [
        EntitySend(s.instance_id, s.name, s.input, s.scheduled_time, start_orchestration=True)
        for s in outcome.starts
    ]
    return EntityOutcome(EntityResult(state=state, outcomes=results), sends)
