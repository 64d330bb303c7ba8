"""Storage for tests: DURABLE_HOST_TEST_STORAGE, or an Azurite of our own."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from durable_host.server.azurite import AzuriteProcess
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage

__all__ = ["STORAGE_ENV", "delete_task_hub", "new_hub_name", "test_storage"]

STORAGE_ENV = "DURABLE_HOST_TEST_STORAGE"


@contextlib.contextmanager
def test_storage(
    search_from: Path | str = ".", environ: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Yield a storage connection string; an Azurite started here (in memory, free ports) is
    stopped on exit. Nothing is started when DURABLE_HOST_TEST_STORAGE is set."""
    env = os.environ if environ is None else environ
    existing = env.get(STORAGE_ENV)
    if existing:
        yield existing
        return
    with AzuriteProcess(Path(search_from).resolve()) as process:
        yield process.connection_string


# Not a test, whatever pytest's name matching thinks.
test_storage.__test__ = False  # type: ignore[attr-defined]


def new_hub_name(prefix: str = "test") -> str:
    """A task hub name no other test uses: a letter, then letters and digits (3-50)."""
    return (prefix + uuid.uuid4().hex)[:24]


async def delete_task_hub(connection_string: str, hub_name: str, partition_count: int) -> None:
    async with TaskHubStorage(
        connection_string, TaskHubNames(hub_name, partition_count)
    ) as storage:
        await storage.delete_task_hub()
