"""Fixtures for the gRPC service: the engine test app's Engine, its client service on a
loopback port, and durabletask's own clients (sync and async) pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from durabletask.client import AsyncTaskHubGrpcClient, TaskHubGrpcClient

from durable_host.engine.runtime import Engine
from durable_host.grpc_api.listener import GrpcListener
from durable_host.grpc_api.service import ClientService
from tests.engine.conftest import app_index, app_module, engine, invoker

__all__ = ["app_index", "app_module", "engine", "invoker"]


@asynccontextmanager
async def serving(engine: Engine) -> AsyncIterator[GrpcListener]:
    """The engine's client service on a loopback port, for the length of the block."""
    served = GrpcListener(ClientService(engine.client))
    await served.start()
    try:
        yield served
    finally:
        await served.stop(0)


@asynccontextmanager
async def async_client(listener: GrpcListener) -> AsyncIterator[AsyncTaskHubGrpcClient]:
    client = AsyncTaskHubGrpcClient(host_address=listener.address)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def listener(engine: Engine) -> AsyncIterator[GrpcListener]:
    async with serving(engine) as served:
        yield served


@pytest.fixture
async def aclient(listener: GrpcListener) -> AsyncIterator[AsyncTaskHubGrpcClient]:
    async with async_client(listener) as client:
        yield client


@pytest.fixture
def sync_client(listener: GrpcListener) -> Iterator[TaskHubGrpcClient]:
    client = TaskHubGrpcClient(host_address=listener.address)
    try:
        yield client
    finally:
        client.close()
