"""The SDK's client calls answered in process give what the same calls over HTTP give.

Each call runs twice on the same application and the same starting state: once through the
SDK's own `http_utils` functions (aiohttp's client, a real socket, aiohttp's server), once
through functions/sdk_client_calls.py's with `InProcessApi` serving the origin. The SDK's
return value, the management calls the engine saw, and the request each handler saw
(method, URL, headers, peer, body) must be the same.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from azure.durable_functions.models.utils import http_utils

from durable_host.functions import sdk_client_calls
from durable_host.http.allowed_hosts import AllowedHosts
from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints
from durable_host.http.durable_api import DurableApi
from durable_host.http.function_keys import AccessKeys
from durable_host.http.local_calls import InProcessApi
from durable_host.taskhub.events import OrchestrationStatus
from tests.http.fake_management import FakeManagementApi

S = OrchestrationStatus
RPC = "/durabletask/"
WEBHOOK = "/runtime/webhooks/durabletask/"


@dataclass
class Served:
    fake: FakeManagementApi
    seen: list[dict[str, Any]]
    origin: str
    api: InProcessApi


def _state(fake: FakeManagementApi) -> None:
    fake.instances.clear()
    fake.calls.clear()
    fake.put("busy", S.Running, input='"in"')
    fake.put("done", S.Completed, output="42")
    fake.put("failed", S.Failed, output='"boom"')
    fake.put("my id é/x", S.Running)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _recorder(seen: list[dict[str, Any]]) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append(
            {
                "method": request.method,
                "url": str(request.url),
                "rel_url": str(request.rel_url),
                "raw_path": request.raw_path,
                "headers": sorted(request.headers.items()),
                "remote": request.remote,
                "host": request.host,
                "scheme": request.scheme,
                "can_read_body": request.can_read_body,
                "body": await request.read(),
            }
        )
        return await handler(request)

    return record


@pytest.fixture(params=["open", "keys"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    fake = FakeManagementApi()
    seen: list[dict[str, Any]] = []
    keys = AccessKeys("k3y") if request.param == "keys" else AccessKeys()
    endpoints = ClientEndpoints(
        origin="http://localhost:7071", rpc_origin="http://127.0.0.1:7071", hub_name="Hub"
    )
    app = create_app(
        durable_api=DurableApi(fake, endpoints),
        keys=keys,
        allowed_hosts=AllowedHosts.for_listener(True, ()),
    )
    app.middlewares.append(_recorder(seen))
    assert sdk_client_calls.install()
    async with TestServer(app, host="127.0.0.1") as server:
        origin = f"http://127.0.0.1:{server.port}"
        yield Served(fake, seen, origin, InProcessApi(app, origin))
    await http_utils._close_session()


Call = Callable[[str], Awaitable[list[Any]]]


async def _both(served: Served, call: Callable[[Any, str], Awaitable[list[Any]]]) -> None:
    """`call(functions, origin)` over HTTP, then in process, from the same state."""
    results = []
    for local in (False, True):
        _state(served.fake)
        served.seen.clear()
        undo = (
            sdk_client_calls.serve_locally(
                served.origin, asyncio.get_running_loop(), served.api.call
            )
            if local
            else (lambda: None)
        )
        try:
            returned = await call(sdk_client_calls if local else http_utils, served.origin)
        finally:
            undo()
        results.append((returned, list(served.fake.calls), list(served.seen)))
    over_http, in_process = (_new_ids_alike(repr(result)) for result in results)
    assert in_process == over_http
    assert len(results[0][2]) == 1


def _new_ids_alike(text: str) -> str:
    """The ids the engine makes for a start without one (32 hex digits) differ by run."""
    return re.sub("[0-9a-f]{32}", "<new id>", text)


POSTS = [
    (RPC + "orchestrators/hello", "in"),
    (RPC + "orchestrators/hello/new-id", {"a": [1, 2], "b": "é"}),
    (RPC + "orchestrators/hello/busy", None),  # 409
    (RPC + "orchestrators/nothere", None),  # 400 with the extension's HttpError
    (RPC + "orchestrators/hello/bad%2Fid", None),
    (RPC + "orchestrators/hello/new?timeout=1&pollingInterval=1", 7),
    (WEBHOOK + "orchestrators/hello/web?taskHub=Other&connection=Conn", None),
    (WEBHOOK + "orchestrators/hello/web?code=k3y", None),
    (RPC + "instances/busy/raiseEvent/go", {"x": 1}),
    (RPC + "instances/done/raiseEvent/go", None),  # 410
    (RPC + "instances/missing/raiseEvent/go", 1),  # 404
    (RPC + "instances/busy/terminate?reason=because it's late", None),
    (RPC + "instances/busy/suspend?reason=r", None),
    (RPC + "instances/failed/rewind?reason=again", None),
    (RPC + "instances/busy/rewind?reason=again", None),
    (RPC + "instances/done/restart", None),
    (RPC + "instances/my id é/x/terminate", None),
    (RPC + "makeprimary/", None),
    (RPC + "nothing/here", None),
]


@pytest.mark.parametrize(("path", "data"), POSTS)
async def test_a_post_gives_what_it_gives_over_http(served: Served, path: str, data: Any) -> None:
    async def call(functions: Any, origin: str) -> list[Any]:
        result: list[Any] = await functions.post_async_request(
            origin + path, data, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "vendor=1", "invocation-1",
        )  # fmt: skip
        return result

    await _both(served, call)


GETS = [
    RPC + "instances/busy",
    RPC + "instances/busy?showInput=false&showHistory=false",
    RPC + "instances/done",
    RPC + "instances/failed?returnInternalServerErrorOnFailure=true",
    RPC + "instances/missing",  # 404, no body: the SDK gets ""
    RPC + "instances/?runtimeStatus=Running,Completed&top=1",
    RPC + "instances/?createdTimeFrom=2024-01-01T00:00:00Z",
    RPC + "instances/my id é%2Fx",
    WEBHOOK + "instances/busy?taskHub=Hub&connection=Storage",
    RPC + "entities/nothing",
]


@pytest.mark.parametrize("path", GETS)
async def test_a_get_gives_what_it_gives_over_http(served: Served, path: str) -> None:
    async def call(functions: Any, origin: str) -> list[Any]:
        result: list[Any] = await functions.get_async_request(origin + path, "invocation-2")
        return result

    await _both(served, call)


DELETES = [
    RPC + "instances/done",
    RPC + "instances/busy",  # 412 with a JSON string
    RPC + "instances/missing",
    RPC + "instances/?createdTimeFrom=2024-01-01T00:00:00Z&createdTimeTo=2025-01-01T00:00:00Z"
    "&runtimeStatus=Completed",
    RPC + "instances/",  # 400: no createdTimeFrom
]


@pytest.mark.parametrize("path", DELETES)
async def test_a_delete_gives_what_it_gives_over_http(served: Served, path: str) -> None:
    async def call(functions: Any, origin: str) -> list[Any]:
        result: list[Any] = await functions.delete_async_request(origin + path, None)
        return result

    await _both(served, call)


async def test_an_engine_failure_gives_what_it_gives_over_http(served: Served) -> None:
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("storage is down")

    served.fake.get_status = broken  # type: ignore[method-assign]

    async def call(functions: Any, origin: str) -> list[Any]:
        result: list[Any] = await functions.get_async_request(origin + RPC + "instances/x")
        return result

    await _both(served, call)


async def test_a_handler_error_fails_the_sdk_call_as_over_http(served: Served) -> None:
    """A handler that raises gets aiohttp's plain-text 500, which the SDK cannot read as JSON."""

    async def broken(*_: object, **__: object) -> None:
        raise web.HTTPBadRequest(text="no")

    served.fake.get_status = broken  # type: ignore[method-assign]
    errors = []
    for functions in (http_utils, sdk_client_calls):
        undo = sdk_client_calls.serve_locally(
            served.origin, asyncio.get_running_loop(), served.api.call
        )
        try:
            url = served.origin + RPC + "instances/x"
            errors.append(await functions.get_async_request(url))
        except json.JSONDecodeError as exc:
            errors.append(str(exc))
        finally:
            undo()
    assert errors[0] == errors[1] == "Expecting value: line 1 column 1 (char 0)"


async def test_calls_elsewhere_or_on_another_loop_go_over_http(served: Served) -> None:
    undo = sdk_client_calls.serve_locally(
        "http://127.0.0.1:1", asyncio.get_running_loop(), served.api.call
    )
    try:
        _state(served.fake)
        # Not the served origin: the SDK's own call, over the socket.
        result = await sdk_client_calls.get_async_request(served.origin + RPC + "instances/busy")
        assert result[0] == 202
        assert served.seen[-1]["remote"] == "127.0.0.1"
    finally:
        undo()
    served.seen.clear()
    other_loop = asyncio.new_event_loop()
    undo = sdk_client_calls.serve_locally(served.origin, other_loop, served.api.call)
    try:
        # Served, but for another loop (a sync function's own loop in a thread): over HTTP.
        result = await sdk_client_calls.get_async_request(served.origin + RPC + "instances/busy")
        assert result[0] == 202
        assert len(served.seen) == 1
    finally:
        undo()
        other_loop.close()


async def test_the_call_goes_on_when_its_caller_is_cancelled(served: Served) -> None:
    """As aiohttp's server lets a handler finish when its client goes away."""
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow_start(*_: object, **__: object) -> str:
        started.set()
        await release.wait()
        finished.append("late")
        return "late"

    served.fake.start_new = slow_start  # type: ignore[method-assign]
    undo = sdk_client_calls.serve_locally(
        served.origin, asyncio.get_running_loop(), served.api.call
    )
    try:
        url = served.origin + RPC + "orchestrators/hello"
        caller = asyncio.ensure_future(sdk_client_calls.post_async_request(url, None))
        await started.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        release.set()
        await served.api.close(timeout=5)
    finally:
        undo()
    assert finished == ["late"]


ANSWERS = [
    (b"", "application/json; charset=utf-8"),
    (b" \r\n\t", "application/json"),
    (b'{"a": "\xc3\xa9"}', "application/json; charset=utf-8"),
    (b'{"a": "\xc3\xa9"}', "application/json"),
    (b'{"a": "\xc3\xa9"}', "text/plain"),
    (b'{"a": "\xe9"}', "application/json; charset=latin-1"),
    (b'{"a": "\xe9"}', 'text/plain; charset="ISO-8859-1"'),
    (b'{"a": "\xc3\xa9"}', "application/json; charset=no-such-codec"),
    (b'  "x"  ', ""),
    (b"[1, 2]", "application/problem+json; Charset=UTF-8"),
]


@pytest.mark.parametrize(("body", "content_type"), ANSWERS)
async def test_an_answer_body_reads_as_aiohttps_client_reads_it(
    body: bytes, content_type: str
) -> None:
    async def answer(_: web.Request) -> web.Response:
        response = web.Response(body=body)
        if content_type:
            response.headers["Content-Type"] = content_type
        else:
            response.content_type = "application/octet-stream"
        return response

    app = web.Application()
    app.router.add_route("*", "/durabletask/answer", answer)
    assert sdk_client_calls.install()
    async with TestServer(app, host="127.0.0.1") as server:
        origin = f"http://127.0.0.1:{server.port}"
        url = origin + "/durabletask/answer"
        read = []
        for functions in (http_utils, sdk_client_calls):
            undo = sdk_client_calls.serve_locally(
                origin, asyncio.get_running_loop(), InProcessApi(app, origin).call
            )
            try:
                read.append(
                    [
                        await functions.get_async_request(url),
                        await functions.post_async_request(url, {"q": 1}),
                        await functions.delete_async_request(url),
                    ]
                )
            finally:
                undo()
    await http_utils._close_session()
    assert read[0] == read[1]
