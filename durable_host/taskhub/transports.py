"""The transport seam of the stores: what each store asks of the wire, whichever carries it.

Each protocol has two implementations: the Azure SDKs (`sdk_transports.py`) and the thin
REST client (`rest_queues.py`, `rest_tables.py`, `rest_blobs.py`). `storage_clients.py`
chooses one per connection; the stores never ask which they were given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient
from azure.storage.queue import QueueMessage

from durable_host.taskhub.rest_tables import BatchOperation

__all__ = ["BlobTransport", "HubTable", "QueueTransport", "TableTransport"]


class QueueTransport(Protocol):
    """The message operations of the hot path, for any queue of the account."""

    async def send(
        self, queue: str, content: str, *, visibility_timeout: int | None, time_to_live: int
    ) -> QueueMessage: ...

    async def receive(
        self, queue: str, *, max_messages: int, visibility_timeout: int
    ) -> list[QueueMessage]:
        """At most one round trip: the first page only."""
        ...

    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None: ...

    async def update_visibility(
        self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: int
    ) -> str:
        """Returns the new pop receipt."""
        ...


class TableTransport(Protocol):
    """The entity operations of the hot path, for any table of the account."""

    async def get(self, table: str, partition_key: str, row_key: str) -> TableEntity | None: ...

    async def query(self, table: str, filter_text: str) -> list[TableEntity]: ...

    async def insert(self, table: str, entity: Mapping[str, Any]) -> str:
        """Create the row and return its ETag; a conflict when it exists."""
        ...

    async def write(
        self, table: str, entity: Mapping[str, Any], *, merge: bool, etag: str | None = None
    ) -> str:
        """Replace or merge; without `etag` the row is created if missing. Returns the ETag."""
        ...

    async def transact(self, table: str, operations: Sequence[BatchOperation]) -> list[str]:
        """One entity group transaction; each operation's new ETag, in order."""
        ...


class BlobTransport(Protocol):
    """Whole-blob upload and download in one container."""

    async def put(self, name: str, data: bytes, *, content_type: str) -> None: ...

    async def get(self, name: str) -> bytes: ...


@dataclass(frozen=True)
class HubTable:
    """One table of the hub: the SDK client for listings and deletes, `rows` for the hot path."""

    client: TableClient
    rows: TableTransport

    @property
    def name(self) -> str:
        return self.client.table_name
