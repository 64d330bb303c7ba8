"""Find the task hubs of a storage account, and how many partitions one has.

A task hub is recognised by its pair of tables `<hub>Instances` and `<hub>History`; its
partition count by its control queues `<hub>-control-NN`, which every layout of
DurableTask.AzureStorage has (the lease tables and blobs differ between versions).
"""

from __future__ import annotations

import re

from azure.data.tables.aio import TableServiceClient
from azure.storage.queue.aio import QueueServiceClient

from durable_host.taskhub.names import DEFAULT_PARTITION_COUNT, HUB_NAME_RE, MAX_PARTITION_COUNT
from durable_host.taskhub.storage_errors import storage_errors

__all__ = ["find_task_hubs", "partition_count_of"]

_HUB_TABLE = re.compile(rf"({HUB_NAME_RE.pattern})(Instances|History)")


async def find_task_hubs(connection_string: str) -> list[str]:
    """The names of every task hub in the account, sorted."""
    tables: dict[str, set[str]] = {}
    async with TableServiceClient.from_connection_string(connection_string) as service:
        with storage_errors("list the tables of the storage account"):
            async for table in service.list_tables():
                match = _HUB_TABLE.fullmatch(table.name)
                if match:
                    tables.setdefault(match.group(1), set()).add(match.group(2))
    return sorted(hub for hub, kinds in tables.items() if kinds == {"Instances", "History"})


async def partition_count_of(connection_string: str, hub: str) -> int:
    """The number of control queues of `hub` (the default when it has none yet)."""
    prefix = f"{hub.lower()}-control-"
    count = 0
    async with QueueServiceClient.from_connection_string(connection_string) as service:
        with storage_errors(f"list the control queues of task hub {hub}"):
            async for queue in service.list_queues(name_starts_with=prefix):
                suffix = str(queue.name)[len(prefix) :]
                if suffix.isdigit():
                    count = max(count, int(suffix) + 1)
    if count == 0:
        return DEFAULT_PARTITION_COUNT
    return min(count, MAX_PARTITION_COUNT)
