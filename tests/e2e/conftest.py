"""Fixtures: a running `python -m durable_host start` on this repository's app, and HTTP clients.

One host per test module (starting one costs about a second); each module gets its own task
hub on the session's Azurite, so modules never see each other's instances.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import azure.durable_functions as df
import pytest
from azure.durable_functions.models.utils import http_utils

from durable_host.http.binding import ClientEndpoints, client_binding_json
from tests.conftest import PROJECT_DIR
from tests.e2e.host_process import HostProcess
from tests.e2e.test_patterns import EXPENSE
from tests.e2e.user import start, wait_for_status


def new_hub_name() -> str:
    return "e2e" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def host(azurite: str) -> Iterator[HostProcess]:
    """The repository's app served by a host process; it must stop cleanly on SIGTERM."""
    process = HostProcess(PROJECT_DIR, storage=azurite, hub_name=new_hub_name()).start()
    try:
        yield process
    finally:
        code = process.stop()
    assert code == 0, f"the host exited with {code} on SIGTERM:\n{process.output}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(raise_for_status=False) as session:
        yield session


@pytest.fixture
async def sdk_client(host: HostProcess) -> AsyncIterator[df.DurableOrchestrationClient]:
    """The SDK's own client, built from the binding JSON a `durableClient` input receives."""
    assert host.hub_name is not None
    endpoints = ClientEndpoints(
        origin=host.base_url, rpc_origin=host.base_url, hub_name=host.hub_name
    )
    client = df.DurableOrchestrationClient(client_binding_json(endpoints))
    try:
        yield client
    finally:
        # The SDK keeps one module-level aiohttp session, bound to the loop that created it;
        # each test has its own loop, so close it before this one ends.
        await http_utils._close_session()


@pytest.fixture
async def waiting(host: HostProcess, http: aiohttp.ClientSession) -> AsyncIterator[dict[str, str]]:
    """An expense waiting for its approver (for 10 minutes); terminated after the test."""
    started = await start(
        http, host.base_url, "expense_approval", {**EXPENSE, "timeoutSeconds": 600}
    )
    await wait_for_status(
        http, started["statusQueryGetUri"], lambda _, body: body["customStatus"] is not None
    )
    yield started
    async with http.post(started["terminatePostUri"].replace("{text}", "done")) as response:
        assert response.status in (202, 410)
