"""Creating and deleting a task hub's queues, tables and containers.

Both are idempotent, so hosts starting or tearing down the same hub may race;
every SDK failure surfaces as StorageError (`storage_errors.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from durable_host.taskhub.lease_table import PartitionStore
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage_clients import StorageClients
from durable_host.taskhub.storage_errors import storage_errors

__all__ = ["create_task_hub", "delete_task_hub", "hub_queue_names"]


def hub_queue_names(names: TaskHubNames) -> list[str]:
    return [*names.control_queues, names.work_item_queue, names.poison_queue]


def _table_names(names: TaskHubNames) -> list[str]:
    return [names.history_table, names.instances_table, names.partitions_table]


def _container_names(names: TaskHubNames) -> list[str]:
    return [names.large_messages_container, names.app_lease_container]


async def create_task_hub(
    clients: StorageClients, names: TaskHubNames, partitions: PartitionStore
) -> None:
    """Create every queue, table and container, the app lease blob and the partition rows."""
    await asyncio.gather(
        *(_create_queue(clients, name) for name in hub_queue_names(names)),
        *(_create_table(clients, name) for name in _table_names(names)),
        *(_create_container(clients, name) for name in _container_names(names)),
    )
    await _create_app_lease_info(clients, names)
    await partitions.ensure(names.control_queues)


async def _create_queue(clients: StorageClients, name: str) -> None:
    with storage_errors(f"create queue {name}"):
        try:
            await clients.queues.create_queue(name)
        except ResourceExistsError:
            pass


async def _create_table(clients: StorageClients, name: str) -> None:
    with storage_errors(f"create table {name}"):
        await clients.tables.create_table_if_not_exists(name)


async def _create_container(clients: StorageClients, name: str) -> None:
    with storage_errors(f"create blob container {name}"):
        try:
            await clients.blobs.create_container(name)
        except ResourceExistsError:
            pass


async def _create_app_lease_info(clients: StorageClients, names: TaskHubNames) -> None:
    # The provider always writes this blob, leased or not (docs/task-hub-layout.md §1);
    # Storage Explorer and the real host expect to find it.
    container = clients.blobs.get_container_client(names.app_lease_container)
    blob = names.app_lease_info_blob
    with storage_errors(f"create blob {blob} in {names.app_lease_container}"):
        try:
            await container.upload_blob(blob, b"{}", overwrite=False)
        except ResourceExistsError:
            pass


async def delete_task_hub(clients: StorageClients, names: TaskHubNames) -> None:
    """Delete every queue, table and container of the hub (missing ones are ignored)."""

    async def delete(what: str, call: Awaitable[object]) -> None:
        with storage_errors(f"delete {what}"):
            try:
                await call
            except ResourceNotFoundError:
                pass

    await asyncio.gather(
        *(delete(f"queue {n}", clients.queues.delete_queue(n)) for n in hub_queue_names(names)),
        *(delete(f"table {n}", clients.tables.delete_table(n)) for n in _table_names(names)),
        *(
            delete(f"blob container {n}", clients.blobs.delete_container(n))
            for n in _container_names(names)
        ),
    )
