"""The spans of Distributed Tracing V2, named and attributed as DTFx's TraceHelper does.

| span | kind | when |
|---|---|---|
| `create_orchestration:<name>` | producer | a client starts an instance |
| `orchestration:<name>` | server | one per execution, from its first episode to its end |
| `activity:<name>` | client | in the orchestration: from scheduling to the result's episode |
| `activity:<name>` | server | the activity function running (user spans nest under it) |
| `orchestration:<name>` | client | in the parent: a sub-orchestration, scheduling to result |
| `orchestration:<name>:timer` | internal | a durable timer, creation to firing |
| `orchestration_event:<name>` | producer | an event sent by a client or an orchestration |
| `entity:<name>:<operation>` | client/server, producer/consumer | an entity call / signal |

An orchestration runs as many episodes (replays), possibly on several hosts, so its spans
are never kept open in memory: the span ids are chosen when the work is scheduled, stored in
the history's trace-context fields (w3c.py), and each span is emitted once, complete, in the
episode that sees the work finish. Replayed history emits nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

from durable_host.taskhub.events import EventRaised, ExecutionStarted, HistoryEvent, TaskScheduled
from durable_host.taskhub.storage import ReceivedMessage
from durable_host.tracing.attributes import (
    EXECUTION_ID,
    INSTANCE_ID,
    NAME,
    TARGET_INSTANCE_ID,
    TASK_ID,
    TYPE,
    VERSION,
    is_entity,
    mark_failed,
    new_span_id,
    ns,
    otel_context,
    span_name,
    span_ref,
)
from durable_host.tracing.entity_spans import EntityOperation, entity_operations, traced_operations
from durable_host.tracing.episode import EpisodeTrace, find_started
from durable_host.tracing.provider import preset_span_id
from durable_host.tracing.w3c import SpanRef, own_span_of, parent_of, trace_context_dict

__all__ = ["DurableTracer", "EntityOperation", "EpisodeTrace"]

_R = TypeVar("_R")


class DurableTracer:
    """Starts and emits the durable spans; the engine calls it only when tracing is on."""

    def __init__(self, provider: TracerProvider) -> None:
        # DTFx's ActivitySource name, so backends group the spans as they do for .NET apps.
        self._tracer = provider.get_tracer("DurableTask.Core")

    # -- emitting a finished span with chosen ids and times -----------------------------------

    def emit(
        self,
        name: str,
        *,
        kind: SpanKind,
        parent: SpanRef | None,
        attributes: dict[str, Any],
        start: datetime,
        end: datetime,
        span_id: int | None = None,
        error: str | None = None,
        ok: bool = False,
    ) -> SpanRef:
        with preset_span_id(span_id):
            span = self._tracer.start_span(
                name,
                context=otel_context(parent) if parent is not None else Context(),
                kind=kind,
                attributes=attributes,
                start_time=ns(start),
            )
        if error is not None:
            mark_failed(span, error)
        elif ok:
            span.set_status(StatusCode.OK)
        span.end(end_time=max(ns(end), ns(start)))
        return span_ref(span)

    # -- clients ------------------------------------------------------------------------------

    @contextmanager
    def creating_orchestration(self, started: ExecutionStarted) -> Iterator[ExecutionStarted]:
        """`create_orchestration:<name>` around a client start; yields the traced start event."""
        instance = started.orchestration_instance
        attributes = {
            TYPE: "orchestration",
            NAME: started.name,
            INSTANCE_ID: instance.instance_id,
            EXECUTION_ID: instance.execution_id or "",
        }
        if started.version:
            attributes[VERSION] = started.version
        with self._tracer.start_as_current_span(
            span_name("create_orchestration", started.name, started.version),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        ) as span:
            context = trace_context_dict(span_ref(span))
            yield dataclasses.replace(started, parent_trace_context=context)

    @contextmanager
    def raising_event(self, target: str, event: EventRaised) -> Iterator[EventRaised]:
        """An event from a client: `orchestration_event:<name>`, or for an entity operation,
        only the caller's context (the entity emits the operation's spans)."""
        if is_entity(target):
            current = trace.get_current_span()
            if not current.get_span_context().is_valid:
                yield event
                return
            context = trace_context_dict(span_ref(current))
            yield dataclasses.replace(event, parent_trace_context=context)
            return
        with self._tracer.start_as_current_span(
            span_name("orchestration_event", event.name),
            kind=SpanKind.PRODUCER,
            attributes={TYPE: "event", NAME: event.name, TARGET_INSTANCE_ID: target},
        ) as span:
            context = trace_context_dict(span_ref(span))
            yield dataclasses.replace(event, parent_trace_context=context)

    @contextmanager
    def continued(self, traceparent: str | None, tracestate: str | None) -> Iterator[None]:
        """Make an incoming W3C context current (an HTTP request's `traceparent`)."""
        from durable_host.tracing.w3c import parse_traceparent

        ref = parse_traceparent(traceparent, tracestate)
        if ref is None:
            yield
            return
        token = context_api.attach(otel_context(ref))
        try:
            yield
        finally:
            context_api.detach(token)

    async def http_trigger(
        self, method: str, route: str, function: str, call: Callable[[], Awaitable[_R]]
    ) -> _R:
        """An HTTP function as a server span (OTel HTTP conventions), current while it runs."""
        with self._tracer.start_as_current_span(
            f"{method} /{route}",
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": f"/{route}",
                        "faas.trigger": "http", "faas.name": function},
        ) as span:  # fmt: skip
            response = await call()
            status = getattr(response, "status_code", None)
            if isinstance(status, int):
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
            return response

    # -- activities ---------------------------------------------------------------------------

    async def run_activity(
        self,
        scheduled: TaskScheduled,
        instance_id: str,
        run: Callable[[], Awaitable[_R]],
    ) -> _R:
        """`activity:<name>` (server) around the function; spans it opens nest under it."""
        parent = parent_of(scheduled.parent_trace_context)
        if parent is None:
            return await run()
        attributes: dict[str, Any] = {
            TYPE: "activity",
            NAME: scheduled.name,
            INSTANCE_ID: instance_id,
            TASK_ID: scheduled.event_id,
        }
        if scheduled.version:
            attributes[VERSION] = scheduled.version
        with self._tracer.start_as_current_span(
            span_name("activity", scheduled.name, scheduled.version),
            context=otel_context(parent),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            outcome = await run()
            if getattr(outcome, "failed", False):
                failed: Any = outcome
                mark_failed(span, failed.error_message or "", failed.error_type, failed.stack_trace)
            return outcome

    def entity_batch(
        self,
        entity_id: str,
        operations: Sequence[tuple[ReceivedMessage, Any]],
        outcomes: Sequence[Any],
        began: datetime,
        now: datetime,
    ) -> None:
        """The spans of one entity batch: (message, engine OperationRequest) per operation and
        the engine's OperationOutcome of each (`is_error`, `result`)."""
        traced = traced_operations(operations, outcomes)
        if traced:
            entity_operations(self, entity_id, traced, began, now)

    # -- orchestrations -----------------------------------------------------------------------

    def episode(
        self,
        instance_id: str,
        history: Sequence[HistoryEvent],
        new_events: list[HistoryEvent],
        now: datetime,
    ) -> EpisodeTrace | None:
        """The orchestration span of this execution; None when its start carries no context.

        At the execution's first episode the span's id and start are chosen and stored on
        its ExecutionStarted (replaced in `new_events`, so the history keeps them).
        """
        index, started = find_started(new_events)
        if started is None:
            started = next((e for e in history if isinstance(e, ExecutionStarted)), None)
        if started is None:
            return None
        recorded = own_span_of(started.parent_trace_context)
        if recorded is not None:
            return EpisodeTrace(self, instance_id, started, *recorded)
        if index is None:
            return None
        return self._new_span(instance_id, new_events, index, started, now)

    def rewound(
        self, instance_id: str, history: list[HistoryEvent], now: datetime
    ) -> EpisodeTrace | None:
        """A rewound execution runs in a new span, as in DTFx (stored on its ExecutionStarted,
        replaced in `history`, which the rewind writes again from row 0)."""
        index, started = find_started(history)
        if index is None or started is None:
            return None
        return self._new_span(instance_id, history, index, started, now)

    def _new_span(
        self,
        instance_id: str,
        events: list[HistoryEvent],
        index: int,
        started: ExecutionStarted,
        now: datetime,
    ) -> EpisodeTrace | None:
        parent = parent_of(started.parent_trace_context)
        if parent is None:
            return None
        own = parent.with_span(new_span_id())
        context = trace_context_dict(parent, own=own, start=now)
        events[index] = started = dataclasses.replace(started, parent_trace_context=context)
        return EpisodeTrace(self, instance_id, started, own, now)
