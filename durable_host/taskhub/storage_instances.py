"""Instances table I/O: one row per orchestration instance (docs/task-hub-layout.md §4)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from durable_host.errors import CheckpointConflictError, StorageError
from durable_host.taskhub.connections import replay_after_reset
from durable_host.taskhub.instances import InstanceRecord, instance_merge_row
from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.large_payloads import LargePayloads, history_blob_name, is_large_property
from durable_host.taskhub.queue_messages import decode_message
from durable_host.taskhub.rest_tables import RestTables
from durable_host.taskhub.storage_errors import storage_errors
from durable_host.taskhub.storage_history import restore_large_properties

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

    def __init__(
        self, table: TableClient, payloads: LargePayloads, *, rest: RestTables | None = None
    ) -> None:
        self._table = table
        self._payloads = payloads
        # The thin client for point reads and writes when the connection has a key or SAS.
        self._rest = rest

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
        rows = []
        with storage_errors(f"read the status of instance {instance_id!r}"):
            if self._rest is not None:
                found = await self._rest.get(self._table.table_name, key, _ROW_KEY)
                rows = [found] if found is not None else []
            else:
                # A query, not get_entity: a missing row is an empty page, not an exception.
                async for entity in self._table.query_entities(
                    "PartitionKey eq @pk and RowKey eq ''", parameters={"pk": key}
                ):
                    rows.append(entity)
        if not rows:
            return None
        return await self._from_entity(rows[0]), str(rows[0].metadata.get("etag") or "")

    async def insert_or_replace(self, record: InstanceRecord, *, etag: str | None) -> str:
        entity = await self._to_entity(record.to_row())
        what = f"write the status of instance {record.instance_id!r}"
        if self._rest is not None:
            with storage_errors(what, conflict=etag is not None):
                return await self._rest.write(
                    self._table.table_name, entity, merge=False, etag=etag
                )
        if etag is None:
            with storage_errors(what):
                result = await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        else:
            with storage_errors(what, conflict=True):
                result = await self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        return str(result.get("etag") or "")

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
                    if self._rest is not None:
                        return await self._rest.insert(self._table.table_name, entity)
                    result = await self._table.create_entity(entity)
                return str(result.get("etag") or "")
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
        if self._rest is not None:
            with storage_errors(what, conflict=etag is not None):
                return await self._rest.write(self._table.table_name, entity, merge=True, etag=etag)
        # A merge (PATCH) is not repeated by the SDK after a reset; merging the same
        # properties twice is harmless, and a conditional one then conflicts.
        if etag is None:
            with storage_errors(what):
                result = await replay_after_reset(
                    lambda: self._table.upsert_entity(entity, mode=UpdateMode.MERGE), what=what
                )
        else:
            with storage_errors(what, conflict=True):
                result = await replay_after_reset(
                    lambda: self._table.update_entity(
                        entity,
                        mode=UpdateMode.MERGE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    ),
                    what=what,
                )
        return str(result.get("etag") or "")

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
