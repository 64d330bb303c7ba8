"""Who reaches the gRPC endpoint: loopback callers; off loopback only callers with the token;
never a browser page, whatever host name it used (DNS rebinding)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from durabletask.internal import orchestrator_service_pb2_grpc as pb_grpc
from google.protobuf import empty_pb2

from durable_host.errors import ConfigurationError
from durable_host.grpc_api.listener import GrpcListener


class _Counting(pb_grpc.TaskHubSidecarServiceServicer):
    def __init__(self) -> None:
        self.hellos = 0

    async def Hello(self, request: empty_pb2.Empty, context: object) -> empty_pb2.Empty:
        self.hellos += 1
        return empty_pb2.Empty()


async def test_a_browser_request_gets_no_http1_answer_and_reaches_no_call() -> None:
    """A page on a name that resolves to 127.0.0.1 can only send HTTP/1.1 (browsers never
    speak cleartext HTTP/2): gRPC answers with HTTP/2 frames and closes, no call runs."""
    service = _Counting()
    listener = GrpcListener(service)
    await listener.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(
            b"POST /TaskHubSidecarService/Hello HTTP/1.1\r\n"
            b"Host: rebound.example\r\nOrigin: http://rebound.example\r\n"
            b"Content-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\x00\x00\x00\x00\x00"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=30)
        writer.close()
        assert not answer.startswith(b"HTTP/")
        assert service.hellos == 0
    finally:
        await listener.stop(0)


async def test_beyond_loopback_every_call_needs_the_token() -> None:
    service = _Counting()
    # 127.0.0.1 stands in for a public address: the guard is what is tested.
    listener = GrpcListener(service, loopback=False, token="s3cret")
    await listener.start()
    target = listener.address.removeprefix("http://")
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.TaskHubSidecarServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Hello(empty_pb2.Empty())
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "authorization: Bearer" in (refused.value.details() or "")
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.Hello(empty_pb2.Empty(), metadata=[("authorization", "Bearer wrong")])
            await stub.Hello(empty_pb2.Empty(), metadata=[("authorization", "Bearer s3cret")])
        assert service.hellos == 1
    finally:
        await listener.stop(0)


def test_beyond_loopback_without_a_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="token"):
        GrpcListener(_Counting(), host="0.0.0.0", loopback=False)
