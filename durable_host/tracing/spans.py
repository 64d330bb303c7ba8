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
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    TraceState,
)

from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    OrchestrationStatus,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from durable_host.taskhub.storage import ReceivedMessage
from durable_host.tracing.provider import preset_span_id
from durable_host.tracing.w3c import SpanRef, own_span_of, parent_of, trace_context_dict

__all__ = ["DurableTracer", "EntityOperation", "EpisodeTrace"]

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
_R = TypeVar("_R")


class _Completion(Protocol):
    """How an execution ended (engine.replay.Completion)."""

    @property
    def status(self) -> OrchestrationStatus: ...
    @property
    def result(self) -> str | None: ...
    @property
    def failure_details(self) -> FailureDetails | None: ...


class _Carrier(Protocol):
    """An outbound message of an episode (engine.replay.Outbound)."""

    @property
    def event(self) -> HistoryEvent: ...


@dataclass(frozen=True)
class EntityOperation:
    """One operation of an entity batch, as the tracer needs it."""

    trace_context: dict[str, Any] | None
    requested_at: datetime
    operation: str
    signal: bool
    error: str | None


def span_name(kind: str, name: str, version: str | None = None) -> str:
    return f"{kind}:{name}@({version})" if version else f"{kind}:{name}"


def _ns(dt: datetime) -> int:
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)
    return (aware - _EPOCH) // timedelta(microseconds=1) * 1000


def _context(ref: SpanRef) -> Context:
    state = TraceState.from_header([ref.state]) if ref.state else None
    span_context = SpanContext(
        ref.trace_id, ref.span_id, is_remote=True, trace_flags=TraceFlags(ref.flags),
        trace_state=state,
    )  # fmt: skip
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def _ref(span: Span) -> SpanRef:
    ctx = span.get_span_context()
    return SpanRef(ctx.trace_id, ctx.span_id, int(ctx.trace_flags), ctx.trace_state.to_header())


def _new_span_id() -> int:
    return random.getrandbits(64) or 1


def _fail(
    span: Span, message: str, error_type: str | None = None, stack: str | None = None
) -> None:
    span.set_status(StatusCode.ERROR, message)
    attributes = {"exception.type": error_type or "Exception", "exception.message": message}
    if stack:
        attributes["exception.stacktrace"] = stack
    span.add_event("exception", attributes)


def _is_entity(instance_id: str) -> bool:
    return instance_id.startswith("@")


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
                context=_context(parent) if parent is not None else Context(),
                kind=kind,
                attributes=attributes,
                start_time=_ns(start),
            )
        if error is not None:
            _fail(span, error)
        elif ok:
            span.set_status(StatusCode.OK)
        span.end(end_time=max(_ns(end), _ns(start)))
        return _ref(span)

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
            context = trace_context_dict(_ref(span))
            yield dataclasses.replace(started, parent_trace_context=context)

    @contextmanager
    def raising_event(self, target: str, event: EventRaised) -> Iterator[EventRaised]:
        """An event from a client: `orchestration_event:<name>`, or for an entity operation,
        only the caller's context (the entity emits the operation's spans)."""
        if _is_entity(target):
            current = trace.get_current_span()
            if not current.get_span_context().is_valid:
                yield event
                return
            yield dataclasses.replace(event, parent_trace_context=trace_context_dict(_ref(current)))
            return
        with self._tracer.start_as_current_span(
            span_name("orchestration_event", event.name),
            kind=SpanKind.PRODUCER,
            attributes={TYPE: "event", NAME: event.name, TARGET_INSTANCE_ID: target},
        ) as span:
            yield dataclasses.replace(event, parent_trace_context=trace_context_dict(_ref(span)))

    @contextmanager
    def continued(self, traceparent: str | None, tracestate: str | None) -> Iterator[None]:
        """Make an incoming W3C context current (an HTTP request's `traceparent`)."""
        from durable_host.tracing.w3c import parse_traceparent

        ref = parse_traceparent(traceparent, tracestate)
        if ref is None:
            yield
            return
        token = trace.context_api.attach(_context(ref))
        try:
            yield
        finally:
            trace.context_api.detach(token)

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
            context=_context(parent),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            outcome = await run()
            if getattr(outcome, "failed", False):
                failed: Any = outcome
                _fail(span, failed.error_message or "", failed.error_type, failed.stack_trace)
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
        if traced:
            _entity_operations(self, entity_id, traced, began, now)

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
        index, started = _find_started(new_events)
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
        index, started = _find_started(history)
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
        own = parent.with_span(_new_span_id())
        context = trace_context_dict(parent, own=own, start=now)
        events[index] = started = dataclasses.replace(started, parent_trace_context=context)
        return EpisodeTrace(self, instance_id, started, own, now)


def _find_started(events: Sequence[HistoryEvent]) -> tuple[int | None, ExecutionStarted | None]:
    for i, event in enumerate(events):
        if isinstance(event, ExecutionStarted):
            return i, event
    return None, None


class EpisodeTrace:
    """One episode of a traced execution: stamps what it schedules, emits what finished."""

    def __init__(
        self,
        tracer: DurableTracer,
        instance_id: str,
        started: ExecutionStarted,
        own: SpanRef,
        start: datetime,
    ) -> None:
        self._tracer = tracer
        self.instance_id = instance_id
        self.name = started.name
        self.version = started.version
        self._parent = parent_of(started.parent_trace_context)
        self.own = own
        self._start = start

    def stamp(self, new_events: list[HistoryEvent], outbound: list[Any], now: datetime) -> None:
        """Give scheduled activities, sub-orchestrations and sent events their trace context."""
        replaced: dict[int, HistoryEvent] = {}
        client_spans: dict[int, int] = {}
        for i, event in enumerate(new_events):
            stamped: HistoryEvent | None = None
            if isinstance(event, TaskScheduled):
                context = trace_context_dict(self.own.with_span(_new_span_id()))
                stamped = dataclasses.replace(event, parent_trace_context=context)
            elif isinstance(event, SubOrchestrationInstanceCreated):
                client_spans[event.event_id] = span_id = _new_span_id()
                stamped = dataclasses.replace(event, client_span_id=f"{span_id:016x}")
            if stamped is not None:
                replaced[id(event)] = new_events[i] = stamped
        for i, item in enumerate(outbound):
            event = self._stamp_outbound(item, replaced, client_spans, now)
            if event is not item.event:
                outbound[i] = dataclasses.replace(item, event=event)

    def _stamp_outbound(
        self,
        item: _Carrier,
        replaced: dict[int, HistoryEvent],
        client_spans: dict[int, int],
        now: datetime,
    ) -> HistoryEvent:
        event = item.event
        if id(event) in replaced:
            return replaced[id(event)]
        if isinstance(event, ExecutionStarted) and event.parent_instance is not None:
            span_id = client_spans.get(event.parent_instance.task_schedule_id)
            if span_id is None:
                return event
            context = trace_context_dict(self.own.with_span(span_id))
            return dataclasses.replace(event, parent_trace_context=context)
        if isinstance(event, EventRaised):
            target = getattr(getattr(item, "target", None), "instance_id", "")
            sender = self.own
            if not _is_entity(target) and not _is_entity(self.instance_id):
                sender = self._tracer.emit(
                    span_name("orchestration_event", event.name),
                    kind=SpanKind.PRODUCER,
                    parent=self.own,
                    attributes={TYPE: "event", NAME: event.name, TARGET_INSTANCE_ID: target,
                                INSTANCE_ID: self.instance_id},
                    start=now,
                    end=now,
                )  # fmt: skip
            return dataclasses.replace(event, parent_trace_context=trace_context_dict(sender))
        return event

    def finish(
        self,
        history: Sequence[HistoryEvent],
        new_events: Sequence[HistoryEvent],
        completion: _Completion | None,
        now: datetime,
    ) -> None:
        """Emit the spans of work that finished in this episode, and the orchestration's own
        span when the execution ended (a continue-as-new goes on in the same span)."""
        scheduled: dict[tuple[type, int], HistoryEvent] | None = None
        for event in new_events:
            if not isinstance(
                event,
                (TaskCompleted, TaskFailed, SubOrchestrationInstanceCompleted,
                 SubOrchestrationInstanceFailed, TimerFired),
            ):  # fmt: skip
                continue
            if scheduled is None:
                scheduled = _scheduling_events(history, new_events)
            self._emit_finished(event, scheduled, now)
        if completion is not None and completion.status != OrchestrationStatus.ContinuedAsNew:
            details = completion.failure_details
            failure = details.error_message if details is not None else completion.result
            self._emit_orchestration(completion.status, failure, now)

    def _emit_finished(
        self,
        event: HistoryEvent,
        scheduled: dict[tuple[type, int], HistoryEvent],
        now: datetime,
    ) -> None:
        if isinstance(event, TimerFired):
            created = scheduled.get((TimerCreated, event.timer_id))
            self._tracer.emit(
                f"orchestration:{self.name}:timer",
                kind=SpanKind.INTERNAL,
                parent=self.own,
                attributes={TYPE: "timer", NAME: self.name, INSTANCE_ID: self.instance_id,
                            FIRE_AT: event.fire_at.isoformat(), TASK_ID: event.timer_id},
                start=created.timestamp if created is not None else event.timestamp,
                end=now,
            )  # fmt: skip
            return
        assert isinstance(
            event,
            (TaskCompleted, TaskFailed, SubOrchestrationInstanceCompleted,
             SubOrchestrationInstanceFailed),
        )  # fmt: skip
        failed = isinstance(event, (TaskFailed, SubOrchestrationInstanceFailed))
        error = (getattr(event, "reason", None) or "failed") if failed else None
        if isinstance(event, (TaskCompleted, TaskFailed)):
            task = scheduled.get((TaskScheduled, event.task_scheduled_id))
            if not isinstance(task, TaskScheduled):
                return
            client = parent_of(task.parent_trace_context)
            if client is None:
                return
            self._emit_task("activity", task.name, task.version, event.task_scheduled_id,
                            client.span_id, task.timestamp, now, error)  # fmt: skip
            return
        sub = scheduled.get((SubOrchestrationInstanceCreated, event.task_scheduled_id))
        if not isinstance(sub, SubOrchestrationInstanceCreated) or not sub.client_span_id:
            return
        self._emit_task("orchestration", sub.name, sub.version, event.task_scheduled_id,
                        int(sub.client_span_id, 16), sub.timestamp, now, error)  # fmt: skip

    def _emit_task(
        self,
        kind: str,
        name: str,
        version: str | None,
        task_id: int,
        span_id: int,
        start: datetime,
        end: datetime,
        error: str | None,
    ) -> None:
        attributes: dict[str, Any] = {
            TYPE: kind,
            NAME: name,
            INSTANCE_ID: self.instance_id,
            TASK_ID: task_id,
        }
        if version:
            attributes[VERSION] = version
        self._tracer.emit(
            span_name(kind, name, version),
            kind=SpanKind.CLIENT,
            parent=self.own,
            attributes=attributes,
            start=start,
            end=end,
            span_id=span_id,
            error=error,
        )

    def _emit_orchestration(
        self, status: OrchestrationStatus, failure: str | None, now: datetime
    ) -> None:
        attributes: dict[str, Any] = {
            TYPE: "orchestration",
            NAME: self.name,
            INSTANCE_ID: self.instance_id,
            STATUS: status.name,
        }
        if self.version:
            attributes[VERSION] = self.version
        error = None
        if status == OrchestrationStatus.Failed:
            error = failure or status.name
        elif status == OrchestrationStatus.Terminated:
            error = status.name
        self._tracer.emit(
            span_name("orchestration", self.name, self.version),
            kind=SpanKind.SERVER,
            parent=self._parent,
            attributes=attributes,
            start=self._start,
            end=now,
            span_id=self.own.span_id,
            error=error,
            ok=error is None,  # DTFx marks a completed orchestration OK
        )


def _scheduling_events(
    history: Sequence[HistoryEvent], new_events: Sequence[HistoryEvent]
) -> dict[tuple[type, int], HistoryEvent]:
    found: dict[tuple[type, int], HistoryEvent] = {}
    for event in (*history, *new_events):
        if isinstance(event, (TaskScheduled, SubOrchestrationInstanceCreated, TimerCreated)):
            found[(type(event), event.event_id)] = event
    return found


def _entity_operations(
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
