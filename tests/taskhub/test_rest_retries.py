"""The thin client's retry policy against a local HTTP server that misbehaves on purpose
(a unit test of the policy: the storage behaviour itself is tested on Azurite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from azure.core.exceptions import ServiceResponseError

from durable_host.taskhub.rest_client import RestClient, RestResponseError, Service, StorageAccount

SENT = (
    "<QueueMessagesList><QueueMessage><MessageId>m1</MessageId>"
    "<PopReceipt>r1</PopReceipt></QueueMessage></QueueMessagesList>"
)
# Answers the n-th request the server receives.
Handler = Callable[[web.Request, int], Awaitable[web.StreamResponse]]
# Serves a handler; returns a client pointed at it and the methods of the requests it got.
Serve = Callable[[Handler], Awaitable[tuple[RestClient, list[str]]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []
    calls: list[str] = []

    async def start(handler: Handler) -> tuple[RestClient, list[str]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            calls.append(request.method)
            return await handler(request, len(calls))

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        connection = ";".join(
            ["AccountName=acct", "AccountKey=a2V5"]
            + [f"{s}Endpoint=http://127.0.0.1:{port}/acct" for s in ("Blob", "Queue", "Table")]
        )
        account = StorageAccount.parse(connection)
        assert account is not None
        return RestClient(account, retry_total=3, backoff=0.01, read_timeout=0.2), calls

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_a_busy_answer_is_retried_until_it_succeeds(serve: Serve) -> None:
    async def handler(request: web.Request, n: int) -> web.Response:
        assert request.headers["Authorization"].startswith("SharedKey acct:")
        if n <= 2:
            return web.Response(status=503, headers={"x-ms-error-code": "ServerBusy"})
        return web.Response(status=201, text=SENT)

    client, calls = await serve(handler)
    response = await client.request(Service.QUEUE, "POST", "q/messages", body=b"<x/>")
    assert response.status == 201 and calls == ["POST"] * 3
    await client.close()


async def test_a_refusal_is_not_retried_and_keeps_the_service_code(serve: Serve) -> None:
    async def handler(request: web.Request, n: int) -> web.Response:
        body = "<Error><Code>MessageNotFound</Code><Message>gone\nRequestId:1</Message></Error>"
        return web.Response(status=404, text=body)

    client, calls = await serve(handler)
    with pytest.raises(RestResponseError) as refused:
        await client.request(Service.QUEUE, "DELETE", "q/messages/m1", query={"popreceipt": "r"})
    assert (refused.value.status_code, refused.value.error_code) == (404, "MessageNotFound")
    assert refused.value.message == "gone" and calls == ["DELETE"]
    await client.close()


async def test_a_post_whose_answer_is_lost_is_not_repeated(serve: Serve) -> None:
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        await asyncio.sleep(1)  # past the client's read timeout: the request may have landed
        return web.Response(status=201, text=SENT)

    client, calls = await serve(handler)
    with pytest.raises(ServiceResponseError):
        await client.request(Service.QUEUE, "POST", "q/messages", body=b"<x/>")
    assert calls == ["POST"]
    await client.close()


async def test_a_get_whose_answer_is_lost_is_repeated(serve: Serve) -> None:
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        if n == 1:
            await asyncio.sleep(1)
        return web.Response(status=200, text="<QueueMessagesList/>")

    client, calls = await serve(handler)
    response = await client.request(Service.QUEUE, "GET", "q/messages")
    assert response.status == 200 and calls == ["GET", "GET"]
    await client.close()


async def test_a_reset_batch_is_sent_again(serve: Serve) -> None:
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        if n == 1:
            assert request.transport is not None
            request.transport.abort()  # the connection drops under the request
        return web.Response(status=202)

    client, calls = await serve(handler)
    response = await client.request(
        Service.TABLE, "POST", "$batch", body=b"--b--", ok=(202,), replay_on_reset=True
    )
    assert response.status == 202 and calls == ["POST", "POST"]
    await client.close()
