"""The `entity:<name>:<operation>` spans of an entity batch, caller's side and entity's side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanKind

from durable_host.taskhub.events import EventRaised
from durable_host.taskhub.storage import ReceivedMessage
from durable_host.tracing.attributes import (
    ENTITY_ERROR,
    INSTANCE_ID,
    OPERATION,
    TARGET_INSTANCE_ID,
    TYPE,
)
from durable_host.tracing.w3c import parent_of

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

__all__ = ["EntityOperation", "entity_operations", "traced_operations"]


@dataclass(frozen=True)
class EntityOperation:
    """One operation of an entity batch, as the tracer needs it."""

    trace_context: dict[str, Any] | None
    requested_at: datetime
    operation: str
    signal: bool
    error: str | None


def traced_operations(
    operations: Sequence[tuple[ReceivedMessage, Any]], outcomes: Sequence[Any]
) -> list[EntityOperation]:
    """The operations of a batch whose request carried a trace context: (message, engine
    OperationRequest) per operation and the engine's OperationOutcome of each (`is_error`,
    `result`)."""
    traced: list[EntityOperation] = []
    for (msg, request), outcome in zip(operations, outcomes, strict=True):
        event = msg.data.task_message.event if msg.data and msg.data.task_message else None
        if not isinstance(event, EventRaised) or event.parent_trace_context is None:
            continue
        traced.append(
            EntityOperation(
                trace_context=event.parent_trace_context,
                requested_at=event.timestamp,
                operation=str(request.operation),
                signal=bool(request.signal),
                error=str(outcome.result) if outcome.is_error else None,
            )
        )
    return traced


def entity_operations(
    tracer: DurableTracer,
    entity_id: str,
    operations: Sequence[EntityOperation],
    began: datetime,
    now: datetime,
) -> None:
    """`entity:<name>:<op>` spans of a batch: the caller's side (client for a call, producer
    for a signal) and the entity's (server / consumer) as its child, as DTFx's entity
    dispatcher records them."""
    entity_name = entity_id[1:].split("@", 1)[0]
    for op in operations:
        parent = parent_of(op.trace_context)
        if parent is None:
            continue
        name = f"entity:{entity_name}:{op.operation}"
        verb = "signal_entity" if op.signal else "call_entity"
        caller = tracer.emit(
            name,
            kind=SpanKind.PRODUCER if op.signal else SpanKind.CLIENT,
            parent=parent,
            attributes={TYPE: "entity", OPERATION: verb, TARGET_INSTANCE_ID: entity_id},
            start=op.requested_at,
            end=now,
            error=op.error,
        )
        attributes = {TYPE: "entity", OPERATION: verb, INSTANCE_ID: entity_id}
        if op.error is not None:
            attributes[ENTITY_ERROR] = op.error
        tracer.emit(
            name,
            kind=SpanKind.CONSUMER if op.signal else SpanKind.SERVER,
            parent=caller,
            attributes=attributes,
            start=began,
            end=now,
            error=op.error,
        )
