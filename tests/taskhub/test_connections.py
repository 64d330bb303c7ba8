"""Pooled connections and the server's keep-alive close: no `Connection reset by peer`.

Each test starts its own Azurite with the keep-alive timeout Azurite has by default (5 s),
as one started by hand or by another tool would, makes a request, and then holds the event
loop until the kernel shows that the server closed every pooled connection (CLOSE_WAIT on
our side): exactly what a busy host's loop sees when it picks a connection after an idle
gap longer than the server's keep-alive. The next request is a table merge (PATCH), which
the SDK does not repeat after a reset.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from durable_host.server.azurite import AzuriteProcess
from durable_host.taskhub import connections
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="reads connection states from /proc/net/tcp"
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
AZURITE_DEFAULT_KEEP_ALIVE = 5
PENDING = OrchestrationStatus.Pending
_ESTABLISHED = 0x01
_CLOSE_WAIT = 0x08


def _client_states(server_port: int) -> list[int]:
    """TCP states of the connections to `server_port` (this test's own Azurite)."""
    states = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == server_port:
                states.append(int(fields[3], 16))
    return states


def _hold_loop_until_server_closed(server_port: int, timeout: float = 30) -> None:
    """Blocks the event loop on purpose (a busy host), polling the kernel's view."""
    deadline = time.monotonic() + timeout
    while True:
        states = _client_states(server_port)
        # Connections we closed ourselves linger in TIME_WAIT; they do not matter.
        if _CLOSE_WAIT in states and _ESTABLISHED not in states:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not close its idle connections: {states}")
        time.sleep(0.05)


@pytest.fixture(params=[True, False], ids=["thin-client", "sdk"])
def thin_client(request: pytest.FixtureRequest) -> bool:
    """Merges go through the thin REST client (the hot path) or the tables SDK."""
    return bool(request.param)


@asynccontextmanager
async def short_keep_alive_storage(
    hub_name: str, thin_client: bool
) -> AsyncIterator[tuple[TaskHubStorage, int]]:
    async with AzuriteProcess(PROJECT_DIR, keep_alive=AZURITE_DEFAULT_KEEP_ALIVE) as azurite:
        names = TaskHubNames(hub_name, 1)
        storage = TaskHubStorage(azurite.connection_string, names, thin_client=thin_client)
        try:
            await storage.create_if_not_exists()
            yield storage, azurite.table_port
        finally:
            await storage.close()


async def _merge_after_the_server_closed(storage: TaskHubStorage, table_port: int) -> None:
    await storage.merge_instance("idle", {"name": "first", "runtime_status": PENDING})
    _hold_loop_until_server_closed(table_port)
    await storage.merge_instance("idle", {"name": "second"})
    record = await storage.get_instance("idle")
    assert record is not None and record.name == "second"


def _resets(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Connection reset" in r.getMessage()]


async def test_no_reset_after_an_idle_gap_longer_than_the_server_keep_alive(
    hub_name: str, thin_client: bool, caplog: pytest.LogCaptureFixture
) -> None:
    assert connections.POOL_IDLE_SECONDS < AZURITE_DEFAULT_KEEP_ALIVE
    caplog.set_level(logging.INFO)
    async with short_keep_alive_storage(hub_name, thin_client) as (storage, table_port):
        await _merge_after_the_server_closed(storage, table_port)
    assert _resets(caplog) == []


async def test_a_pool_that_outlives_the_server_keep_alive_meets_a_reset_that_is_replayed(
    hub_name: str,
    thin_client: bool,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same gap with aiohttp's default 15 s idle limit: the merge goes out on the closed
    connection and is reset (what the test above avoids); the replay still stores it."""
    monkeypatch.setattr(connections, "POOL_IDLE_SECONDS", 15.0)
    caplog.set_level(logging.INFO)
    async with short_keep_alive_storage(hub_name, thin_client) as (storage, table_port):
        await _merge_after_the_server_closed(storage, table_port)
    assert len(_resets(caplog)) == 1, _resets(caplog)


def test_durable_host_starts_azurite_with_a_keep_alive_above_the_pool_idle_limit() -> None:
    process = AzuriteProcess(PROJECT_DIR)
    arguments = process._arguments()
    for service in ("blob", "queue", "table"):
        flag = arguments.index(f"--{service}KeepAliveTimeout")
        assert float(arguments[flag + 1]) > 2 * connections.POOL_IDLE_SECONDS
