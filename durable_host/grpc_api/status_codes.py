"""Engine errors as gRPC statuses: the codes durabletask's clients test for, and our message.

The durabletask SDK and the 2.x Functions SDK look at the status code (NOT_FOUND,
ALREADY_EXISTS, FAILED_PRECONDITION, DEADLINE_EXCEEDED); the details carry the engine's
message, which names the instance and what to do. docs/protocol.md lists the mapping.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from durable_host.errors import (
    ConfigurationError,
    DurableHostError,
    FunctionNotFoundError,
    InstanceAlreadyExistsError,
    InstanceFinishedError,
    InstanceNotFoundError,
    InvalidInstanceIdError,
    InvalidOperationError,
    MessageFormatError,
    StorageError,
)

__all__ = ["RpcRefusal", "rpc", "status_of"]

log = logging.getLogger("durable_host.grpc")

# Most specific first: InstanceAlreadyExistsError is an InvalidOperationError.
_CODES: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (InstanceAlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (InstanceNotFoundError, grpc.StatusCode.NOT_FOUND),
    (FunctionNotFoundError, grpc.StatusCode.NOT_FOUND),
    (InstanceFinishedError, grpc.StatusCode.FAILED_PRECONDITION),
    (InvalidOperationError, grpc.StatusCode.FAILED_PRECONDITION),
    (InvalidInstanceIdError, grpc.StatusCode.INVALID_ARGUMENT),
    (MessageFormatError, grpc.StatusCode.INVALID_ARGUMENT),
    (ConfigurationError, grpc.StatusCode.FAILED_PRECONDITION),
    (StorageError, grpc.StatusCode.UNAVAILABLE),
)


class RpcRefusal(DurableHostError):
    """A call the service refuses with a status of its own choosing (bad arguments, a
    completion token it does not know, a missing feature)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status a failed call answers with."""
    if isinstance(exc, RpcRefusal):
        return exc.code, str(exc)
    for error_type, code in _CODES:
        if isinstance(exc, error_type):
            return code, str(exc)
    if isinstance(exc, DurableHostError):
        return grpc.StatusCode.INTERNAL, str(exc)
    return grpc.StatusCode.INTERNAL, f"durable_host failed: {type(exc).__name__}: {exc}"


_Service = TypeVar("_Service")
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
# A unary service method: (self, request, context) -> response.
_Method = Callable[
    [_Service, _Request, grpc.aio.ServicerContext[_Request, _Response]], Awaitable[_Response]
]


def rpc(handler: _Method[_Service, _Request, _Response]) -> _Method[_Service, _Request, _Response]:
    """Wrap a unary service method: engine errors end the call with their status."""

    @functools.wraps(handler)
    async def call(
        self: _Service, request: _Request, context: grpc.aio.ServicerContext[_Request, _Response]
    ) -> _Response:
        try:
            return await handler(self, request, context)
        except DurableHostError as exc:
            code, message = status_of(exc)
            log.debug("%s: %s %s", handler.__name__, code.name, message)
            await context.abort(code, message)
        except Exception as exc:
            log.exception("gRPC call %s failed", handler.__name__)
            code, message = status_of(exc)
            await context.abort(code, message)

    return call
