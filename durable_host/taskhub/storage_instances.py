"""Instances table I/O: one row per orchestration instance (docs/task-hub-layout.md §4)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from durable_host.errors import CheckpointConflictError, StorageError
from durable_host.taskhub.instances import InstanceRecord, instance_merge_row
from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.large_payloads import LargePayloads, history_blob_name, is_large_property
from durable_host.taskhub.queue_messages import decode_message
from durable_host.taskhub.storage_errors import storage_errors
from durable_host.taskhub.storage_history import restore_large_properties
from durable_host.taskhub.transports import HubTable

__all__ = ["INSTANCE_LARGE_PROPERTIES", "InstanceStore", "decode_token", "encode_token"]

INSTANCE_LARGE_PROPERTIES = ("Input", "Output", "CustomStatus")
_ROW_KEY = ""
# Attempts at a row insert (see InstanceStore.insert).
_INSERT_ATTEMPTS = 4


def encode_token(token: Mapping[str, Any] | None) -> str | None:
    """The SDK's next-page keys as an opaque, URL-safe string (None when no more pages)."""
    if not token:
        return None
    text = json.dumps(dict(token), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise StorageError(
            f"Continuation token {token[:40]!r} is not one this host returned; "
            "start the query again without a continuation token."
        ) from error
    if not isinstance(value, dict):
        raise StorageError("Continuation token is malformed; restart the query without it.")
    return value


class InstanceStore:
    """Reads and writes `<hub>Instances` for one task hub."""

    def __init__(self, table: HubTable, payloads: LargePayloads) -> None:
        # Point reads and writes go through `table.rows`; queries and deletes, the SDK's.
        self._rows, self._name, self._table = table.rows, table.name, table.client
        self._payloads = payloads

    async def _to_entity(self, row: Mapping[str, Any]) -> dict[str, Any]:
        # The provider writes the blob's absolute URL into an oversized Instances column
        # (AzureTableTrackingStore.cs 1275-1293, SetInstancesTablePropertyFromHistoryProperty),
        # and its reader (ConvertFromAsync, 444-512) follows only that form: a `<Prop>BlobName`
        # column there is read for History rows alone.
        entity = dict(row)
        escaped_id = str(entity["PartitionKey"])
        for prop in INSTANCE_LARGE_PROPERTIES:
            value = entity.get(prop)
            if isinstance(value, str) and is_large_property(value):
                # GetBlobName's form for a row without an EventType (AzureTableTrackingStore.cs
                # 1352-1386): `<id>/history--Input-<rand>-Input.json.gz`.
                blob = history_blob_name(escaped_id, _ROW_KEY, prop, prop)
                await self._payloads.upload(blob, value)
                entity[prop] = self._payloads.blob_url(blob)
        return entity

    async def _from_entity(self, entity: Mapping[str, Any]) -> InstanceRecord:
        row = dict(entity)
        # `<Prop>BlobName` columns: rows written by durable_host before it wrote URLs.
        await restore_large_properties(row, self._payloads, names=INSTANCE_LARGE_PROPERTIES)
        for prop in INSTANCE_LARGE_PROPERTIES:
            value = row.get(prop)
            if isinstance(value, str) and self._payloads.is_blob_url(value):
                row[prop] = await self._read_provider_blob(value)
        return InstanceRecord.from_row(row)

    async def _read_provider_blob(self, url: str) -> str:
        text = await self._payloads.download(url)
        if not url.endswith("ExecutionStarted.json.gz"):
            return text
        # A whole start message (the client's Pending row when the message was large,
        # AzureStorageOrchestrationService.cs 1784-1797): the input is the event's.
        message = decode_message(text)
        event = message.task_message.event if message.task_message else None
        return str(getattr(event, "input", None) or "")

    async def get(self, instance_id: str) -> tuple[InstanceRecord, str] | None:
        key = escape_partition_key(instance_id)
        with storage_errors(f"read the status of instance {instance_id!r}"):
            found = await self._rows.get(self._name, key, _ROW_KEY)
        if found is None:
            return None
        return await self._from_entity(found), str(found.metadata.get("etag") or "")

    async def insert_or_replace(self, record: InstanceRecord, *, etag: str | None) -> str:
        entity = await self._to_entity(record.to_row())
        what = f"write the status of instance {record.instance_id!r}"
        with storage_errors(what, conflict=etag is not None):
            return await self._rows.write(self._name, entity, merge=False, etag=etag)

    async def insert(self, record: InstanceRecord) -> str:
        """Create the row; CheckpointConflictError when it exists already.

        An insert is a POST, which azure-core does not retry once the request went out (a
        connection reset under load), so it is retried here: a repeat that finds the row an
        earlier attempt created raises the same conflict as any existing row.
        """
        entity = await self._to_entity(record.to_row())
        what = f"create the status of instance {record.instance_id!r}"
        for attempt in range(_INSERT_ATTEMPTS):
            try:
                with storage_errors(what, conflict=True):
                    return await self._rows.insert(self._name, entity)
            except CheckpointConflictError:
                raise
            except StorageError:
                if attempt == _INSERT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def merge(
        self, instance_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> str:
        entity = await self._to_entity(instance_merge_row(instance_id, **fields))
        what = f"update the status of instance {instance_id!r}"
        with storage_errors(what, conflict=etag is not None):
            return await self._rows.write(self._name, entity, merge=True, etag=etag)

    async def query(
        self, filter_text: str | None, *, top: int, continuation_token: str | None
    ) -> tuple[list[InstanceRecord], str | None]:
        # The tables SDK's continuation token is a dict of next keys, typed as str.
        token: Any = decode_token(continuation_token)
        page_size = max(1, min(1000, top))
        entities: list[Any] = []
        next_token: Any = None
        with storage_errors("query the Instances table"):
            if filter_text:
                pager = self._table.query_entities(filter_text, results_per_page=page_size)
            else:
                pager = self._table.list_entities(results_per_page=page_size)
            pages = pager.by_page(continuation_token=token)
            async for page in pages:
                entities = [entity async for entity in page]
                break
            next_token = getattr(pages, "continuation_token", None)
        records = [await self._from_entity(entity) for entity in entities]
        return records, encode_token(next_token)

    async def delete(self, instance_id: str) -> None:
        with storage_errors(f"delete the status of instance {instance_id!r}"):
            await self._table.delete_entity(escape_partition_key(instance_id), _ROW_KEY)
