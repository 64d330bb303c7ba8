"""A sidecar on a fresh hub of the test Azurite, and durabletask's worker and client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from durabletask.client import AsyncTaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

from durable_host.server.sidecar import Sidecar, SidecarOptions
from tests.engine._helpers import drop_hub


@pytest.fixture
async def sidecar(azurite: str, hub_name: str, tmp_path: Path) -> AsyncIterator[Sidecar]:
    served = Sidecar(
        SidecarOptions(port=0, hub=hub_name, connection=azurite, work_dir=tmp_path),
        echo=lambda line: None,
    )
    await served.start()
    try:
        yield served
    finally:
        await served.stop()
        await drop_hub(azurite, hub_name)


@pytest.fixture
async def client(sidecar: Sidecar) -> AsyncIterator[AsyncTaskHubGrpcClient]:
    assert sidecar.address is not None
    connected = AsyncTaskHubGrpcClient(host_address=sidecar.address)
    try:
        yield connected
    finally:
        await connected.close()


@pytest.fixture
def worker(sidecar: Sidecar) -> Iterator[TaskHubGrpcWorker]:
    """A worker not yet started: the test registers its functions, then `worker.start()`."""
    assert sidecar.address is not None
    made = TaskHubGrpcWorker(host_address=sidecar.address)
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture(scope="session")
def durable_storage(azurite: str) -> str:
    """The plugin's storage for `durabletask_sidecar`: the suite's Azurite."""
    return azurite
