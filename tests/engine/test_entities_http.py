"""The entity routes of the Durable HTTP API on a real engine, driven by the SDK's own client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import azure.durable_functions as df
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from azure.durable_functions.models.utils import http_utils

from durable_host.engine.runtime import Engine
from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints, client_binding_json
from durable_host.http.durable_api import DurableApi
from tests.engine._helpers import ENTITY_APP_DIR, eventually, running_engine

# The aiohttp test client of the host's HTTP app.
AppClient = TestClient[web.Request, web.Application]


APP_DIR = ENTITY_APP_DIR
BASES = ["/runtime/webhooks/durabletask/", "/durabletask/"]


@pytest.fixture
async def engine(azurite: str, hub_name: str) -> AsyncIterator[Engine]:
    async with running_engine(azurite, hub_name, APP_DIR) as eng:
        yield eng


@pytest.fixture
async def http(engine: Engine) -> AsyncIterator[AppClient]:
    # The origin is only known once the server listens; the API needs it for payload URLs only.
    endpoints = ClientEndpoints(
        origin="http://127.0.0.1", rpc_origin="http://127.0.0.1", hub_name="TestHubName"
    )
    app = create_app(durable_api=DurableApi(engine.client, endpoints))
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def sdk(http: AppClient) -> AsyncIterator[df.DurableOrchestrationClient]:
    origin = str(http.make_url("")).rstrip("/")
    endpoints = ClientEndpoints(origin=origin, rpc_origin=origin, hub_name="TestHubName")
    client = df.DurableOrchestrationClient(client_binding_json(endpoints))
    try:
        yield client
    finally:
        # The SDK's module-level session is bound to this test's loop.
        await http_utils._close_session()


async def wait_state(sdk: df.DurableOrchestrationClient, key: str, expected: Any) -> None:
    async def reached() -> bool:
        response = await sdk.read_entity_state(df.EntityId("counter", key))
        return bool(response.entity_exists and response.entity_state == expected)

    await eventually(reached, what=f"counter {key} == {expected!r} over HTTP")


async def test_sdk_signal_and_read_round_trip(sdk: df.DurableOrchestrationClient) -> None:
    missing = await sdk.read_entity_state(df.EntityId("counter", "web"))
    assert missing.entity_exists is False and missing.entity_state is None
    await sdk.signal_entity(df.EntityId("counter", "web"), "add", 5)
    await sdk.signal_entity(df.EntityId("Counter", "web"), "add", 2)
    await wait_state(sdk, "web", 7)
    # A falsy input is dropped by the SDK (no body): "reset" takes none.
    await sdk.signal_entity(df.EntityId("counter", "web"), "reset", 0)
    await wait_state(sdk, "web", 0)


@pytest.mark.parametrize("base", BASES)
async def test_post_get_list_delete_over_http(http: AppClient, engine: Engine, base: str) -> None:
    resp = await http.post(f"{base}entities/counter/k1?op=add", json=json.dumps(3))
    assert resp.status == 202
    resp = await http.post(f"{base}entities/counter/$?op=add", json=json.dumps(1))
    assert resp.status == 202

    async def state(key: str) -> tuple[int, Any]:
        got = await http.get(f"{base}entities/counter/{key}")
        return (got.status, await got.json(content_type=None))

    async def settled() -> bool:
        return await state("k1") == (200, 3) and await state("$") == (200, 1)

    await eventually(settled, what="both entities to exist")
    assert await engine.client.read_entity("counter", "") is not None  # '$' is the empty key

    listed = await http.get(f"{base}entities/counter?fetchState=true")
    assert listed.status == 200
    items = sorted(await listed.json(), key=lambda e: e["entityId"]["key"])
    assert [(e["entityId"], e["state"]) for e in items] == [
        ({"name": "counter", "key": ""}, 1),
        ({"name": "counter", "key": "k1"}, 3),
    ]
    assert all(e["lastOperationTime"].endswith("Z") for e in items)
    no_state = await (await http.get(f"{base}entities/")).json()
    assert {e["entityId"]["key"] for e in no_state} == {"", "k1"}
    assert all(e["state"] is None for e in no_state)

    resp = await http.delete(f"{base}entities/counter/k1")
    assert resp.status == 202

    async def deleted() -> bool:
        return (await http.get(f"{base}entities/counter/k1")).status == 404

    await eventually(deleted, what="the delete operation")
    remaining = await (await http.get(f"{base}entities/")).json()
    assert [e["entityId"]["key"] for e in remaining] == [""]


async def test_get_instances_lists_entities_too(http: AppClient, engine: Engine) -> None:
    # The extension's ListInstancesAsync passes no entity filter to the Azure Storage
    # provider, so entity scheduler instances (ids "@name@key") are listed with the rest.
    resp = await http.post("/runtime/webhooks/durabletask/entities/counter/listed?op=add", json=1)
    assert resp.status == 202

    async def listed() -> list[Any]:
        page = await (await http.get("/runtime/webhooks/durabletask/instances")).json()
        return [i for i in page if i["instanceId"] == "@counter@listed"]

    (row,) = await eventually(listed, what="the entity in GET instances")
    assert row["runtimeStatus"] == "Running"


async def test_raw_body_is_sent_as_a_string(http: AppClient, engine: Engine) -> None:
    # A non-JSON content type reaches the entity as a string: "raise" echoes it in its error.
    resp = await http.post(
        "/durabletask/entities/counter/txt?op=add",
        data=json.dumps(json.dumps(2)),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 202
    resp = await http.post(
        "/durabletask/entities/counter/txt?op=add",
        data='"3"',
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 202

    async def applied() -> bool:
        entity = await engine.client.read_entity("counter", "txt")
        # text/plain '"3"' arrives as the string '"3"', which get_input decodes to "3": the
        # counter then fails to add a str, so only the JSON operation is applied.
        return entity is not None and entity.state == "2" and engine.entities.operations_run == 2

    await eventually(applied, what="both operations to run")


async def test_bad_requests(http: AppClient) -> None:
    resp = await http.post(
        "/durabletask/entities/counter/k?op=add",
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 400
    resp = await http.post("/durabletask/entities/nope/k?op=add", json=1)
    assert resp.status == 400
    assert "'nope' doesn't exist" in (await resp.json())["ExceptionMessage"]
    resp = await http.put("/durabletask/entities/counter/k")
    assert resp.status == 404
    resp = await http.get("/durabletask/entities/counter/never")
    assert resp.status == 404
