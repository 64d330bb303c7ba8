"""History events ⇄ protobuf `HistoryEvent`s (the extension's ProtobufUtils.ToHistoryEventProto).

Payloads stay JSON text both ways (StringValue), event ids and timestamps are kept, and an
event type the protocol has no message for is refused with a clear error. The reverse
direction reads what a worker sends back (continue-as-new carry-over events) and what a
gRPC backend receives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.protobuf.failures import failure_from_proto, failure_to_proto, legacy_failure
from durable_host.protobuf.messages import (
    make,
    messages,
    read_string,
    read_timestamp,
    string_value,
    timestamp,
)
from durable_host.taskhub import events as ev

__all__ = ["event_from_proto", "event_to_proto", "instance_to_proto", "trace_to_proto"]


def instance_to_proto(instance: ev.OrchestrationInstance) -> Any:
    return messages().OrchestrationInstance(
        instanceId=instance.instance_id, executionId=string_value(instance.execution_id)
    )


def trace_to_proto(context: dict[str, Any] | None) -> Any:
    """DTFx's DistributedTraceContext member (TraceParent, TraceState) as a TraceContext."""
    if not context or not context.get("TraceParent"):
        return None
    return messages().TraceContext(
        traceParent=str(context["TraceParent"]), traceState=string_value(context.get("TraceState"))
    )


def _trace_from_proto(message: Any, name: str) -> dict[str, Any] | None:
    if not message.HasField(name):
        return None
    trace = getattr(message, name)
    return {"TraceParent": trace.traceParent, "TraceState": read_string(trace, "traceState")}


def _version(version: str | None) -> Any:
    """No version is unset, as the extension sends it: DTFx keeps "" where it got none, and
    durabletask reads an empty StringValue as the version "" (context.version is None there)."""
    return string_value(version or None)


def _parent_to_proto(parent: ev.ParentInstance | None) -> Any:
    if parent is None:
        return None
    return messages().ParentInstanceInfo(
        taskScheduledId=parent.task_schedule_id,
        name=string_value(parent.name),
        version=_version(parent.version),
        orchestrationInstance=instance_to_proto(parent.orchestration_instance),
    )


def _started(e: ev.ExecutionStarted, pb: Any) -> Any:
    return make(
        pb.ExecutionStartedEvent,
        name=e.name,
        version=_version(e.version),
        input=string_value(e.input),
        orchestrationInstance=instance_to_proto(e.orchestration_instance),
        parentInstance=_parent_to_proto(e.parent_instance),
        scheduledStartTimestamp=timestamp(e.scheduled_start_time),
        parentTraceContext=trace_to_proto(e.parent_trace_context),
        tags=e.tags,
    )


def _task_failed(e: ev.TaskFailed | ev.SubOrchestrationInstanceFailed, cls: Any) -> Any:
    details = legacy_failure(e.failure_details, e.reason, e.details)
    return cls(taskScheduledId=e.task_scheduled_id, failureDetails=failure_to_proto(details))


# event class -> (oneof field, builder of its message)
_TO_PROTO: dict[type[ev.HistoryEvent], tuple[str, Callable[[Any, Any], Any]]] = {
    ev.ExecutionStarted: ("executionStarted", _started),
    ev.ExecutionCompleted: (
        "executionCompleted",
        lambda e, pb: pb.ExecutionCompletedEvent(
            orchestrationStatus=e.orchestration_status.value,
            result=string_value(e.result),
            failureDetails=failure_to_proto(e.failure_details),
        ),
    ),
    ev.ExecutionTerminated: (
        "executionTerminated",
        lambda e, pb: pb.ExecutionTerminatedEvent(input=string_value(e.input)),
    ),
    ev.TaskScheduled: (
        "taskScheduled",
        lambda e, pb: make(
            pb.TaskScheduledEvent,
            name=e.name,
            version=_version(e.version),
            input=string_value(e.input),
            parentTraceContext=trace_to_proto(e.parent_trace_context),
            tags=e.tags,
        ),
    ),
    ev.TaskCompleted: (
        "taskCompleted",
        lambda e, pb: pb.TaskCompletedEvent(
            taskScheduledId=e.task_scheduled_id, result=string_value(e.result)
        ),
    ),
    ev.TaskFailed: ("taskFailed", lambda e, pb: _task_failed(e, pb.TaskFailedEvent)),
    ev.SubOrchestrationInstanceCreated: (
        "subOrchestrationInstanceCreated",
        lambda e, pb: make(
            pb.SubOrchestrationInstanceCreatedEvent,
            tags=e.tags,
            instanceId=e.instance_id,
            name=e.name,
            version=_version(e.version),
            input=string_value(e.input),
        ),
    ),
    ev.SubOrchestrationInstanceCompleted: (
        "subOrchestrationInstanceCompleted",
        lambda e, pb: pb.SubOrchestrationInstanceCompletedEvent(
            taskScheduledId=e.task_scheduled_id, result=string_value(e.result)
        ),
    ),
    ev.SubOrchestrationInstanceFailed: (
        "subOrchestrationInstanceFailed",
        lambda e, pb: _task_failed(e, pb.SubOrchestrationInstanceFailedEvent),
    ),
    ev.TimerCreated: (
        "timerCreated",
        lambda e, pb: pb.TimerCreatedEvent(fireAt=timestamp(e.fire_at)),
    ),
    ev.TimerFired: (
        "timerFired",
        lambda e, pb: pb.TimerFiredEvent(fireAt=timestamp(e.fire_at), timerId=e.timer_id),
    ),
    ev.OrchestratorStarted: ("orchestratorStarted", lambda e, pb: pb.OrchestratorStartedEvent()),
    ev.OrchestratorCompleted: (
        "orchestratorCompleted",
        lambda e, pb: pb.OrchestratorCompletedEvent(),
    ),
    ev.EventSent: (
        "eventSent",
        lambda e, pb: pb.EventSentEvent(
            instanceId=e.instance_id, name=e.name, input=string_value(e.input)
        ),
    ),
    ev.EventRaised: (
        "eventRaised",
        lambda e, pb: pb.EventRaisedEvent(name=e.name, input=string_value(e.input)),
    ),
    ev.ContinueAsNew: (
        "continueAsNew",
        lambda e, pb: pb.ContinueAsNewEvent(input=string_value(e.result)),
    ),
    ev.GenericEvent: ("genericEvent", lambda e, pb: pb.GenericEvent(data=string_value(e.data))),
    ev.ExecutionSuspended: (
        "executionSuspended",
        lambda e, pb: pb.ExecutionSuspendedEvent(input=string_value(e.reason)),
    ),
    ev.ExecutionResumed: (
        "executionResumed",
        lambda e, pb: pb.ExecutionResumedEvent(input=string_value(e.reason)),
    ),
    ev.ExecutionRewound: (
        "executionRewound",
        lambda e, pb: pb.ExecutionRewoundEvent(reason=string_value(e.reason)),
    ),
}


def event_to_proto(event: ev.HistoryEvent) -> Any:
    """The protobuf HistoryEvent of one of our events (event id and timestamp kept)."""
    entry = _TO_PROTO.get(type(event))
    if entry is None:
        raise MessageFormatError(
            f"History event {event.event_type.dotnet_name} has no Durable Task protobuf form."
        )
    field, build = entry
    pb = messages()
    if field == "executionRewound" and not hasattr(pb, "ExecutionRewoundEvent"):
        # Older durabletask messages have no rewind event; its workers skip a GenericEvent.
        field, build = "genericEvent", lambda e, pb: pb.GenericEvent(data=string_value(e.reason))
    return pb.HistoryEvent(
        eventId=event.event_id,
        timestamp=timestamp(event.timestamp),
        **{field: build(event, pb)},
    )


def event_from_proto(message: Any) -> ev.HistoryEvent:
    """One of our events from a protobuf HistoryEvent (the kinds DTFx histories hold)."""
    kind = message.WhichOneof("eventType")
    reader = _FROM_PROTO.get(kind or "")
    if reader is None:
        raise MessageFormatError(
            f"The Durable Task protobuf history event '{kind}' has no DTFx history form."
        )
    stamp = read_timestamp(message, "timestamp")
    common = {"event_id": message.eventId, "timestamp": stamp or _NO_TIME}
    return reader(getattr(message, kind), common)


def _instance_from(message: Any) -> ev.OrchestrationInstance:
    return ev.OrchestrationInstance(message.instanceId, read_string(message, "executionId"))


def _started_from(m: Any, common: dict[str, Any]) -> ev.HistoryEvent:
    parent = None
    if m.HasField("parentInstance"):
        p = m.parentInstance
        parent = ev.ParentInstance(
            name=read_string(p, "name"),
            version=read_string(p, "version"),
            orchestration_instance=_instance_from(p.orchestrationInstance),
            task_schedule_id=p.taskScheduledId,
        )
    return ev.ExecutionStarted(
        **common,
        orchestration_instance=_instance_from(m.orchestrationInstance),
        name=m.name,
        version=read_string(m, "version") or "",
        input=read_string(m, "input"),
        parent_instance=parent,
        tags=_tags(m),
        parent_trace_context=_trace_from_proto(m, "parentTraceContext"),
        scheduled_start_time=read_timestamp(m, "scheduledStartTimestamp"),
    )


def _tags(m: Any) -> dict[str, str] | None:
    if "tags" not in m.DESCRIPTOR.fields_by_name:
        return None
    return dict(m.tags) or None


def _fire_at(m: Any) -> datetime:
    return read_timestamp(m, "fireAt") or _NO_TIME


def _failure(m: Any) -> Any:
    return failure_from_proto(m.failureDetails) if m.HasField("failureDetails") else None


def _failed_from(
    cls: Callable[..., ev.HistoryEvent],
) -> Callable[[Any, dict[str, Any]], ev.HistoryEvent]:
    def read(m: Any, common: dict[str, Any]) -> ev.HistoryEvent:
        details = _failure(m)
        return cls(
            **common,
            task_scheduled_id=m.taskScheduledId,
            reason=details.error_message if details else None,
            details=details.stack_trace if details else None,
            failure_details=details,
        )

    return read


# .NET's default(DateTime), for an event sent without a timestamp.
_NO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)

_FROM_PROTO: dict[str, Callable[[Any, dict[str, Any]], ev.HistoryEvent]] = {
    "executionStarted": _started_from,
    "executionCompleted": lambda m, c: ev.ExecutionCompleted(
        **c,
        orchestration_status=ev.OrchestrationStatus(m.orchestrationStatus),
        result=read_string(m, "result"),
        failure_details=_failure(m),
    ),
    "executionTerminated": lambda m, c: ev.ExecutionTerminated(**c, input=read_string(m, "input")),
    "taskScheduled": lambda m, c: ev.TaskScheduled(
        **c,
        name=m.name,
        version=read_string(m, "version"),
        input=read_string(m, "input"),
        tags=_tags(m),
        parent_trace_context=_trace_from_proto(m, "parentTraceContext"),
    ),
    "taskCompleted": lambda m, c: ev.TaskCompleted(
        **c, task_scheduled_id=m.taskScheduledId, result=read_string(m, "result")
    ),
    "taskFailed": _failed_from(ev.TaskFailed),
    "subOrchestrationInstanceCreated": lambda m, c: ev.SubOrchestrationInstanceCreated(
        **c,
        name=m.name,
        version=read_string(m, "version"),
        instance_id=m.instanceId,
        input=read_string(m, "input"),
        tags=_tags(m),
    ),
    "subOrchestrationInstanceCompleted": lambda m, c: ev.SubOrchestrationInstanceCompleted(
        **c, task_scheduled_id=m.taskScheduledId, result=read_string(m, "result")
    ),
    "subOrchestrationInstanceFailed": _failed_from(ev.SubOrchestrationInstanceFailed),
    "timerCreated": lambda m, c: ev.TimerCreated(**c, fire_at=_fire_at(m)),
    "timerFired": lambda m, c: ev.TimerFired(**c, timer_id=m.timerId, fire_at=_fire_at(m)),
    "orchestratorStarted": lambda m, c: ev.OrchestratorStarted(**c),
    "orchestratorCompleted": lambda m, c: ev.OrchestratorCompleted(**c),
    "eventSent": lambda m, c: ev.EventSent(
        **c, instance_id=m.instanceId, name=m.name, input=read_string(m, "input")
    ),
    "eventRaised": lambda m, c: ev.EventRaised(**c, name=m.name, input=read_string(m, "input")),
    "continueAsNew": lambda m, c: ev.ContinueAsNew(**c, result=read_string(m, "input")),
    "genericEvent": lambda m, c: ev.GenericEvent(**c, data=read_string(m, "data")),
    "executionSuspended": lambda m, c: ev.ExecutionSuspended(**c, reason=read_string(m, "input")),
    "executionResumed": lambda m, c: ev.ExecutionResumed(**c, reason=read_string(m, "input")),
    "executionRewound": lambda m, c: ev.ExecutionRewound(**c, reason=read_string(m, "reason")),
}
