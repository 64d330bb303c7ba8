"""The engine client's answers as protobuf messages, and protobuf queries as the engine's.

Payloads stay the JSON text the task hub stores: the durabletask SDKs put JSON text in
their `StringValue`s too, so nothing is parsed or re-encoded on the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import timestamp_pb2, wrappers_pb2

from durable_host.engine.client.api import EntityStatus, InstanceQuery, InstanceStatus
from durable_host.taskhub.events import FailureDetails, OrchestrationStatus

__all__ = [
    "entity_metadata",
    "failure_details",
    "instance_query",
    "orchestration_state",
    "purge_query",
    "statuses",
    "string_value",
    "timestamp",
    "to_datetime",
]


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    return stamp


def to_datetime(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=timezone.utc)


def string_value(text: str | None) -> wrappers_pb2.StringValue | None:
    return None if text is None else wrappers_pb2.StringValue(value=text)


def statuses(values: Iterable[int]) -> frozenset[OrchestrationStatus]:
    """Protobuf `OrchestrationStatus` numbers: the same numbers as DTFx's enum."""
    return frozenset(OrchestrationStatus(int(v)) for v in values)


def failure_details(details: FailureDetails) -> pb.TaskFailureDetails:
    message = pb.TaskFailureDetails(
        errorType=details.error_type,
        errorMessage=details.error_message,
        stackTrace=string_value(details.stack_trace),
        isNonRetriable=details.is_non_retriable,
    )
    if details.inner_failure is not None:
        message.innerFailure.CopyFrom(failure_details(details.inner_failure))
    return message


def orchestration_state(
    status: InstanceStatus,
    *,
    with_payloads: bool,
    failure: FailureDetails | None = None,
) -> pb.OrchestrationState:
    """`OrchestrationState` of one instance; inputs, outputs and custom status only when
    the caller asked for them (`getInputsAndOutputs`, `fetchInputsAndOutputs`)."""
    state = pb.OrchestrationState(
        instanceId=status.instance_id,
        name=status.name,
        version=string_value(status.version or None),
        orchestrationStatus=status.runtime_status.value,  # type: ignore[arg-type]
        createdTimestamp=timestamp(status.created_time),
        lastUpdatedTimestamp=timestamp(status.last_updated_time),
        executionId=string_value(status.execution_id),
        tags=status.tags or {},
    )
    if status.completed_time is not None and status.runtime_status.is_terminal:
        state.completedTimestamp.CopyFrom(timestamp(status.completed_time))
    if status.scheduled_start_time is not None:
        state.scheduledStartTimestamp.CopyFrom(timestamp(status.scheduled_start_time))
    if with_payloads:
        for name, text in (
            ("input", status.input),
            ("output", status.output),
            ("customStatus", status.custom_status),
        ):
            if text is not None:
                getattr(state, name).value = text
        if failure is not None:
            state.failureDetails.CopyFrom(failure_details(failure))
    return state


def instance_query(query: pb.InstanceQuery) -> InstanceQuery:
    """The Instances filter of a `QueryInstances` call (entities left out, as DTFx's
    `ExcludeEntities` query does for the durable clients)."""
    return InstanceQuery(
        runtime_status=statuses(query.runtimeStatus),
        created_time_from=(
            to_datetime(query.createdTimeFrom) if query.HasField("createdTimeFrom") else None
        ),
        created_time_to=to_datetime(query.createdTimeTo)
        if query.HasField("createdTimeTo")
        else None,
        instance_id_prefix=(
            query.instanceIdPrefix.value if query.HasField("instanceIdPrefix") else None
        ),
        orchestrations_only=True,
    )


def purge_query(purge: pb.PurgeInstanceFilter) -> InstanceQuery | None:
    """A purge filter; None when it can match nothing. Only finished instances are purged
    (a running one's history is still being written), as the durabletask backends do."""
    wanted = statuses(purge.runtimeStatus)
    terminal = frozenset(s for s in OrchestrationStatus if s.is_terminal)
    kept = (wanted & terminal) if wanted else terminal
    if not kept:
        return None
    return InstanceQuery(
        runtime_status=kept,
        created_time_from=(
            to_datetime(purge.createdTimeFrom) if purge.HasField("createdTimeFrom") else None
        ),
        created_time_to=to_datetime(purge.createdTimeTo)
        if purge.HasField("createdTimeTo")
        else None,
        orchestrations_only=True,
    )


def entity_metadata(entity: EntityStatus, *, with_state: bool) -> pb.EntityMetadata:
    metadata = pb.EntityMetadata(
        instanceId=f"@{entity.name}@{entity.key}",
        lastModifiedTime=timestamp(entity.last_operation_time),
    )
    if with_state and entity.state is not None:
        metadata.serializedState.value = entity.state
    return metadata
