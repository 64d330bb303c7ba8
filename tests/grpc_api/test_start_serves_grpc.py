"""`start` serves the durable client's gRPC endpoint when a client binding asks for it
(`durableRequiresGrpc`, set by the 2.x SDK's decorators), and points the binding at it."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from durable_host.server.host import DurableHost, HostOptions

APPS = Path(__file__).resolve().parent.parent / "apps"


def _host(app: str, azurite: str, hub_name: str, lines: list[str]) -> DurableHost:
    environ = {
        "AzureWebJobsStorage": azurite,
        "AzureFunctionsJobHost__extensions__durableTask__hubName": hub_name,
    }
    return DurableHost(HostOptions(app_dir=APPS / app, port=0), environ=environ, echo=lines.append)


async def test_a_grpc_client_binding_starts_and_awaits_through_the_endpoint(
    azurite: str, hub_name: str
) -> None:
    lines: list[str] = []
    host = _host("grpc_client", azurite, hub_name, lines)
    await host.start()
    try:
        address = host.grpc_address
        assert address is not None and address.startswith("http://127.0.0.1:")
        url = f"http://127.0.0.1:{host.port}/api/grpc-start/Hello"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"name": "gRPC"}) as response,
        ):
            assert response.status == 200, await response.text()
            body = await response.json()
    finally:
        await host.stop()
    assert body["status"] == "COMPLETED"
    assert body["output"] == "Hello gRPC!"
    assert body["binding"]["rpcBaseUrl"] == address
    assert body["binding"]["httpBaseUrl"].endswith("/runtime/webhooks/durabletask")
    assert body["binding"]["taskHubName"] == hub_name
    assert f"Durable client gRPC endpoint (loopback only): {address}" in "\n".join(lines)


async def test_a_1x_app_gets_no_grpc_endpoint(azurite: str, hub_name: str) -> None:
    lines: list[str] = []
    host = _host("v1", azurite, hub_name, lines)
    await host.start()
    try:
        assert host.grpc_address is None
    finally:
        await host.stop()
    assert "gRPC" not in "\n".join(lines)
