"""Fixtures for the gRPC service: the engine test app's Engine, its client service on a
loopback port, and durabletask's own clients (sync and async) pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from durabletask.client import AsyncTaskHubGrpcClient, TaskHubGrpcClient

from durable_host.engine.runtime import Engine
from durable_host.grpc_api.listener import GrpcListener
from durable_host.grpc_api.service import ClientService
from tests.engine.conftest import app_index, app_module, engine, invoker

__all__ = ["app_index", "app_module", "engine", "invoker"]


@pytest.fixture
async def listener(engine: Engine) -> AsyncIterator[GrpcListener]:
    served = GrpcListener(ClientService(engine.client))
    await served.start()
    try:
        yield served
    finally:
        await served.stop(0)


@pytest.fixture
async def aclient(listener: GrpcListener) -> AsyncIterator[AsyncTaskHubGrpcClient]:
    client = AsyncTaskHubGrpcClient(host_address=listener.address)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def sync_client(listener: GrpcListener) -> Iterator[TaskHubGrpcClient]:
    client = TaskHubGrpcClient(host_address=listener.address)
    try:
        yield client
    finally:
        client.close()
