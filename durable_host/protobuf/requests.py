"""Work items as protobuf requests: an orchestration episode (`OrchestratorRequest`), an
activity (`ActivityRequest`), and base64 in and out of a trigger, as the extension passes them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.protobuf.failures import failure_from_proto
from durable_host.protobuf.history import event_to_proto, instance_to_proto, trace_to_proto
from durable_host.protobuf.messages import make, messages, read_string, string_value
from durable_host.protobuf.request_bytes import EncodedRequest
from durable_host.taskhub.events import (
    FailureDetails,
    HistoryEvent,
    OrchestrationInstance,
    TaskScheduled,
)

__all__ = [
    "ActivityOutcome",
    "activity_request",
    "decode_base64",
    "encode_base64",
    "orchestrator_request",
    "read_activity_response",
]


def orchestrator_request(
    instance_id: str,
    execution_id: str | None,
    past_events: Sequence[HistoryEvent],
    new_events: Sequence[HistoryEvent],
    *,
    entity_reorder_window: timedelta | None = None,
) -> Any:
    """The `OrchestratorRequest` of one episode: the stored history and what is new.

    `entity_reorder_window` fills `entityParameters` (the extension sends them when entities
    are on, as they always are on the Azure Storage provider). An episode of a session takes
    `request_bytes.encoded_orchestrator_request` instead: the same bytes, each past event
    encoded once per execution."""
    pb = messages()
    request = pb.OrchestratorRequest(
        instanceId=instance_id,
        executionId=string_value(execution_id),
        pastEvents=[event_to_proto(e) for e in past_events],
        newEvents=[event_to_proto(e) for e in new_events],
    )
    if entity_reorder_window is not None:
        request.entityParameters.entityMessageReorderWindow.FromTimedelta(entity_reorder_window)
    return request


def activity_request(event: TaskScheduled, instance: OrchestrationInstance) -> Any:
    """The `ActivityRequest` for a TaskScheduled (its Input passed as stored)."""
    return make(
        messages().ActivityRequest,
        name=event.name,
        version=string_value(event.version),
        input=string_value(event.input),
        orchestrationInstance=instance_to_proto(instance),
        taskId=event.event_id,
        parentTraceContext=trace_to_proto(event.parent_trace_context),
        tags=event.tags or {},
    )


@dataclass(frozen=True)
class ActivityOutcome:
    """An `ActivityResponse` read: the result JSON text, or the failure."""

    result: str | None = None
    failure: FailureDetails | None = None


def read_activity_response(response: Any) -> ActivityOutcome:
    if response.HasField("failureDetails"):
        return ActivityOutcome(failure=failure_from_proto(response.failureDetails))
    return ActivityOutcome(result=read_string(response, "result"))


def encode_base64(message: Any) -> str:
    """A message (or an `EncodedRequest`) as the extension hands it to a trigger: base64 of
    its bytes."""
    data = message.data if isinstance(message, EncodedRequest) else message.SerializeToString()
    return base64.b64encode(data).decode("ascii")


def decode_base64(text: object, message_type: str) -> Any:
    """A trigger's base64 answer parsed as `message_type` (e.g. "OrchestratorResponse")."""
    if not isinstance(text, str) or not text:
        raise MessageFormatError(
            f"The function returned {type(text).__name__} where a base64 {message_type} was "
            "expected: the Durable Functions SDK in the app did not answer in the protobuf "
            "protocol (is the app's azure-functions-durable / durabletask up to date?)."
        )
    cls = getattr(messages(), message_type)
    message = cls()
    try:
        message.ParseFromString(base64.b64decode(text.strip().strip('"'), validate=False))
    except Exception as exc:
        raise MessageFormatError(
            f"The function's answer is not a base64 {message_type}: {exc}"
        ) from exc
    return message
