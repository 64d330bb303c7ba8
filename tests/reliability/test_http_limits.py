"""A chunked body (no Content-Length) over the limit is refused with 413 while it is read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints
from durable_host.http.durable_api import DurableApi
from tests.reliability.conftest import EngineFactory

pytestmark = pytest.mark.azurite


async def chunks() -> AsyncIterator[bytes]:
    for _ in range(10):
        yield b"[" + b"1," * 200 + b"1]"


async def test_a_chunked_body_over_the_limit_gets_413(engines: EngineFactory) -> None:
    engine = engines.build()
    await engine.start()
    endpoints = ClientEndpoints("http://127.0.0.1", "http://127.0.0.1", engines.hub_name)
    app = create_app(durable_api=DurableApi(engine.client, endpoints), client_max_size=1024)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/runtime/webhooks/durabletask/orchestrators/hello"
        async with aiohttp.ClientSession() as session:
            headers = {"Content-Type": "application/json"}
            async with session.post(url, data=chunks(), headers=headers) as response:
                assert response.status == 413
                body = await response.json()
    finally:
        await runner.cleanup()
    assert "larger than the host's limit of 1024 bytes" in body["Message"]
