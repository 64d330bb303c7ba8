"""Entity batches in the protobuf protocol: `EntityBatchRequest` out, `EntityBatchResult` in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_host.protobuf.failures import failure_from_proto
from durable_host.protobuf.messages import messages, read_string, read_timestamp, string_value
from durable_host.taskhub.events import FailureDetails

__all__ = [
    "EntityBatchOutcome",
    "EntityOperation",
    "OperationOutcome",
    "SignalAction",
    "StartOrchestrationAction",
    "entity_batch_request",
    "read_entity_batch_result",
]


@dataclass(frozen=True)
class EntityOperation:
    request_id: str
    operation: str
    input: str | None = None


def entity_batch_request(
    instance_id: str, state: str | None, operations: Sequence[EntityOperation]
) -> Any:
    """The batch for `@name@key`: its state (None: the entity does not exist) and operations."""
    pb = messages()
    return pb.EntityBatchRequest(
        instanceId=instance_id,
        entityState=string_value(state),
        operations=[
            pb.OperationRequest(
                operation=op.operation, requestId=op.request_id, input=string_value(op.input)
            )
            for op in operations
        ],
    )


@dataclass(frozen=True)
class OperationOutcome:
    result: str | None = None
    failure: FailureDetails | None = None


@dataclass(frozen=True)
class SignalAction:
    id: int
    instance_id: str
    name: str
    input: str | None = None
    scheduled_time: datetime | None = None


@dataclass(frozen=True)
class StartOrchestrationAction:
    id: int
    instance_id: str
    name: str
    version: str | None = None
    input: str | None = None
    scheduled_time: datetime | None = None


@dataclass(frozen=True)
class EntityBatchOutcome:
    """An `EntityBatchResult`: one outcome per operation run, the state after them (None: the
    entity was deleted), what the operations sent, and a failure of the whole batch."""

    results: list[OperationOutcome]
    state: str | None
    signals: list[SignalAction] = field(default_factory=list)
    starts: list[StartOrchestrationAction] = field(default_factory=list)
    failure: FailureDetails | None = None


def read_entity_batch_result(result: Any) -> EntityBatchOutcome:
    outcomes = []
    for r in result.results:
        if r.WhichOneof("resultType") == "failure":
            outcomes.append(OperationOutcome(failure=failure_from_proto(r.failure.failureDetails)))
        else:
            outcomes.append(OperationOutcome(result=read_string(r.success, "result")))
    signals: list[SignalAction] = []
    starts: list[StartOrchestrationAction] = []
    for a in result.actions:
        if a.WhichOneof("operationActionType") == "sendSignal":
            m = a.sendSignal
            signals.append(
                SignalAction(
                    a.id,
                    m.instanceId,
                    m.name,
                    read_string(m, "input"),
                    read_timestamp(m, "scheduledTime"),
                )
            )
        elif a.WhichOneof("operationActionType") == "startNewOrchestration":
            m = a.startNewOrchestration
            starts.append(
                StartOrchestrationAction(
                    a.id,
                    m.instanceId,
                    m.name,
                    read_string(m, "version"),
                    read_string(m, "input"),
                    read_timestamp(m, "scheduledTime"),
                )
            )
    return EntityBatchOutcome(
        results=outcomes,
        state=read_string(result, "entityState"),
        signals=signals,
        starts=starts,
        failure=failure_from_proto(result.failureDetails)
        if result.HasField("failureDetails")
        else None,
    )
