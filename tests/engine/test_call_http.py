"""`context.call_http` through the built-in HTTP activity, against a local aiohttp server."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from durable_host.engine.dispatch.http_activity import HttpActivity
from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionInvoker, load_app
from durable_host.taskhub.events import TaskCompleted, TaskScheduled, TimerCreated
from tests.engine._helpers import (
    COMPLETED,
    drop_hub,
    eventually,
    finish,
    history,
    output,
    running_engine,
    settings,
    start,
)

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "http_calls"
BIG_BODY = "0123456789abcdef" * 64 * 1024  # 1 MiB: the result goes to the large-message blobs


@dataclass
class Remote:
    """The service the orchestrations call; it records what it received."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    polls_before_done: int = 2
    polls: int = 0
    retry_after: str | None = "0"
    server: TestServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    def accepted_headers(self) -> dict[str, str]:
        headers = {"Location": self.url("/jobs/1")}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return headers

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append(
            {"method": request.method, "headers": dict(request.headers), "body": body}
        )
        return web.json_response(
            {"method": request.method, "body": body},
            headers={"X-Custom": "yes", "Set-Cookie": "a=1"},
        )

    async def start_job(self, request: web.Request) -> web.Response:
        self.requests.append({"method": request.method, "headers": dict(request.headers)})
        return web.Response(status=202, headers=self.accepted_headers())

    async def job_status(self, request: web.Request) -> web.Response:
        self.polls += 1
        self.requests.append({"method": request.method, "headers": dict(request.headers)})
        if self.polls <= self.polls_before_done:
            return web.Response(status=202, headers=self.accepted_headers())
        return web.json_response({"job": 1, "state": "done", "polls": self.polls})

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(text=BIG_BODY)


@pytest.fixture
async def remote() -> AsyncIterator[Remote]:
    remote = Remote()
    app = web.Application()
    app.router.add_route("*", "/echo", remote.echo)
    app.router.add_post("/jobs", remote.start_job)
    app.router.add_get("/jobs/1", remote.job_status)
    app.router.add_get("/status/{code}", remote.status)
    app.router.add_get("/big", remote.big)
    remote.server = TestServer(app)
    await remote.server.start_server()
    try:
        yield remote
    finally:
        await remote.server.close()


@pytest.fixture
async def engine(azurite: str, hub_name: str) -> AsyncIterator[Engine]:
    async with running_engine(azurite, hub_name, APP_DIR) as eng:
        yield eng


async def fetch(engine: Engine, request: dict[str, Any]) -> dict[str, Any]:
    instance_id = await start(engine, "fetch", request)
    status = await finish(engine, instance_id)
    assert status.runtime_status is COMPLETED, status.output
    return dict(output(status))


async def test_200_with_content_headers_and_the_response_as_the_sdk_reads_it(
    engine: Engine, remote: Remote
) -> None:
    result = await fetch(
        engine,
        {
            "method": "POST",
            "uri": remote.url("/echo"),
            "content": {"a": 1},
            "headers": {"X-Trace": "t-1", "Content-Type": "application/json"},
        },
    )
    response = result["response"]
    assert response["statusCode"] == 200
    assert json.loads(response["content"]) == {"method": "POST", "body": '{"a": 1}'}
    assert response["headers"]["X-Custom"] == "yes"
    # As in .NET, content headers (Content-Type, Content-Length) are not in the headers.
    assert "Content-Type" not in response["headers"]
    assert result["after"] == "AFTER"
    sent = remote.requests[0]
    assert sent["headers"]["X-Trace"] == "t-1"
    assert sent["headers"]["Content-Type"] == "application/json"


async def test_raw_content_without_a_content_type_is_sent_as_text_plain(
    engine: Engine, remote: Remote
) -> None:
    result = await fetch(
        engine, {"method": "PUT", "uri": remote.url("/echo"), "content": "hi", "raw": True}
    )
    assert json.loads(result["response"]["content"]) == {"method": "PUT", "body": "hi"}
    assert remote.requests[0]["headers"]["Content-Type"] == "text/plain"


async def test_the_history_holds_one_builtin_http_activity(engine: Engine, remote: Remote) -> None:
    instance_id = await start(engine, "fetch", {"method": "GET", "uri": remote.url("/echo")})
    await finish(engine, instance_id)
    events = await history(engine, instance_id)
    scheduled = [e for e in events if isinstance(e, TaskScheduled)]
    assert [e.name for e in scheduled] == ["BuiltIn::HttpActivity", "shout"]
    assert [e.event_id for e in scheduled] == [0, 1]
    request = json.loads(scheduled[0].input or "")[0]
    assert request["method"] == "GET" and request["uri"] == remote.url("/echo")
    completed = next(e for e in events if isinstance(e, TaskCompleted))
    assert json.loads(completed.result or "")["statusCode"] == 200


async def test_202_is_polled_at_location_until_it_finishes(engine: Engine, remote: Remote) -> None:
    result = await fetch(
        engine,
        {
            "method": "POST",
            "uri": remote.url("/jobs"),
            "content": "go",
            "headers": {"x-functions-key": "secret", "X-Trace": "t-2"},
        },
    )
    assert result["response"]["statusCode"] == 200
    assert json.loads(result["response"]["content"]) == {"job": 1, "state": "done", "polls": 3}
    assert [r["method"] for r in remote.requests] == ["POST", "GET", "GET", "GET"]
    # Polls keep the caller's headers but not the function key (as the extension).
    assert all(r["headers"].get("X-Trace") == "t-2" for r in remote.requests)
    assert "x-functions-key" in {k.lower() for k in remote.requests[0]["headers"]}
    assert all(
        "x-functions-key" not in {k.lower() for k in r["headers"]} for r in remote.requests[1:]
    )


@pytest.mark.parametrize("code", [404, 500])
async def test_error_statuses_reach_the_orchestrator_as_responses(
    engine: Engine, remote: Remote, code: int
) -> None:
    result = await fetch(engine, {"method": "GET", "uri": remote.url(f"/status/{code}")})
    assert result["response"]["statusCode"] == code
    assert result["response"]["content"] == "nope"


async def test_an_unreachable_host_fails_the_task(engine: Engine) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await fetch(engine, {"method": "GET", "uri": f"http://127.0.0.1:{port}/x"})
    assert "Activity function 'BuiltIn::HttpActivity' failed" in result["error"]
    assert f"GET http://127.0.0.1:{port}/x failed" in result["error"]


async def test_a_managed_identity_token_source_fails_with_the_fix(
    engine: Engine, remote: Remote
) -> None:
    result = await fetch(
        engine,
        {"method": "GET", "uri": remote.url("/echo"), "resource": "https://management.core"},
    )
    assert "AzureManagedIdentity" in result["error"]
    assert "not have locally" in result["error"] and "Authorization: Bearer" in result["error"]
    assert remote.requests == []


async def test_a_large_body_comes_back_whole(engine: Engine, remote: Remote) -> None:
    result = await fetch(engine, {"method": "GET", "uri": remote.url("/big")})
    assert result["response"]["content"] == BIG_BODY


async def test_a_host_restart_while_polling_resumes_on_the_next_host(
    azurite: str, hub_name: str, remote: Remote
) -> None:
    remote.polls_before_done = 10**6  # polls until the test lets it finish
    index = load_app(APP_DIR)
    first = Engine(azurite, settings(hub_name), index, FunctionInvoker(index))
    await first.start()
    instance_id = await start(first, "fetch", {"method": "POST", "uri": remote.url("/jobs")})

    async def polling() -> bool:
        return remote.polls >= 2

    await eventually(polling, what="the first host to poll the job")
    await first.stop()  # the poll is interrupted; its work item goes back to the queue
    first.invoker.close(wait=False)
    polls_at_stop = remote.polls
    remote.polls_before_done = polls_at_stop + 2

    second = Engine(azurite, settings(hub_name), index, FunctionInvoker(index))
    await second.start()
    try:
        status = await finish(second, instance_id)
        assert status.runtime_status is COMPLETED, status.output
        response = output(status)["response"]
        assert response["statusCode"] == 200
        assert json.loads(response["content"])["polls"] == polls_at_stop + 3
        # The call ran again from its first request on the second host.
        assert [r["method"] for r in remote.requests].count("POST") == 2
        assert not any(isinstance(e, TimerCreated) for e in await history(second, instance_id))
    finally:
        await second.stop()
        second.invoker.close(wait=False)
        await drop_hub(azurite, hub_name)


async def test_a_202_without_retry_after_waits_the_configured_default(remote: Remote) -> None:
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)

    remote.polls_before_done = 1
    remote.retry_after = None
    activity = HttpActivity(default_async_sleep=0.01, sleep=recording_sleep)
    try:
        result = await activity.run(json.dumps({"method": "POST", "uri": remote.url("/jobs")}))
    finally:
        await activity.close()
    assert result.error_message is None and result.result_json is not None
    assert json.loads(result.result_json)["statusCode"] == 200
    assert waits == [0.01, 0.01]


async def test_the_engine_gives_its_http_activity_the_configured_default(
    azurite: str, hub_name: str
) -> None:
    index = load_app(APP_DIR)
    invoker = FunctionInvoker(index)
    engine = Engine(azurite, settings(hub_name, http_async_sleep_default=0.01), index, invoker)
    try:
        assert engine.http_activity.default_async_sleep == 0.01
    finally:
        await engine.storage.close()
        invoker.close(wait=False)
