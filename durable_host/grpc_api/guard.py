"""Who may call the service: off loopback, only callers that carry the token.

Every call must then send `authorization: Bearer <token>`, as the Durable Task Scheduler
asks of its clients. On loopback no token is needed. The HTTP listener's DNS-rebinding rule
(http/allowed_hosts.py, on `Host`) cannot be applied to `:authority` here: grpc-python 1.85
hands a service neither the pseudo-header nor the call's host (not in the invocation
metadata, not on the context). Nor is it needed: the listener speaks HTTP/2 without TLS
(h2c), which browsers never send, and gRPC answers the HTTP/1.1 they do send with HTTP/2
frames and a closed connection, so a page on a rebound name reaches no call
(tests/grpc_api/test_listener.py proves it).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc

__all__ = ["TokenGuard"]


class TokenGuard(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def refusal(self, metadata: Iterable[tuple[str, Any]]) -> str | None:
        """Why a call with these headers is refused, or None to let it through."""
        given = next((str(v) for k, v in metadata if k.lower() == "authorization"), "")
        if hmac.compare_digest(given.encode(), self._expected):
            return None
        return (
            "This endpoint needs the token it printed at start: send the metadata "
            "'authorization: Bearer <token>' with every call."
        )

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        refused = self.refusal(handler_call_details.invocation_metadata or ())
        if refused is None or handler is None:
            return handler
        return _refusing(handler, grpc.StatusCode.UNAUTHENTICATED, refused)


def _refusing(
    handler: grpc.RpcMethodHandler[Any, Any], code: grpc.StatusCode, message: str
) -> grpc.RpcMethodHandler[Any, Any]:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - makes this an async generator, as streaming handlers are

    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **codec)
    return grpc.unary_unary_rpc_method_handler(refuse, **codec)
