"""Durable Task history events and queue messages as typed, frozen dataclasses.

These mirror `DurableTask.Core.History.*Event`, `TaskMessage` and
`DurableTask.AzureStorage.MessageData` (docs/task-hub-layout.md §2-§3). Field
names are the snake_case of the .NET `[DataMember]` names; `dotnet_members.py` maps
them to PascalCase JSON (`event_json.py`, `queue_messages.py`: queues, the SDK's history)
and to table columns (`history_rows.py`).

Payload fields (`input`, `result`, ...) hold JSON *text* exactly as DTFx stores
it (a .NET string), never parsed Python values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class EventType(enum.IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20
    EXECUTION_REWOUND = 21

    @property
    def dotnet_name(self) -> str:
        """The .NET enum name, as stored in the History table (e.g. `TaskScheduled`)."""
        return _DOTNET_EVENT_NAMES[self]


# Computed once: every history row and queue message written or read names its event type.
_DOTNET_EVENT_NAMES = {
    member: "".join(part.capitalize() for part in member.name.split("_")) for member in EventType
}


class OrchestrationStatus(enum.Enum):
    """`OrchestrationStatus` / Instances `RuntimeStatus`, by .NET name (value = .NET int)."""

    Running = 0
    Completed = 1
    ContinuedAsNew = 2
    Failed = 3
    Canceled = 4
    Terminated = 5
    Pending = 6
    Suspended = 7

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {
    OrchestrationStatus.Completed,
    OrchestrationStatus.Failed,
    OrchestrationStatus.Canceled,
    OrchestrationStatus.Terminated,
}


@dataclass(frozen=True)
class OrchestrationInstance:
    """`{InstanceId, ExecutionId}`; ExecutionId None targets the instance's current execution."""

    instance_id: str
    execution_id: str | None = None


@dataclass(frozen=True)
class ParentInstance:
    """`ParentInstance` on a sub-orchestration's ExecutionStarted."""

    name: str | None
    version: str | None
    orchestration_instance: OrchestrationInstance
    task_schedule_id: int


@dataclass(frozen=True)
class FailureDetails:
    """`FailureDetails` (ErrorType, ErrorMessage, StackTrace, InnerFailure, IsNonRetriable)."""

    error_type: str
    error_message: str
    stack_trace: str | None = None
    inner_failure: FailureDetails | None = None
    is_non_retriable: bool = False


# --------------------------------------------------------------------------- history events


@dataclass(frozen=True, kw_only=True)
class HistoryEvent:
    """Common fields of every DTFx history event."""

    EVENT_TYPE: ClassVar[EventType]

    timestamp: datetime
    event_id: int = -1
    is_played: bool = False

    @property
    def event_type(self) -> EventType:
        return self.EVENT_TYPE


@dataclass(frozen=True, kw_only=True)
class ExecutionStarted(HistoryEvent):
    EVENT_TYPE = EventType.EXECUTION_STARTED
    orchestration_instance: OrchestrationInstance
    name: str
    version: str = ""
    input: str | None = None
    parent_instance: ParentInstance | None = None
    tags: dict[str, str] | None = None
    correlation: str | None = None
    parent_trace_context: dict[str, Any] | None = None
    scheduled_start_time: datetime | None = None
    generation: int = 0


@dataclass(frozen=True, kw_only=True)
class ExecutionCompleted(HistoryEvent):
    EVENT_TYPE = EventType.EXECUTION_COMPLETED
    orchestration_status: OrchestrationStatus
    result: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionTerminated(HistoryEvent):
    EVENT_TYPE = EventType.EXECUTION_TERMINATED
    input: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskScheduled(HistoryEvent):
    EVENT_TYPE = EventType.TASK_SCHEDULED
    name: str
    version: str | None = None
    input: str | None = None
    tags: dict[str, str] | None = None
    parent_trace_context: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class TaskCompleted(HistoryEvent):
    EVENT_TYPE = EventType.TASK_COMPLETED
    task_scheduled_id: int
    result: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskFailed(HistoryEvent):
    EVENT_TYPE = EventType.TASK_FAILED
    task_scheduled_id: int
    reason: str | None = None
    details: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(frozen=True, kw_only=True)
class SubOrchestrationInstanceCreated(HistoryEvent):
    EVENT_TYPE = EventType.SUB_ORCHESTRATION_INSTANCE_CREATED
    name: str
    version: str | None = None
    instance_id: str
    input: str | None = None
    client_span_id: str | None = None
    tags: dict[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class SubOrchestrationInstanceCompleted(HistoryEvent):
    EVENT_TYPE = EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED
    task_scheduled_id: int
    result: str | None = None


@dataclass(frozen=True, kw_only=True)
class SubOrchestrationInstanceFailed(HistoryEvent):
    EVENT_TYPE = EventType.SUB_ORCHESTRATION_INSTANCE_FAILED
    task_scheduled_id: int
    reason: str | None = None
    details: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(frozen=True, kw_only=True)
class TimerCreated(HistoryEvent):
    EVENT_TYPE = EventType.TIMER_CREATED
    fire_at: datetime


@dataclass(frozen=True, kw_only=True)
class TimerFired(HistoryEvent):
    EVENT_TYPE = EventType.TIMER_FIRED
    timer_id: int
    fire_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrchestratorStarted(HistoryEvent):
    EVENT_TYPE = EventType.ORCHESTRATOR_STARTED


@dataclass(frozen=True, kw_only=True)
class OrchestratorCompleted(HistoryEvent):
    EVENT_TYPE = EventType.ORCHESTRATOR_COMPLETED


@dataclass(frozen=True, kw_only=True)
class EventSent(HistoryEvent):
    EVENT_TYPE = EventType.EVENT_SENT
    instance_id: str
    name: str
    input: str | None = None


@dataclass(frozen=True, kw_only=True)
class EventRaised(HistoryEvent):
    EVENT_TYPE = EventType.EVENT_RAISED
    name: str
    input: str | None = None
    parent_trace_context: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class ContinueAsNew(HistoryEvent):
    EVENT_TYPE = EventType.CONTINUE_AS_NEW
    orchestration_status: OrchestrationStatus = OrchestrationStatus.ContinuedAsNew
    result: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(frozen=True, kw_only=True)
class GenericEvent(HistoryEvent):
    EVENT_TYPE = EventType.GENERIC_EVENT
    data: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionSuspended(HistoryEvent):
    EVENT_TYPE = EventType.EXECUTION_SUSPENDED
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionResumed(HistoryEvent):
    EVENT_TYPE = EventType.EXECUTION_RESUMED
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionRewound(HistoryEvent):
    EVENT_TYPE = EventType.EXECUTION_REWOUND
    reason: str | None = None


EVENT_CLASSES: dict[EventType, type[HistoryEvent]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        ExecutionStarted,
        ExecutionCompleted,
        ExecutionTerminated,
        TaskScheduled,
        TaskCompleted,
        TaskFailed,
        SubOrchestrationInstanceCreated,
        SubOrchestrationInstanceCompleted,
        SubOrchestrationInstanceFailed,
        TimerCreated,
        TimerFired,
        OrchestratorStarted,
        OrchestratorCompleted,
        EventSent,
        EventRaised,
        ContinueAsNew,
        GenericEvent,
        ExecutionSuspended,
        ExecutionResumed,
        ExecutionRewound,
    )
}


# --------------------------------------------------------------------------- queue messages


@dataclass(frozen=True)
class TaskMessage:
    """`DurableTask.Core.TaskMessage`: one event addressed to one orchestration instance."""

    event: HistoryEvent
    orchestration_instance: OrchestrationInstance
    sequence_number: int = 0


@dataclass(frozen=True)
class MessageData:
    """`DurableTask.AzureStorage.MessageData`: the body of every control/work-item queue message.

    `task_message` is None only in the stub that points at a large-message blob
    (`compressed_blob_name`); readers resolve the blob before handing it on.
    """

    activity_id: str
    task_message: TaskMessage | None
    sequence_number: int = 0
    compressed_blob_name: str | None = None
    episode: int | None = None
    sender: OrchestrationInstance = field(default_factory=lambda: OrchestrationInstance("", ""))
    serializable_trace_context: str | None = None
