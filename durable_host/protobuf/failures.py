"""FailureDetails ⇄ `TaskFailureDetails`, as the extension's ProtobufUtils.GetFailureDetails."""

from __future__ import annotations

from typing import Any

from durable_host.protobuf.messages import messages, read_string, string_value
from durable_host.taskhub.events import FailureDetails

__all__ = ["failure_from_proto", "failure_to_proto", "legacy_failure"]


def failure_to_proto(details: FailureDetails | None) -> Any:
    if details is None:
        return None
    return messages().TaskFailureDetails(
        errorType=details.error_type,
        errorMessage=details.error_message,
        stackTrace=string_value(details.stack_trace),
        innerFailure=failure_to_proto(details.inner_failure),
        isNonRetriable=details.is_non_retriable,
    )


def failure_from_proto(message: Any) -> FailureDetails:
    return FailureDetails(
        error_type=message.errorType,
        error_message=message.errorMessage,
        stack_trace=read_string(message, "stackTrace"),
        inner_failure=failure_from_proto(message.innerFailure)
        if message.HasField("innerFailure")
        else None,
        is_non_retriable=message.isNonRetriable,
    )


def legacy_failure(
    details: FailureDetails | None, reason: str | None, stack: str | None
) -> FailureDetails:
    """A task failure's details; an event written without FailureDetails (older DTFx, or the
    1.x protocol's Reason/Details only) gets them from its Reason and Details."""
    if details is not None:
        return details
    return FailureDetails(error_type="", error_message=reason or "", stack_trace=stack)
