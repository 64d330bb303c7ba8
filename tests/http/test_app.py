from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints
from durable_host.http.durable_api import DurableApi
from durable_host.http.function_keys import AccessKeys, is_loopback
from durable_host.taskhub.events import OrchestrationStatus
from tests.http.fake_management import FakeManagementApi


async def test_webhook_needs_the_key_but_loopback_rpc_does_not() -> None:
    fake = FakeManagementApi()
    fake.put("i1", OrchestrationStatus.Completed)
    endpoints = ClientEndpoints("http://h:1", "http://127.0.0.1:1", "Hub", system_key="K")
    app = create_app(durable_api=DurableApi(fake, endpoints), keys=AccessKeys("K"))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/runtime/webhooks/durabletask/instances/i1")).status == 401
        resp = await client.get("/runtime/webhooks/durabletask/instances/i1?code=K")
        assert resp.status == 200
        assert (await client.get("/durabletask/instances/i1")).status == 200
        # the triggers handler is absent, so other paths are aiohttp's 404
        assert (await client.get("/api/x")).status == 404


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback(None)
