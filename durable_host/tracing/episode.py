"""An orchestration's spans, one episode at a time: `EpisodeTrace` gives the work an episode
schedules its span ids (stored in the history) and emits, complete, the spans of work that
finished in it (activities, sub-orchestrations, timers, sent events) and the orchestration's
own span when the execution ends."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.trace import SpanKind

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
from durable_host.tracing.attributes import (
    FIRE_AT,
    INSTANCE_ID,
    NAME,
    STATUS,
    TARGET_INSTANCE_ID,
    TASK_ID,
    TYPE,
    VERSION,
    is_entity,
    new_span_id,
    span_name,
)
from durable_host.tracing.w3c import SpanRef, parent_of, trace_context_dict

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

__all__ = ["EpisodeTrace", "find_started"]


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


def find_started(events: Sequence[HistoryEvent]) -> tuple[int | None, ExecutionStarted | None]:
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
                context = trace_context_dict(self.own.with_span(new_span_id()))
                stamped = dataclasses.replace(event, parent_trace_context=context)
            elif isinstance(event, SubOrchestrationInstanceCreated):
                client_spans[event.event_id] = span_id = new_span_id()
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
            if not is_entity(target) and not is_entity(self.instance_id):
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
