"""The SDK client a test environment gives the test: the one of the SDK generation installed.

With azure-functions-durable 1.x: its `DurableOrchestrationClient` on the Durable HTTP API, the
client an HTTP starter gets. Without it (azure-functions-durable 2.x, or an app on
`durabletask.azurefunctions`): an async client on the host's gRPC endpoint, the one the 2.x
SDK's client binding points at: 2.x's `DurableFunctionsClient` when installed, else
durabletask's `AsyncTaskHubGrpcClient`. Async only: the host answers gRPC on the test's own
event loop, which a blocking client call would stop.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from typing import TYPE_CHECKING, Any, Protocol

from durable_host.errors import SdkUnavailableError
from durable_host.functions.sdk_generation import has_1x_sdk, has_protobuf_worker
from durable_host.http.binding import client_binding_json
from durable_host.server.host import DurableHost

if TYPE_CHECKING:
    from durabletask.client import AsyncTaskHubGrpcClient

__all__ = ["TestClient", "bind_client", "require_sdk"]


class TestClient(Protocol):
    """What DurableTestEnvironment asks of the SDK's client, whichever generation it is."""

    sdk: Any  # the SDK's own client object: `durable_env.client`

    async def start(self, name: str, input: Any, instance_id: str | None) -> str: ...

    async def status(self, instance_id: str) -> Any: ...

    def output(self, status: Any) -> Any: ...

    async def raise_event(self, instance_id: str, event_name: str, data: Any) -> None: ...

    async def read_entity(self, name: str, key: str) -> Any: ...

    async def close(self) -> None: ...


def require_sdk() -> None:
    """SdkUnavailableError unless an SDK generation a test client can be made of is installed;
    asked before the host starts."""
    if not (has_1x_sdk() or has_protobuf_worker()):
        raise SdkUnavailableError(
            "The durable_env fixture needs a Durable Functions SDK: azure-functions-durable "
            "1.x, or 2.x (which brings durabletask); this environment has neither. Install "
            "the one your app is written for."
        )


async def bind_client(host: DurableHost) -> TestClient:
    """The client of the installed SDK generation, bound to the started `host`."""
    if has_1x_sdk():
        return _JsonClient(host)
    return _GrpcClient(host, await host.serve_grpc())


class _JsonClient:
    """azure-functions-durable 1.x: its DurableOrchestrationClient on the Durable HTTP API."""

    def __init__(self, host: DurableHost) -> None:
        import azure.durable_functions as df

        assert host.endpoints is not None
        self.sdk = df.DurableOrchestrationClient(client_binding_json(host.endpoints))

    async def start(self, name: str, input: Any, instance_id: str | None) -> str:
        started: str = await self.sdk.start_new(name, instance_id, input)
        return started

    async def status(self, instance_id: str) -> Any:
        return await self.sdk.get_status(instance_id)

    def output(self, status: Any) -> Any:
        return status.output

    async def raise_event(self, instance_id: str, event_name: str, data: Any) -> None:
        await self.sdk.raise_event(instance_id, event_name, data)

    async def read_entity(self, name: str, key: str) -> Any:
        import azure.durable_functions as df

        response = await self.sdk.read_entity_state(df.EntityId(name, key))
        return response.entity_state if response.entity_exists else None

    async def close(self) -> None:
        """The SDK's aiohttp session is closed with the host (server/host.py)."""


class _GrpcClient:
    """The 2.x generation: an async durabletask client on the host's gRPC endpoint."""

    def __init__(self, host: DurableHost, address: str) -> None:
        self.sdk = _grpc_sdk_client(host, address)

    async def start(self, name: str, input: Any, instance_id: str | None) -> str:
        return await self.sdk.schedule_new_orchestration(name, input=input, instance_id=instance_id)

    async def status(self, instance_id: str) -> Any:
        """durabletask's OrchestrationState (`runtime_status`, `serialized_output`, ...)."""
        return await self.sdk.get_orchestration_state(instance_id)

    def output(self, status: Any) -> Any:
        text = status.serialized_output
        return json.loads(text) if text else None

    async def raise_event(self, instance_id: str, event_name: str, data: Any) -> None:
        await self.sdk.raise_orchestration_event(instance_id, event_name, data=data)

    async def read_entity(self, name: str, key: str) -> Any:
        from durabletask.entities import EntityInstanceId

        metadata = await self.sdk.get_entity(EntityInstanceId(name, key), include_state=True)
        if metadata is None:
            return None
        state = metadata.get_state()  # the serialized JSON, in every durabletask version
        return json.loads(state) if isinstance(state, str) else state

    async def close(self) -> None:
        await self.sdk.close()


def _grpc_sdk_client(host: DurableHost, address: str) -> AsyncTaskHubGrpcClient:
    try:
        sdk = importlib.import_module("azure.durable_functions")
    except ImportError:
        sdk = None
    if sdk is None or not hasattr(sdk, "DurableFunctionsClient"):  # durabletask.azurefunctions
        from durabletask.client import AsyncTaskHubGrpcClient

        return AsyncTaskHubGrpcClient(host_address=address)
    # azure-functions-durable 2.x: built from the binding JSON, as a client binding builds it.
    assert host.endpoints is not None
    endpoints = dataclasses.replace(host.endpoints, grpc_origin=address)
    client: AsyncTaskHubGrpcClient = sdk.DurableFunctionsClient(
        client_binding_json(endpoints, grpc=True)
    )
    return client
