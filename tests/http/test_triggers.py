from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import azure.functions as func
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from durable_host.functions import FunctionInvoker, HttpFunction, load_app
from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints, client_binding_json
from durable_host.http.function_keys import AccessKeys
from durable_host.http.triggers import HttpTriggers, function_route

# The aiohttp test client of the host's HTTP app.
AppClient = TestClient[web.Request, web.Application]

APP = """
import logging
import azure.functions as func
import azure.durable_functions as df

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello/{name?}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hi {req.route_params.get('name')} {req.params.get('x')}")


@app.route(route="items/{id:int}", methods=["POST", "PUT"])
async def items(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"id": req.route_params["id"], "method": req.method, "body": req.get_json(),
                    "header": req.headers.get("x-custom"), "url": req.url}),
        status_code=201, mimetype="application/json", headers={"X-Out": "1"})


@app.route(route="secret", auth_level=func.AuthLevel.FUNCTION)
def secret(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(b"ok", headers={"Content-Type": "application/octet-stream"})


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("kaput")


@app.route(route="links/{id}")
@app.durable_client_input(client_name="client")
async def links(req: func.HttpRequest, client) -> func.HttpResponse:
    return client.create_check_status_response(req, req.route_params["id"])


@app.function_name("noroute")
@app.route()
def unnamed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("default route")
""".replace("import logging", "import json\nimport logging")

ENDPOINTS = ClientEndpoints(
    origin="http://localhost:7071", rpc_origin="http://127.0.0.1:7071", hub_name="TestHubName"
)


async def _client(app_dir: Path, keys: AccessKeys) -> AppClient:
    index = load_app(app_dir)
    invoker = FunctionInvoker(index)

    async def invoke(
        fn: HttpFunction, request: func.HttpRequest, binding: str | None
    ) -> func.HttpResponse:
        return await invoker.invoke_http(fn, request, client_binding_json=binding)

    triggers = HttpTriggers(
        index.http,
        route_prefix="api",
        invoke=invoke,
        binding_for=lambda fn: client_binding_json(ENDPOINTS),
        keys=keys,
    )
    return TestClient(TestServer(create_app(triggers=triggers.handle, keys=keys)))


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "function_app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    return tmp_path


@pytest.fixture
async def client(app_dir: Path) -> AsyncIterator[AppClient]:
    async with await _client(app_dir, AccessKeys()) as test_client:
        yield test_client


async def test_get_with_optional_route_param_and_query(client: AppClient) -> None:
    resp = await client.get("/api/hello/Bob?x=1")
    assert (resp.status, await resp.text()) == (200, "hi Bob 1")
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    resp = await client.get("/API/HELLO")
    assert await resp.text() == "hi None None"


async def test_typed_route_body_headers_and_response_shape(client: AppClient) -> None:
    resp = await client.put("/api/items/42", json={"a": 1}, headers={"X-Custom": "yes"})
    assert resp.status == 201
    assert resp.headers["X-Out"] == "1"
    assert resp.headers["Content-Type"].startswith("application/json")
    body = await resp.json()
    assert body["id"] == "42" and body["method"] == "PUT" and body["body"] == {"a": 1}
    assert body["header"] == "yes"
    assert body["url"].endswith("/api/items/42")


async def test_404_and_405(client: AppClient) -> None:
    resp = await client.get("/api/items/notanint")
    assert resp.status == 404
    resp = await client.get("/api/items/42")
    assert resp.status == 405
    assert resp.headers["Allow"] == "POST, PUT"
    resp = await client.post("/api/hello/x")
    assert resp.status == 405 and resp.headers["Allow"] == "GET"
    assert (await client.get("/api/nowhere")).status == 404


async def test_explicit_content_type_header_wins(client: AppClient) -> None:
    resp = await client.get("/api/secret")
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert await resp.read() == b"ok"


async def test_user_exception_is_500_json_without_stack(
    client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:

    resp = await client.get("/api/boom")
    assert resp.status == 500
    body = await resp.json()
    assert "kaput" in body["error"]
    assert "Traceback" not in json.dumps(body)
    assert any("kaput" in r.getMessage() for r in caplog.records)


async def test_durable_client_gets_a_binding_the_sdk_accepts(client: AppClient) -> None:
    resp = await client.get("/api/links/abc")
    assert resp.status == 202
    body = await resp.json()
    origin = f"http://{resp.url.host}:{resp.url.port}"
    assert body["id"] == "abc"
    assert body["statusQueryGetUri"] == (
        f"{origin}/runtime/webhooks/durabletask/instances/abc?taskHub=TestHubName&connection=Storage"
    )
    assert resp.headers["Location"] == body["statusQueryGetUri"]


async def test_default_route_is_function_name(client: AppClient) -> None:
    resp = await client.delete("/api/noroute")
    assert (resp.status, await resp.text()) == (200, "default route")


async def test_function_keys_when_required(app_dir: Path) -> None:
    async with await _client(app_dir, AccessKeys("s3cret")) as keyed:
        assert (await keyed.get("/api/secret")).status == 401
        assert (await keyed.get("/api/secret?code=wrong")).status == 401
        assert (await keyed.get("/api/secret?code=s3cret")).status == 200
        resp = await keyed.get("/api/secret", headers={"x-functions-key": "s3cret"})
        assert resp.status == 200
        # anonymous functions stay open
        assert (await keyed.get("/api/hello/x")).status == 200


def test_function_route() -> None:
    index_fn = HttpFunction(
        name="fn",
        route="",
        methods=(),
        auth_level="ANONYMOUS",
        user_function=print,
        trigger_param="req",
        requires_context=False,
        is_async=False,
        function_id="fn",
        function_directory=".",
    )
    assert function_route(index_fn, "api") == "api/fn"
    assert function_route(replace(index_fn, route="/a/b/"), "") == "a/b"
