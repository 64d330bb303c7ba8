"""The transport protocols (`transports.py`) over the Azure SDKs: for connections without a
key or SAS (identity-based), and whenever the thin client is turned off."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import ContainerClient
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueServiceClient

from durable_host.taskhub.connections import replay_after_reset
from durable_host.taskhub.rest_tables import BatchOperation, BatchVerb
from durable_host.taskhub.table_batch import submit_batch

__all__ = ["SdkBlobs", "SdkQueues", "SdkTables"]


class SdkQueues:
    """`QueueTransport` over one shared QueueServiceClient (queue clients cached by name)."""

    def __init__(self, service: QueueServiceClient) -> None:
        # Built once per name: building a client costs more than the requests it saves.
        self._client = cache(service.get_queue_client)

    async def send(
        self, queue: str, content: str, *, visibility_timeout: int | None, time_to_live: int
    ) -> QueueMessage:
        return await self._client(queue).send_message(
            content, visibility_timeout=visibility_timeout, time_to_live=time_to_live
        )

    async def receive(
        self, queue: str, *, max_messages: int, visibility_timeout: int
    ) -> list[QueueMessage]:
        pager = self._client(queue).receive_messages(
            messages_per_page=max_messages,
            max_messages=max_messages,
            visibility_timeout=visibility_timeout,
        )
        # Only the first page: one round trip, as the provider's single dequeue call.
        async for page in pager.by_page():
            return [message async for message in page]
        return []

    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None:
        await self._client(queue).delete_message(message_id, pop_receipt)

    async def update_visibility(
        self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: int
    ) -> str:
        updated = await self._client(queue).update_message(
            message_id, pop_receipt, visibility_timeout=visibility_timeout
        )
        return updated.pop_receipt or ""


def _etag(result: Mapping[str, Any]) -> str:
    return str(result.get("etag") or "")


def _sdk_operation(operation: BatchOperation) -> tuple[Any, ...]:
    """A transaction operation in the form `TableClient.submit_transaction` takes."""
    if operation.verb is BatchVerb.INSERT:
        return ("create", operation.entity)
    mode = UpdateMode.REPLACE if operation.verb is BatchVerb.INSERT_OR_REPLACE else UpdateMode.MERGE
    if operation.etag is None:
        return ("upsert", operation.entity, {"mode": mode})
    guard = {"etag": operation.etag, "match_condition": MatchConditions.IfNotModified}
    return ("update", operation.entity, {"mode": mode, **guard})


class SdkTables:
    """`TableTransport` over one shared TableServiceClient (table clients cached by name)."""

    def __init__(self, service: TableServiceClient) -> None:
        # Built once per name: building a client costs more than the requests it saves.
        self._client = cache(service.get_table_client)

    async def get(self, table: str, partition_key: str, row_key: str) -> TableEntity | None:
        # A query, not get_entity: a missing row is an empty page, not an exception.
        async for entity in self._client(table).query_entities(
            "PartitionKey eq @pk and RowKey eq @rk",
            parameters={"pk": partition_key, "rk": row_key},
        ):
            return entity
        return None

    async def query(self, table: str, filter_text: str) -> list[TableEntity]:
        return [entity async for entity in self._client(table).query_entities(filter_text)]

    async def insert(self, table: str, entity: Mapping[str, Any]) -> str:
        return _etag(await self._client(table).create_entity(entity))

    async def write(
        self, table: str, entity: Mapping[str, Any], *, merge: bool, etag: str | None = None
    ) -> str:
        client, mode = self._client(table), UpdateMode.MERGE if merge else UpdateMode.REPLACE

        async def send() -> Mapping[str, Any]:
            if etag is None:
                return await client.upsert_entity(entity, mode=mode)
            return await client.update_entity(
                entity, mode=mode, etag=etag, match_condition=MatchConditions.IfNotModified
            )

        if not merge:
            return _etag(await send())
        # A merge (PATCH) is not repeated by the SDK after a reset; merging the same
        # properties twice is harmless, and a conditional one then conflicts.
        return _etag(await replay_after_reset(send, what=f"merge a row of table {table}"))

    async def transact(self, table: str, operations: Sequence[BatchOperation]) -> list[str]:
        results = await submit_batch(self._client(table), [_sdk_operation(o) for o in operations])
        return [_etag(result) for result in results]


class SdkBlobs:
    """`BlobTransport` over one container's SDK client."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    async def put(self, name: str, data: bytes, *, content_type: str) -> None:
        await self._container.upload_blob(
            name,
            data,
            overwrite=True,
            # No Content-Encoding header: readers (and the real provider) gunzip
            # the bytes themselves, so no transport may decompress them first.
            content_settings=ContentSettings(content_type=content_type),
        )

    async def get(self, name: str) -> bytes:
        stream = await self._container.download_blob(name, decompress=False)
        return await stream.readall()
