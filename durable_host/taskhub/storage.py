"""`TaskHubStorage`: the thin async I/O client of one task hub over the three Azure SDKs.

The one facade over the queue, history, instance and partition stores. Its clients
(`storage_clients.py`) are built once, and queue and table clients are cached per name,
so no call builds a client or creates a resource on the hot path. Every SDK failure
surfaces as StorageError (`storage_errors.py`); history write conflicts as
CheckpointConflictError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from durable_host.taskhub.events import HistoryEvent, MessageData
from durable_host.taskhub.foreign_leases import refuse_foreign_leases
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.large_payloads import LargePayloads
from durable_host.taskhub.lease_table import PartitionLease, PartitionStore
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage_clients import StorageClients
from durable_host.taskhub.storage_history import HistoryLoad, HistoryStore
from durable_host.taskhub.storage_instances import InstanceStore
from durable_host.taskhub.storage_lifecycle import (
    create_task_hub,
    delete_task_hub,
    hub_queue_names,
)
from durable_host.taskhub.storage_queues import (
    MAX_QUEUE_DELAY,
    QueueStore,
    ReceivedMessage,
    SentMessage,
)

__all__ = [
    "MAX_QUEUE_DELAY",
    "Delay",
    "HistoryLoad",
    "ReceivedMessage",
    "SentMessage",
    "TaskHubStorage",
]


# Seconds, or a timedelta.
Delay = float | timedelta


def _seconds(delay: Delay) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


class TaskHubStorage:
    """Queues, tables and blobs of one task hub. Use `async with`, or call `close()`."""

    def __init__(
        self,
        connection_string: str,
        names: TaskHubNames,
        *,
        retry_total: int = 3,
        thin_client: bool | None = None,
    ) -> None:
        """`thin_client`: send the hot-path requests with `rest_client.py` (default: whenever
        the connection has an account key or SAS, unless DURABLE_HOST_STORAGE_CLIENT=sdk)."""
        self.names = names
        self._clients = clients = StorageClients.connect(
            connection_string, retry_total=retry_total, thin_client=thin_client
        )
        self._payloads = LargePayloads(
            clients.blobs,
            names.large_messages_container,
            transport=clients.blob_transport(names.large_messages_container),
        )
        self._queues = QueueStore(
            clients.queues, clients.queue_transport(), self._payloads, names.poison_queue
        )
        self._history = HistoryStore(clients.hub_table(names.history_table), self._payloads)
        self._instances = InstanceStore(clients.hub_table(names.instances_table), self._payloads)
        self._partitions = PartitionStore(clients.leases.get_table_client(names.partitions_table))

    def __repr__(self) -> str:
        # Never the connection string: it carries the account key.
        return f"TaskHubStorage(hub={self.names.hub!r})"

    async def __aenter__(self) -> TaskHubStorage:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._clients.close()

    @property
    def uses_thin_client(self) -> bool:
        return self._clients.rest is not None

    # ------------------------------------------------------------------ task hub lifecycle

    async def create_if_not_exists(self) -> None:
        """Create every queue, table and container (idempotent; safe when hosts race)."""
        await create_task_hub(self._clients, self.names, self._partitions)

    async def refuse_foreign_leases(self) -> None:
        """TaskHubInUseError when hosts of another kind hold the hub (`foreign_leases.py`)."""
        await refuse_foreign_leases(self._clients.blobs, self.names)

    async def delete_task_hub(self) -> None:
        """Delete every queue, table and container of the hub (missing ones are ignored)."""
        await delete_task_hub(self._clients, self.names)

    # ------------------------------------------------------------------ queues

    async def send_control(
        self, partition: int, msg: MessageData, *, delay: Delay = 0.0
    ) -> SentMessage:
        """Send to `<hub>-control-NN`, invisible for `delay` (capped at MAX_QUEUE_DELAY)."""
        queue = self.names.control_queue(partition)
        return await self._queues.send(queue, msg, delay=_seconds(delay))

    async def send_work_item(self, msg: MessageData, *, delay: Delay = 0.0) -> SentMessage:
        return await self._queues.send(self.names.work_item_queue, msg, delay=_seconds(delay))

    async def receive_control(
        self, partition: int, *, max_messages: int = 32, visibility_timeout: Delay = 300
    ) -> list[ReceivedMessage]:
        return await self._queues.receive(
            self.names.control_queue(partition),
            max_messages=max_messages,
            visibility_timeout=_seconds(visibility_timeout),
        )

    async def receive_work_items(
        self, *, max_messages: int = 1, visibility_timeout: Delay = 300
    ) -> list[ReceivedMessage]:
        return await self._queues.receive(
            self.names.work_item_queue,
            max_messages=max_messages,
            visibility_timeout=_seconds(visibility_timeout),
        )

    async def delete_message(self, msg: ReceivedMessage | SentMessage) -> None:
        await self._queues.delete(msg.queue, msg.message_id, msg.pop_receipt)

    async def abandon_message(self, msg: ReceivedMessage | SentMessage, *, delay: Delay) -> str:
        """Make the message visible again after `delay`; returns the new pop receipt."""
        return await self._queues.update_visibility(
            msg.queue, msg.message_id, msg.pop_receipt, _seconds(delay)
        )

    async def renew_message(
        self, msg: ReceivedMessage | SentMessage, *, visibility_timeout: Delay
    ) -> str:
        """Keep the message invisible for `visibility_timeout` more; returns the new receipt."""
        return await self._queues.update_visibility(
            msg.queue, msg.message_id, msg.pop_receipt, _seconds(visibility_timeout)
        )

    async def move_to_poison(self, msg: ReceivedMessage, reason: str) -> None:
        """Park the message's raw body with `reason` in `<hub>-poison`, then delete it."""
        await self._queues.move_to_poison(msg, reason)

    async def peek_count(self, queue_name: str) -> int:
        """Approximate number of messages in `queue_name` (visible or not)."""
        return await self._queues.approximate_count(queue_name)

    async def queue_lengths(self) -> dict[str, int]:
        names = hub_queue_names(self.names)
        counts = await asyncio.gather(*(self.peek_count(n) for n in names))
        return dict(zip(names, counts, strict=True))

    # ------------------------------------------------------------------ history

    async def load_history(self, instance_id: str, execution_id: str | None = None) -> HistoryLoad:
        return await self._history.load(instance_id, execution_id)

    async def load_history_slice(
        self, instance_id: str, execution_id: str, first: int, count: int
    ) -> list[HistoryEvent]:
        """Events `first..first+count` of one execution (for paging through a long history)."""
        return await self._history.load_slice(instance_id, execution_id, first, count)

    async def history_length(self, instance_id: str, execution_id: str) -> int:
        return await self._history.length(instance_id, execution_id)

    async def append_history(
        self,
        instance_id: str,
        execution_id: str,
        *,
        start_index: int,
        events: Sequence[HistoryEvent],
        etag: str | None,
        checkpoint_complete: bool = True,
    ) -> str:
        """Write rows `start_index..` and the sentinel; returns its new ETag.

        Raises CheckpointConflictError if another writer moved the sentinel.
        """
        return await self._history.append(
            instance_id,
            execution_id,
            start_index=start_index,
            events=events,
            etag=etag,
            checkpoint_complete=checkpoint_complete,
        )

    async def delete_history(self, instance_id: str) -> int:
        """Delete all history rows and large-payload blobs of the instance; returns the rows."""
        rows = await self._history.delete(instance_id)
        await self._payloads.delete_instance_blobs(instance_id)
        return rows

    # ------------------------------------------------------------------ partition leases

    async def list_partition_leases(self) -> list[PartitionLease]:
        return await self._partitions.list()

    async def replace_partition_lease(self, lease: PartitionLease) -> PartitionLease:
        """ETag-guarded write; raises CheckpointConflictError when another worker wrote first."""
        return await self._partitions.replace(lease)

    # ------------------------------------------------------------------ instances

    async def get_instance(self, instance_id: str) -> InstanceRecord | None:
        found = await self._instances.get(instance_id)
        return found[0] if found is not None else None

    async def get_instance_with_etag(self, instance_id: str) -> tuple[InstanceRecord, str] | None:
        return await self._instances.get(instance_id)

    async def insert_or_replace_instance(
        self, record: InstanceRecord, *, etag: str | None = None
    ) -> str:
        """Upsert the row; with `etag`, replace only if unchanged (CheckpointConflictError)."""
        return await self._instances.insert_or_replace(record, etag=etag)

    async def insert_instance(self, record: InstanceRecord) -> str:
        """Create the row; CheckpointConflictError when it exists already."""
        return await self._instances.insert(record)

    async def merge_instance(
        self, instance_id: str, fields: dict[str, Any], *, etag: str | None = None
    ) -> str:
        """InsertOrMerge `fields`, named as InstanceRecord fields (e.g. runtime_status=...);
        with `etag`, merge only into that version of the row (CheckpointConflictError if it
        changed or is gone). Returns the row's new ETag.

        A None custom_status is written as "null"; other None values are left unchanged.
        """
        return await self._instances.merge(instance_id, fields, etag=etag)

    async def query_instances(
        self,
        filter_text: str | None = None,
        *,
        top: int = 100,
        continuation_token: str | None = None,
    ) -> tuple[list[InstanceRecord], str | None]:
        """One page of instances matching an OData filter; the token fetches the next page."""
        return await self._instances.query(
            filter_text, top=top, continuation_token=continuation_token
        )

    async def delete_instance(self, instance_id: str) -> None:
        """Delete the Instances row (no error if there is none)."""
        await self._instances.delete(instance_id)
