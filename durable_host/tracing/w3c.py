"""W3C trace context as the task hub stores it (no OpenTelemetry needed to read or write it).

DTFx keeps a `DistributedTraceContext` on ExecutionStarted, TaskScheduled and EventRaised:
`TraceParent` (the W3C header of the span that caused the event) and `TraceState`, plus, on
ExecutionStarted only, `Id`, `SpanId` and `ActivityStartTime` of the orchestration's own span,
stored at its first episode so that every later episode (on any host) continues that span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from durable_host.taskhub.timestamps import format_timestamp, parse_timestamp

__all__ = ["SpanRef", "own_span_of", "parent_of", "parse_traceparent", "trace_context_dict"]

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# The W3C spec lets a vendor drop a tracestate over 512 characters; DTFx drops it whole.
_MAX_TRACESTATE = 513


@dataclass(frozen=True)
class SpanRef:
    """One span's identity: enough to parent another span on it, on any host."""

    trace_id: int
    span_id: int
    flags: int = 1
    state: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{self.flags:02x}"

    def with_span(self, span_id: int) -> SpanRef:
        return SpanRef(self.trace_id, span_id, self.flags, self.state)


def parse_traceparent(text: str | None, state: str | None = None) -> SpanRef | None:
    """A `traceparent` header value, or None when it is absent or malformed (as W3C says)."""
    if not text:
        return None
    match = _TRACEPARENT.fullmatch(text.strip().lower())
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if trace_id == 0 or span_id == 0:
        return None
    return SpanRef(trace_id, span_id, int(match.group(4), 16), state)


def trace_context_dict(
    parent: SpanRef, *, own: SpanRef | None = None, start: datetime | None = None
) -> dict[str, Any]:
    """A `DistributedTraceContext` member, as Newtonsoft writes it (nulls kept)."""
    state = parent.state if parent.state and len(parent.state) <= _MAX_TRACESTATE else None
    return {
        "TraceParent": parent.traceparent,
        "TraceState": state,
        "Id": own.traceparent if own is not None else None,
        "SpanId": f"{own.span_id:016x}" if own is not None else None,
        # A .NET DateTimeOffset: the offset instead of Z.
        "ActivityStartTime": format_timestamp(start)[:-1] + "+00:00" if start else None,
    }


def parent_of(context: dict[str, Any] | None) -> SpanRef | None:
    """The span a stored trace context points at (its TraceParent)."""
    if not context:
        return None
    return parse_traceparent(context.get("TraceParent"), context.get("TraceState"))


def own_span_of(context: dict[str, Any] | None) -> tuple[SpanRef, datetime] | None:
    """The orchestration span recorded on an ExecutionStarted (SpanId + ActivityStartTime)."""
    parent = parent_of(context)
    if parent is None or context is None:
        return None
    span_id, start = context.get("SpanId"), context.get("ActivityStartTime")
    if not isinstance(span_id, str) or not isinstance(start, str):
        return None
    try:
        return parent.with_span(int(span_id, 16)), parse_timestamp(start)
    except ValueError:
        return None
