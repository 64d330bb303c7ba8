"""History table I/O: load one execution, append a checkpoint under the sentinel ETag.

The split-brain guard is the `sentinel` row (docs/task-hub-layout.md §3): every
checkpoint batch carries it, created when no ETag is known, else merged with
If-Match on the last ETag; a conflict fails the whole batch, so a worker that
lost its partition can never interleave rows with the new owner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from azure.data.tables import TableEntity

from durable_host.taskhub.events import HistoryEvent
from durable_host.taskhub.history_rows import (
    LARGE_PROPERTY_NAMES,
    SENTINEL_ROW_KEY,
    event_from_row,
    event_to_row,
    history_row_key,
    sentinel_row,
)
from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.large_payloads import LargePayloads, history_blob_name, is_large_property
from durable_host.taskhub.rest_tables import BatchOperation, BatchVerb
from durable_host.taskhub.storage_errors import storage_errors
from durable_host.taskhub.table_batch import submit_batch
from durable_host.taskhub.transports import HubTable

__all__ = [
    "HistoryLoad",
    "HistoryStore",
    "odata_quote",
    "partition_filter",
]

BLOB_NAME_SUFFIX = "BlobName"
# 100 operations per table transaction: 99 rows plus the sentinel.
_ROWS_PER_BATCH = 99
# The service rejects transactions over 4 MiB; the provider keeps well under it.
_BATCH_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class HistoryLoad:
    """One execution's history.

    `etag` is the sentinel's (None if nothing was checkpointed yet), whichever
    execution it names: the next checkpoint of any execution must match it.
    """

    events: list[HistoryEvent]
    execution_id: str | None
    etag: str | None


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled, so any instance id is safe in a filter."""
    return "'" + value.replace("'", "''") + "'"


def partition_filter(instance_id: str) -> str:
    return f"PartitionKey eq {odata_quote(escape_partition_key(instance_id))}"


def _estimate_bytes(row: Mapping[str, Any]) -> int:
    # Strings travel as JSON; UTF-16 length is a safe over-estimate of their UTF-8 size.
    return 64 + sum(len(k) + (2 * len(v) if isinstance(v, str) else 16) for k, v in row.items())


async def offload_large_properties(
    row: dict[str, Any],
    payloads: LargePayloads,
    *,
    escaped_id: str,
    event_type: str | None,
    names: Sequence[str] = LARGE_PROPERTY_NAMES,
) -> list[str]:
    """Move oversized string columns of `row` to blobs in place; returns the blob names."""
    uploaded: list[str] = []
    for prop in names:
        value = row.get(prop)
        if not isinstance(value, str) or not is_large_property(value):
            continue
        kind = event_type or ("Input" if prop == "Input" else prop)
        blob = history_blob_name(escaped_id, str(row.get("RowKey", "")), kind, prop)
        await payloads.upload(blob, value)
        row[prop] = ""
        row[prop + BLOB_NAME_SUFFIX] = blob
        uploaded.append(blob)
    return uploaded


async def restore_large_properties(
    row: dict[str, Any], payloads: LargePayloads, *, names: Sequence[str] = LARGE_PROPERTY_NAMES
) -> None:
    """Replace `<Prop>BlobName` columns of `row` by the blob contents, in place."""
    for key in [k for k in row if k.endswith(BLOB_NAME_SUFFIX)]:
        blob = row.pop(key)
        prop = key[: -len(BLOB_NAME_SUFFIX)]
        # A non-empty column wins: a later merge wrote a small value over an offloaded one.
        if isinstance(blob, str) and blob and prop in names and not row.get(prop):
            row[prop] = await payloads.download(blob)


class HistoryStore:
    """Reads and writes `<hub>History` for one task hub."""

    def __init__(self, table: HubTable, payloads: LargePayloads) -> None:
        # Loads and checkpoints go through `table.rows`; listings and deletes, the SDK's.
        self._rows, self._name, self._table = table.rows, table.name, table.client
        self._payloads = payloads

    async def load(self, instance_id: str, execution_id: str | None = None) -> HistoryLoad:
        query = partition_filter(instance_id)
        if execution_id is not None:
            execution = odata_quote(execution_id)
            query += f" and (RowKey eq '{SENTINEL_ROW_KEY}' or ExecutionId eq {execution})"
        rows: list[dict[str, Any]] = []
        sentinel: TableEntity | None = None
        with storage_errors(f"load the history of instance {instance_id!r}"):
            found = await self._rows.query(self._name, query)
        for entity in found:
            if entity.get("RowKey") == SENTINEL_ROW_KEY:
                sentinel = entity
            else:
                rows.append(dict(entity))
        rows.sort(key=lambda r: str(r.get("RowKey", "")))
        etag = sentinel.metadata.get("etag") if sentinel is not None else None
        current = execution_id
        if current is None:
            source = sentinel if sentinel is not None else (rows[0] if rows else None)
            current = source.get("ExecutionId") if source is not None else None
        events: list[HistoryEvent] = []
        for index, row in enumerate(rows):
            # Continue-as-new rewrites from row 0; leftovers of a longer older run follow.
            # An execution's rows are contiguous from 0: stop at the first gap or foreign row.
            if row.get("ExecutionId") != current or row.get("RowKey") != history_row_key(index):
                break
            await restore_large_properties(row, self._payloads)
            events.append(event_from_row(row))
        return HistoryLoad(events=events, execution_id=current, etag=etag)

    async def load_slice(
        self, instance_id: str, execution_id: str, first: int, count: int
    ) -> list[HistoryEvent]:
        """Events `first..first+count` of one execution, by RowKey range (no full read)."""
        query = (
            f"{partition_filter(instance_id)} and RowKey ge '{history_row_key(first)}' "
            f"and RowKey lt '{history_row_key(first + count)}' "
            f"and ExecutionId eq {odata_quote(execution_id)}"
        )
        rows: list[dict[str, Any]] = []
        with storage_errors(f"load part of the history of instance {instance_id!r}"):
            async for entity in self._table.query_entities(query):
                rows.append(dict(entity))
        rows.sort(key=lambda r: str(r.get("RowKey", "")))
        events = []
        for row in rows:
            await restore_large_properties(row, self._payloads)
            events.append(event_from_row(row))
        return events

    async def length(self, instance_id: str, execution_id: str) -> int:
        """How many events the execution has, from a few point reads: its rows are numbered
        from 0 without gaps, so the first missing one is found by doubling, then bisecting."""

        async def has_row(index: int) -> bool:
            query = (
                f"{partition_filter(instance_id)} and RowKey eq '{history_row_key(index)}' "
                f"and ExecutionId eq {odata_quote(execution_id)}"
            )
            with storage_errors(f"read the history of instance {instance_id!r}"):
                async for _ in self._table.query_entities(query, select=["RowKey"]):
                    return True
            return False

        if not await has_row(0):
            return 0
        present, missing = 0, 1
        while await has_row(missing):
            present, missing = missing, missing * 2
        while missing - present > 1:
            middle = (present + missing) // 2
            if await has_row(middle):
                present = middle
            else:
                missing = middle
        return missing

    async def append(
        self,
        instance_id: str,
        execution_id: str,
        *,
        start_index: int,
        events: Sequence[HistoryEvent],
        etag: str | None,
        checkpoint_complete: bool = True,
    ) -> str:
        """Write `events` as rows `start_index..` plus the sentinel; returns the new sentinel ETag.

        Raises CheckpointConflictError when the sentinel changed since `etag`
        (or already exists when `etag` is None).
        """
        escaped = escape_partition_key(instance_id)
        rows: list[dict[str, Any]] = []
        for offset, event in enumerate(events):
            row = dict(
                event_to_row(
                    event,
                    instance_id=instance_id,
                    execution_id=execution_id,
                    index=start_index + offset,
                )
            )
            await offload_large_properties(
                row, self._payloads, escaped_id=escaped, event_type=event.event_type.dotnet_name
            )
            rows.append(row)
        batches = _batches(rows)
        for number, batch in enumerate(batches):
            final = number == len(batches) - 1
            etag = await self._submit(
                instance_id, execution_id, batch, etag, final and checkpoint_complete
            )
        assert etag is not None
        return etag

    async def _submit(
        self,
        instance_id: str,
        execution_id: str,
        rows: list[dict[str, Any]],
        etag: str | None,
        complete: bool,
    ) -> str:
        sentinel = sentinel_row(
            instance_id,
            execution_id,
            checkpoint_complete=complete,
            completed_at=datetime.now(timezone.utc) if complete else None,
        )
        operations = [BatchOperation(BatchVerb.INSERT_OR_REPLACE, row) for row in rows]
        if etag is None:
            operations.append(BatchOperation(BatchVerb.INSERT, sentinel))
        else:
            operations.append(BatchOperation(BatchVerb.INSERT_OR_MERGE, sentinel, etag))
        with storage_errors(f"checkpoint the history of instance {instance_id!r}", conflict=True):
            etags = await self._rows.transact(self._name, operations)
        if not etags[-1]:
            raise RuntimeError("The table service returned no ETag for the sentinel row.")
        return etags[-1]

    async def delete(self, instance_id: str) -> int:
        """Delete every history row of the instance (all executions); returns the row count."""
        keys: list[tuple[str, str]] = []
        with storage_errors(f"list the history rows of instance {instance_id!r}"):
            async for entity in self._table.query_entities(
                partition_filter(instance_id), select=["PartitionKey", "RowKey"]
            ):
                keys.append((entity["PartitionKey"], entity["RowKey"]))
        with storage_errors(f"delete the history of instance {instance_id!r}"):
            for start in range(0, len(keys), 100):
                chunk = keys[start : start + 100]
                await submit_batch(
                    self._table,
                    [("delete", {"PartitionKey": pk, "RowKey": rk}) for pk, rk in chunk],
                )
        return len(keys)


def _batches(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for row in rows:
        row_bytes = _estimate_bytes(row)
        current = batches[-1]
        if current and (len(current) >= _ROWS_PER_BATCH or size + row_bytes > _BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(row)
        size += row_bytes
    return batches
