"""The pieces every durable span shares: DTFx's attribute names, span names, and the
conversions between a stored `SpanRef` and OpenTelemetry's span contexts and clock."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    StatusCode,
    TraceFlags,
    TraceState,
)

from durable_host.tracing.w3c import SpanRef

# DTFx's Schema.Task names.
TYPE = "durabletask.type"
NAME = "durabletask.task.name"
VERSION = "durabletask.task.version"
INSTANCE_ID = "durabletask.task.instance_id"
EXECUTION_ID = "durabletask.task.execution_id"
STATUS = "durabletask.task.status"
TASK_ID = "durabletask.task.task_id"
TARGET_INSTANCE_ID = "durabletask.event.target_instance_id"
FIRE_AT = "durabletask.fire_at"
OPERATION = "durabletask.task.operation"
ENTITY_ERROR = "durabletask.entity.error_message"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def span_name(kind: str, name: str, version: str | None = None) -> str:
    return f"{kind}:{name}@({version})" if version else f"{kind}:{name}"


def ns(dt: datetime) -> int:
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)
    return (aware - _EPOCH) // timedelta(microseconds=1) * 1000


def otel_context(ref: SpanRef) -> Context:
    state = TraceState.from_header([ref.state]) if ref.state else None
    span_context = SpanContext(
        ref.trace_id, ref.span_id, is_remote=True, trace_flags=TraceFlags(ref.flags),
        trace_state=state,
    )  # fmt: skip
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def span_ref(span: Span) -> SpanRef:
    ctx = span.get_span_context()
    return SpanRef(ctx.trace_id, ctx.span_id, int(ctx.trace_flags), ctx.trace_state.to_header())


def new_span_id() -> int:
    return random.getrandbits(64) or 1


def mark_failed(
    span: Span, message: str, error_type: str | None = None, stack: str | None = None
) -> None:
    span.set_status(StatusCode.ERROR, message)
    attributes = {"exception.type": error_type or "Exception", "exception.message": message}
    if stack:
        attributes["exception.stacktrace"] = stack
    span.add_event("exception", attributes)


def is_entity(instance_id: str) -> bool:
    return instance_id.startswith("@")
