"""History table rows: event ⇄ row entity, the row keys, and the `sentinel` row.

The row form of the member mapping (`dotnet_members.py`): `EventType` and enums
as names, `Timestamp` as `_Timestamp`, complex members as `$type`-less JSON
strings (`"null"` when unset), null strings and dates left out
(docs/task-hub-layout.md §3).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.taskhub.dotnet_members import (
    describe,
    fields_from,
    is_complex,
    pascal,
    type_hints,
    value_from_json,
    value_to_json,
)
from durable_host.taskhub.event_json import BASE_FIELDS, event_type_of, member_order
from durable_host.taskhub.events import EVENT_CLASSES, HistoryEvent
from durable_host.taskhub.key_escaping import escape_partition_key

__all__ = [
    "LARGE_PROPERTY_NAMES",
    "SENTINEL_ROW_KEY",
    "event_from_row",
    "event_to_row",
    "history_row_key",
    "sentinel_row",
]

SENTINEL_ROW_KEY = "sentinel"

# Row properties that move to a blob above the table limit (docs/task-hub-layout.md §3).
LARGE_PROPERTY_NAMES: tuple[str, ...] = (
    "Name",
    "Input",
    "Result",
    "Output",
    "Reason",
    "Details",
    "Correlation",
    "FailureDetails",
    "Tags",
)


def history_row_key(index: int) -> str:
    """RowKey of the `index`-th event of an execution: 16 uppercase hex digits."""
    return f"{index:016X}"


def _compact_json(value: Any) -> str:
    return json.dumps(
        value_to_json(value, with_type=False), ensure_ascii=False, separators=(",", ":")
    )


def _column_name(field_name: str) -> str:
    # `Timestamp` is reserved by Table storage.
    return "_Timestamp" if field_name == "timestamp" else pascal(field_name)


# Per event class: (field, column, stored as JSON text) in the row's member order.
_ROW_MEMBERS: dict[type[HistoryEvent], tuple[tuple[str, str, bool], ...]] = {}


def _row_members(event: HistoryEvent) -> tuple[tuple[str, str, bool], ...]:
    members = _ROW_MEMBERS.get(type(event))
    if members is None:
        hints = type_hints(type(event))
        before, own = member_order(event)
        members = _ROW_MEMBERS[type(event)] = tuple(
            (name, _column_name(name), is_complex(hints[name]))
            for name in (*before, *own, *BASE_FIELDS)
        )
    return members


def event_to_row(
    event: HistoryEvent, *, instance_id: str, execution_id: str, index: int
) -> dict[str, Any]:
    """The History table entity for `event` at position `index` of its execution."""
    row: dict[str, Any] = {
        "PartitionKey": escape_partition_key(instance_id),
        "RowKey": history_row_key(index),
        "ExecutionId": execution_id,
        "EventType": event.event_type.dotnet_name,
    }
    for name, column, complex_ in _row_members(event):
        value = getattr(event, name)
        if complex_:
            row[column] = "null" if value is None else _compact_json(value)
        elif value is None:
            continue  # Table storage does not keep null properties.
        elif isinstance(value, enum.Enum):
            row[column] = value.name
        elif isinstance(value, datetime):
            row[column] = _aware_utc_checked(value, column)
        else:
            row[column] = value
    return row


def _aware_utc_checked(dt: datetime, column: str) -> datetime:
    if dt.tzinfo is None:
        raise ValueError(
            f"{column} is a naive datetime; history times must be aware UTC "
            "(use datetime.now(timezone.utc))."
        )
    return dt.astimezone(timezone.utc)


def _unwrap(value: Any) -> Any:
    # azure-data-tables returns EntityProperty(value, edm_type) for some EDM types (e.g. Int64).
    if hasattr(value, "edm_type") and hasattr(value, "value"):
        return value.value
    return value


def _value_from_row(value: Any, hint: Any, where: str) -> Any:
    value = _unwrap(value)
    if is_complex(hint) and isinstance(value, str):
        if value in ("", "null"):
            value = None
        else:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise MessageFormatError(f"{where} is not valid JSON: {describe(value)}") from None
    return value_from_json(value, hint, where)


def event_from_row(row: Mapping[str, Any]) -> HistoryEvent:
    """Read a History row (large properties already resolved by the storage layer)."""
    where = f"History row {row.get('PartitionKey')!r}/{row.get('RowKey')!r}"
    cls = EVENT_CLASSES[event_type_of(row, "EventType", where)]
    kwargs = fields_from(cls, row, where, _value_from_row, column_names={"timestamp": "_Timestamp"})
    event: HistoryEvent = cls(**kwargs)
    return event


def sentinel_row(
    instance_id: str,
    execution_id: str,
    *,
    checkpoint_complete: bool,
    completed_at: datetime | None,
) -> dict[str, Any]:
    """The `sentinel` row guarding an instance's history (docs/task-hub-layout.md §3)."""
    row: dict[str, Any] = {
        "PartitionKey": escape_partition_key(instance_id),
        "RowKey": SENTINEL_ROW_KEY,
        "ExecutionId": execution_id,
        "IsCheckpointComplete": checkpoint_complete,
    }
    if completed_at is not None:
        row["CheckpointCompletedTimestamp"] = _aware_utc_checked(
            completed_at, "CheckpointCompletedTimestamp"
        )
    return row
