"""The Instances table row (`<hub>Instances`, docs/task-hub-layout.md §4) as a typed record.

One row per instance: PartitionKey = escaped instance id, RowKey = "". Column
names are those of DurableTask.AzureStorage's `OrchestrationInstanceStatus`, so
monitoring tools and the real provider read rows we write. Conventions:
- `RuntimeStatus` is the status *name* (`Running`, `Completed`, ...);
- `CustomStatus` is always written, `"null"` when unset (as DT.AS does at every
  checkpoint); reading `"null"` gives None;
- `Tags` is a JSON object string, `"null"` when unset, written with every new
  execution as DT.AS does; any other unset value is left out of the row (Table
  storage keeps no null properties), so a merge leaves the column as it was;
- an oversized Input/Output/CustomStatus holds the absolute URL of its blob in
  `<hub>-largemessages`, as DT.AS writes it (`storage_instances.py`);
  `InputBlobName` / `OutputBlobName` are read only from rows older versions of
  durable_host wrote.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.key_escaping import escape_partition_key, unescape_partition_key
from durable_host.taskhub.timestamps import parse_timestamp

__all__ = ["InstanceRecord", "instance_merge_row"]

# Written as "null" when unset, as DT.AS does: CustomStatus at every checkpoint, Tags with
# every ExecutionStarted (TagsSerializer.Serialize(null); AzureTableTrackingStore.cs 941, 991).
_NULL_TEXT_COLUMNS = frozenset({"CustomStatus", "Tags"})


@dataclass(frozen=True, kw_only=True)
class InstanceRecord:
    """One orchestration (or entity) instance's status row."""

    instance_id: str
    name: str
    runtime_status: OrchestrationStatus
    version: str | None = None
    execution_id: str | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    created_time: datetime | None = None
    last_updated_time: datetime | None = None
    completed_time: datetime | None = None
    scheduled_start_time: datetime | None = None
    generation: int = 0
    tags: dict[str, str] | None = None
    task_hub_name: str | None = None
    input_blob_name: str | None = None
    output_blob_name: str | None = None

    def to_row(self) -> dict[str, Any]:
        """The full table entity, for insert or replace."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return instance_merge_row(**fields)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> InstanceRecord:
        """Read a row written by us or by DurableTask.AzureStorage."""
        key = row.get("PartitionKey")
        if not isinstance(key, str):
            raise MessageFormatError(f"Instances row has no PartitionKey: {_describe(row)}")
        instance_id = unescape_partition_key(key)
        where = f"Instances row {instance_id!r}"
        status = _status(row.get("RuntimeStatus"), where)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in ("instance_id", "runtime_status"):
                continue
            column = _COLUMNS[f.name]
            raw = _unwrap(row.get(column))
            if raw is None:
                continue
            values[f.name] = _read(f.name, column, raw, where)
        values.setdefault("name", "")
        return cls(instance_id=instance_id, runtime_status=status, **values)


_COLUMNS: dict[str, str] = {
    f.name: "".join(part.capitalize() for part in f.name.split("_"))
    for f in dataclasses.fields(InstanceRecord)
}


def instance_merge_row(instance_id: str, **fields: Any) -> dict[str, Any]:
    """A partial entity for an InsertOrMerge of just `fields` (InstanceRecord field names).

    `custom_status=None` is written as `"null"`; other None values are left out,
    which with Merge semantics means "unchanged".
    """
    row: dict[str, Any] = {"PartitionKey": escape_partition_key(instance_id), "RowKey": ""}
    for name, value in fields.items():
        column = _COLUMNS.get(name)
        if column is None or name == "instance_id":
            raise TypeError(f"InstanceRecord has no column for field {name!r}")
        if value is None:
            if column in _NULL_TEXT_COLUMNS:
                row[column] = "null"
            continue
        row[column] = _write(column, value)
    return row


def _write(column: str, value: Any) -> Any:
    if isinstance(value, OrchestrationStatus):
        return value.name
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(
                f"{column} is a naive datetime; instance times must be aware UTC "
                "(use datetime.now(timezone.utc))."
            )
        return value.astimezone(timezone.utc)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unwrap(value: Any) -> Any:
    # azure-data-tables returns EntityProperty(value, edm_type) for some EDM types (e.g. Int64).
    if hasattr(value, "edm_type") and hasattr(value, "value"):
        return value.value
    return value


def _status(raw: Any, where: str) -> OrchestrationStatus:
    raw = _unwrap(raw)
    if isinstance(raw, str):
        for status in OrchestrationStatus:
            if status.name.lower() == raw.lower():
                return status
    elif isinstance(raw, int) and not isinstance(raw, bool):
        try:
            return OrchestrationStatus(raw)
        except ValueError:
            pass
    raise MessageFormatError(f"{where} has unknown RuntimeStatus {_describe(raw)}")


def _read(name: str, column: str, raw: Any, where: str) -> Any:
    if name.endswith("_time"):
        if isinstance(raw, datetime):
            return raw.replace(tzinfo=timezone.utc) if raw.tzinfo is None else raw
        if isinstance(raw, str):
            try:
                return parse_timestamp(raw)
            except ValueError as exc:
                raise MessageFormatError(f"{where}.{column}: {exc}") from None
    elif name == "generation":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    elif name == "tags":
        if isinstance(raw, dict):
            return raw
        if isinstance(raw, str):
            if raw in ("", "null"):
                return None
            try:
                tags = json.loads(raw)
            except json.JSONDecodeError:
                tags = None
            if isinstance(tags, dict):
                return {k: v for k, v in tags.items() if k != "$type"}
    elif isinstance(raw, str):
        if column in _NULL_TEXT_COLUMNS and raw == "null":
            return None
        return raw
    raise MessageFormatError(f"{where}.{column} has unexpected value {_describe(raw)}")
