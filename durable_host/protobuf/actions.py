"""An orchestrator's answer (`OrchestratorResponse`) read into typed actions.

A protobuf worker replays the orchestration itself and answers with the NEW actions only,
each with the sequence id it gave its task (DTFx's OrchestratorAction ids); the engine turns
them into history events and messages (engine/replay/proto_decisions.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.protobuf.failures import failure_from_proto
from durable_host.protobuf.history import event_from_proto
from durable_host.protobuf.messages import read_string, read_timestamp
from durable_host.taskhub.events import FailureDetails, HistoryEvent, OrchestrationStatus

__all__ = [
    "CompleteOrchestration",
    "CreateSubOrchestration",
    "CreateTimer",
    "EntityMessage",
    "EntityMessageKind",
    "OrchestratorAction",
    "OrchestratorResult",
    "ScheduleTask",
    "SendEvent",
    "TerminateOrchestration",
    "read_orchestrator_response",
]


@dataclass(frozen=True)
class ScheduleTask:
    id: int
    name: str
    version: str | None = None
    input: str | None = None
    tags: dict[str, str] | None = None


@dataclass(frozen=True)
class CreateSubOrchestration:
    id: int
    name: str
    instance_id: str
    version: str | None = None
    input: str | None = None
    tags: dict[str, str] | None = None


@dataclass(frozen=True)
class CreateTimer:
    id: int
    fire_at: datetime


@dataclass(frozen=True)
class SendEvent:
    id: int
    instance_id: str
    name: str
    data: str | None = None


class EntityMessageKind(enum.Enum):
    CALL = "entityOperationCalled"
    SIGNAL = "entityOperationSignaled"
    LOCK = "entityLockRequested"
    UNLOCK = "entityUnlockSent"


@dataclass(frozen=True)
class EntityMessage:
    """A call, signal, lock request or unlock for an entity (`SendEntityMessageAction`)."""

    id: int
    kind: EntityMessageKind
    target: str
    request_id: str = ""
    operation: str | None = None
    input: str | None = None
    scheduled_time: datetime | None = None
    lock_set: tuple[str, ...] = ()
    position: int = 0


@dataclass(frozen=True)
class CompleteOrchestration:
    id: int
    status: OrchestrationStatus
    result: str | None = None
    details: str | None = None
    failure: FailureDetails | None = None
    carryover_events: list[HistoryEvent] = field(default_factory=list)
    new_version: str | None = None


@dataclass(frozen=True)
class TerminateOrchestration:
    id: int
    instance_id: str
    reason: str | None = None
    recurse: bool = False


OrchestratorAction = (
    ScheduleTask
    | CreateSubOrchestration
    | CreateTimer
    | SendEvent
    | EntityMessage
    | CompleteOrchestration
    | TerminateOrchestration
)


@dataclass(frozen=True)
class OrchestratorResult:
    """What one episode of a protobuf worker answered."""

    actions: list[OrchestratorAction]
    custom_status: str | None = None


def read_orchestrator_response(response: Any) -> OrchestratorResult:
    """Typed actions and custom status of an `OrchestratorResponse`."""
    return OrchestratorResult(
        actions=[_action(a) for a in response.actions],
        custom_status=read_string(response, "customStatus"),
    )


def _action(a: Any) -> OrchestratorAction:
    kind = a.WhichOneof("orchestratorActionType")
    if kind == "scheduleTask":
        m = a.scheduleTask
        return ScheduleTask(
            a.id, m.name, read_string(m, "version"), read_string(m, "input"), _tags(m)
        )
    if kind == "createSubOrchestration":
        m = a.createSubOrchestration
        return CreateSubOrchestration(
            a.id,
            m.name,
            m.instanceId,
            read_string(m, "version"),
            read_string(m, "input"),
            _tags(m),
        )
    if kind == "createTimer":
        fire_at = read_timestamp(a.createTimer, "fireAt")
        if fire_at is None:
            raise MessageFormatError(f"CreateTimerAction {a.id} has no fireAt.")
        return CreateTimer(a.id, fire_at)
    if kind == "sendEvent":
        m = a.sendEvent
        return SendEvent(a.id, m.instance.instanceId, m.name, read_string(m, "data"))
    if kind == "sendEntityMessage":
        return _entity_message(a.id, a.sendEntityMessage)
    if kind == "completeOrchestration":
        m = a.completeOrchestration
        return CompleteOrchestration(
            a.id,
            OrchestrationStatus(m.orchestrationStatus),
            read_string(m, "result"),
            read_string(m, "details"),
            failure_from_proto(m.failureDetails) if m.HasField("failureDetails") else None,
            [event_from_proto(e) for e in m.carryoverEvents],
            read_string(m, "newVersion"),
        )
    if kind == "terminateOrchestration":
        m = a.terminateOrchestration
        return TerminateOrchestration(a.id, m.instanceId, read_string(m, "reason"), m.recurse)
    raise MessageFormatError(
        f"The orchestrator answered with action '{kind}' (id {a.id}), which durable_host does "
        "not know; update durable_host or use an SDK version that matches it."
    )


def _tags(m: Any) -> dict[str, str] | None:
    if "tags" not in m.DESCRIPTOR.fields_by_name:
        return None  # older durabletask messages
    return dict(m.tags) or None


def _entity_message(action_id: int, m: Any) -> EntityMessage:
    kind = EntityMessageKind(m.WhichOneof("EntityMessageType"))
    body = getattr(m, kind.value)
    if kind is EntityMessageKind.LOCK:
        lock_set = tuple(body.lockSet)
        target = lock_set[body.position] if 0 <= body.position < len(lock_set) else ""
        return EntityMessage(
            action_id,
            kind,
            target,
            request_id=body.criticalSectionId,
            lock_set=lock_set,
            position=body.position,
        )
    if kind is EntityMessageKind.UNLOCK:
        return EntityMessage(
            action_id,
            kind,
            read_string(body, "targetInstanceId") or "",
            request_id=body.criticalSectionId,
        )
    return EntityMessage(
        action_id,
        kind,
        read_string(body, "targetInstanceId") or "",
        request_id=body.requestId,
        operation=body.operation,
        input=read_string(body, "input"),
        scheduled_time=read_timestamp(body, "scheduledTime"),
    )
