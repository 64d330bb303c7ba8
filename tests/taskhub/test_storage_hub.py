from __future__ import annotations

import asyncio
import socket

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from durable_host.errors import StorageError
from durable_host.server.azurite import DEV_ACCOUNT_KEY, development_storage_connection_string
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage


def inventory(conn: str, hub: str) -> tuple[list[str], list[str], list[str]]:
    lower = hub.lower()
    queues = sorted(
        q.name for q in QueueServiceClient.from_connection_string(conn).list_queues(lower)
    )
    tables = sorted(
        t.name
        for t in TableServiceClient.from_connection_string(conn).list_tables()
        if t.name.startswith(hub)
    )
    containers = sorted(
        c.name for c in BlobServiceClient.from_connection_string(conn).list_containers(lower)
    )
    return queues, tables, containers


async def test_create_is_idempotent_and_safe_when_hosts_race(azurite: str, hub_name: str) -> None:
    names = TaskHubNames(hub_name, partition_count=2)
    hosts = [TaskHubStorage(azurite, names) for _ in range(3)]
    try:
        await asyncio.gather(*(h.create_if_not_exists() for h in hosts))
        await hosts[0].create_if_not_exists()
        queues, tables, containers = await asyncio.to_thread(inventory, azurite, hub_name)
        lower = hub_name.lower()
        assert queues == [
            f"{lower}-control-00",
            f"{lower}-control-01",
            f"{lower}-poison",
            f"{lower}-workitems",
        ]
        # The v3 (table) partition manager's leases: one free row per control queue.
        assert tables == [f"{hub_name}History", f"{hub_name}Instances", f"{hub_name}Partitions"]
        leases = await hosts[0].list_partition_leases()
        assert [lease.queue for lease in leases] == [f"{lower}-control-00", f"{lower}-control-01"]
        assert all(lease.current_owner is None for lease in leases)
        assert containers == [f"{lower}-applease", f"{lower}-largemessages"]
        blob = BlobServiceClient.from_connection_string(azurite).get_blob_client(
            f"{lower}-applease", f"{lower}-appleaseinfo"
        )
        assert await asyncio.to_thread(lambda: blob.download_blob().readall()) == b"{}"

        await hosts[1].delete_task_hub()
        await hosts[2].delete_task_hub()  # deleting what is gone is fine
        assert await asyncio.to_thread(inventory, azurite, hub_name) == ([], [], [])
    finally:
        await asyncio.gather(*(h.close() for h in hosts))


async def test_missing_queue_is_a_storage_error_with_status(azurite: str, hub_name: str) -> None:
    async with TaskHubStorage(azurite, TaskHubNames(hub_name)) as storage:
        with pytest.raises(StorageError) as error:
            await storage.receive_control(0)
    assert error.value.status == 404
    assert error.value.code == "QueueNotFound"
    assert f"{hub_name.lower()}-control-00" in str(error.value)


async def test_unreachable_storage_says_what_to_do_and_hides_the_key(hub_name: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the socket closes
    conn = development_storage_connection_string(port, port, port)
    storage = TaskHubStorage(conn, TaskHubNames(hub_name), retry_total=0)
    try:
        with pytest.raises(StorageError) as error:
            await storage.peek_count(storage.names.work_item_queue)
    finally:
        await storage.close()
    text = str(error.value)
    assert "Azurite" in text
    assert DEV_ACCOUNT_KEY not in text
    assert DEV_ACCOUNT_KEY not in repr(storage)
