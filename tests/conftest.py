"""Shared fixtures: one Azurite for the whole session, and a fresh task hub name per test.

Set DURABLE_HOST_TEST_STORAGE to a connection string to run against an already
running emulator (or a real account) instead of starting Azurite here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from durable_host.server.azurite import AzuriteProcess

if TYPE_CHECKING:
    from durable_host.taskhub.storage import TaskHubStorage

PROJECT_DIR = Path(__file__).resolve().parent.parent
STORAGE_ENV = "DURABLE_HOST_TEST_STORAGE"

# The 2.x-style app (tests/apps/v2) runs on durabletask-azurefunctions, which the dev extra
# installs on Python 3.13 (the 2.x SDK's floor): `make test-py PYVER=3.13` runs tests/v2.
collect_ignore = [] if find_spec("durabletask.azurefunctions") else ["v2"]


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A storage connection string, valid for the whole test session."""
    existing = os.environ.get(STORAGE_ENV)
    if existing:
        yield existing
        return
    with AzuriteProcess(PROJECT_DIR) as process:
        yield process.connection_string


@pytest.fixture
def hub_name() -> str:
    """A task hub name no other test uses (a letter, then alphanumerics)."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
async def hub_storage(azurite: str, hub_name: str) -> AsyncIterator[TaskHubStorage]:
    """A created task hub (4 partitions) on the session storage; deleted after the test."""
    from durable_host.taskhub.names import TaskHubNames
    from durable_host.taskhub.storage import TaskHubStorage

    storage = TaskHubStorage(azurite, TaskHubNames(hub_name, partition_count=4))
    await storage.create_if_not_exists()
    try:
        yield storage
    finally:
        await storage.delete_task_hub()
        await storage.close()


@pytest.fixture
def restore_environ() -> Iterator[None]:
    """os.environ as it was before the test (the lint and replay commands export the app's
    local.settings Values into it, as the host does)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
