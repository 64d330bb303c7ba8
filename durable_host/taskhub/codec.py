"""Pure (de)serialization of history events, queue messages and History rows.

One generic mapping drives every form: a dataclass field `task_scheduled_id`
is the .NET member `TaskScheduledId` (docs/task-hub-layout.md §2-§3,
docs/protocol.md §1.2). Three forms exist:

- queue JSON (`with_type=True`): Newtonsoft with `TypeNameHandling.Objects`,
  `$type` first in every object, `EventType` and enums as ints, nulls kept;
- SDK history JSON (`with_type=False`): the same without any `$type`;
- History table row: `EventType` and enums as names, `Timestamp` as
  `_Timestamp`, complex members as `$type`-less JSON strings (`"null"` when
  unset), null strings and dates left out.

Writer choices where .NET differs or where we do not model a member:
- `Tags` is written as a plain object without the `Dictionary\\`2[[...]]`
  `$type` .NET emits (any `$type` found on read is dropped).
- Members we do not model are dropped on read and never written:
  `TaskMessage.OrchestrationExecutionContext`, `ExecutionStarted.GenerateNewTrace`
  and `SerializedActivity`, `FailureDetails.Properties`, and any member newer
  DTFx versions add. Unknown members are ignored, never an error.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.taskhub import events as ev
from durable_host.taskhub.events import (
    EVENT_CLASSES,
    EventType,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    MessageData,
    OrchestrationInstance,
    ParentInstance,
    TaskMessage,
)
from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "LARGE_PROPERTY_NAMES",
    "MESSAGE_DATA_TYPE",
    "SENTINEL_ROW_KEY",
    "TASK_MESSAGE_TYPE",
    "decode_message",
    "encode_message",
    "event_from_json",
    "event_from_row",
    "event_to_json",
    "event_to_row",
    "event_type_name",
    "history_row_key",
    "message_from_json",
    "sentinel_row",
]

MESSAGE_DATA_TYPE = "DurableTask.AzureStorage.MessageData"
TASK_MESSAGE_TYPE = "DurableTask.Core.TaskMessage"
_HISTORY_NAMESPACE = "DurableTask.Core.History."

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

_NESTED_TYPE_NAMES: dict[type, str] = {
    OrchestrationInstance: "DurableTask.Core.OrchestrationInstance",
    ParentInstance: "DurableTask.Core.ParentInstance",
    FailureDetails: "DurableTask.Core.FailureDetails",
}
# Dict-typed members that are .NET objects (not dictionaries) and so carry a `$type`.
_DICT_FIELD_TYPE_NAMES = {
    "parent_trace_context": "DurableTask.Core.Tracing.DistributedTraceContext"
}

# .NET declares ExecutionStartedEvent.OrchestrationInstance as a field, which
# Newtonsoft writes before the EventType property (docs/task-hub-layout.md §2).
_BEFORE_EVENT_TYPE: dict[type[HistoryEvent], tuple[str, ...]] = {
    ExecutionStarted: ("orchestration_instance",),
}
_JSON_FIELD_ORDER: dict[type[HistoryEvent], tuple[str, ...]] = {
    ExecutionStarted: (
        "parent_instance",
        "name",
        "version",
        "input",
        "tags",
        "correlation",
        "parent_trace_context",
        "scheduled_start_time",
        "generation",
    ),
}
_BASE_FIELDS = ("event_id", "is_played", "timestamp")


def event_type_name(event_type: EventType) -> str:
    """The `$type` of an event class, e.g. `DurableTask.Core.History.TaskScheduledEvent`."""
    name = event_type.dotnet_name
    # GenericEvent is the one DTFx class whose name is not `<EventType>Event`.
    return _HISTORY_NAMESPACE + (name if name.endswith("Event") else name + "Event")


_EVENT_TYPES_BY_TYPE_NAME = {event_type_name(t): t for t in EVENT_CLASSES}
_EVENT_TYPES_BY_NAME = {t.dotnet_name.lower(): t for t in EventType}
_EVENT_TYPES_BY_VALUE = {int(t): t for t in EventType}


@functools.cache
def _pascal(field_name: str) -> str:
    return "".join(part.capitalize() for part in field_name.split("_"))


def _hints(cls: type) -> dict[str, Any]:
    # get_type_hints is slow and this runs for every event of every episode: cache per class.
    hints = _HINT_CACHE.get(cls)
    if hints is None:
        hints = _HINT_CACHE[cls] = typing.get_type_hints(cls, vars(ev))
    return hints


_HINT_CACHE: dict[type, dict[str, Any]] = {}


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _is_complex(hint: Any) -> bool:
    base, _ = _strip_optional(hint)
    return dataclasses.is_dataclass(base) or typing.get_origin(base) is dict or base is dict


def _aware_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        # Table and SDK readers may hand back naive UTC values; storage times are always UTC.
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


# --------------------------------------------------------------------------- JSON (queue / SDK)


def _value_to_json(value: Any, *, with_type: bool, field_name: str = "") -> Any:
    if isinstance(value, enum.Enum):
        # Newtonsoft writes enums as their numeric value unless told otherwise.
        return value.value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        if with_type:
            out["$type"] = _NESTED_TYPE_NAMES[type(value)]
        for f in dataclasses.fields(value):
            out[_pascal(f.name)] = _value_to_json(
                getattr(value, f.name), with_type=with_type, field_name=f.name
            )
        return out
    if isinstance(value, Mapping):
        type_name = _DICT_FIELD_TYPE_NAMES.get(field_name)
        head = {"$type": type_name} if with_type and type_name else {}
        return head | {k: v for k, v in value.items() if k != "$type"}
    raise TypeError(
        f"cannot serialize {type(value).__name__} value {value!r} in field {field_name}"
    )


def _json_field_order(event: HistoryEvent) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cls = type(event)
    before = _BEFORE_EVENT_TYPE.get(cls, ())
    own = _JSON_FIELD_ORDER.get(cls) or tuple(
        f.name for f in dataclasses.fields(cls) if f.name not in _BASE_FIELDS
    )
    return before, tuple(n for n in own if n not in before)


def event_to_json(event: HistoryEvent, *, with_type: bool) -> dict[str, Any]:
    """The event as Newtonsoft writes it: the queue form (`with_type`) or the SDK history form."""
    out: dict[str, Any] = {}
    if with_type:
        out["$type"] = event_type_name(event.event_type)
    before, own = _json_field_order(event)
    for name in before:
        out[_pascal(name)] = _value_to_json(getattr(event, name), with_type=with_type)
    out["EventType"] = int(event.event_type)
    for name in (*own, *_BASE_FIELDS):
        out[_pascal(name)] = _value_to_json(
            getattr(event, name), with_type=with_type, field_name=name
        )
    return out


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _value_from_json(value: Any, hint: Any, where: str) -> Any:
    base, optional = _strip_optional(hint)
    if value is None:
        if optional:
            return None
        raise MessageFormatError(f"{where} is null but is required")
    try:
        if base is str:
            if isinstance(value, str):
                return value
        elif base is bool:
            if isinstance(value, bool):
                return value
        elif base is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif base is datetime:
            if isinstance(value, datetime):
                return _aware_utc(value)
            if isinstance(value, str):
                return parse_timestamp(value)
        elif isinstance(base, type) and issubclass(base, enum.Enum):
            return _enum_from(base, value)
        elif dataclasses.is_dataclass(base) and isinstance(base, type):
            if isinstance(value, Mapping):
                return _dataclass_from_json(base, value, where)
        elif (typing.get_origin(base) is dict or base is dict) and isinstance(value, Mapping):
            return {k: v for k, v in value.items() if k != "$type"}
    except ValueError as exc:
        raise MessageFormatError(f"{where}: {exc}") from None
    raise MessageFormatError(f"{where} has unexpected value {_describe(value)}")


def _enum_from(cls: type[enum.Enum], value: Any) -> enum.Enum:
    if isinstance(value, int) and not isinstance(value, bool):
        return cls(value)
    if isinstance(value, str):
        for member in cls:
            if member.name.lower() == value.lower():
                return member
    raise ValueError(f"{_describe(value)} is not a {cls.__name__}")


def _lookup(data: Mapping[str, Any]) -> dict[str, Any]:
    # Newtonsoft matches member names case-insensitively on read; so do we.
    return {k.lower(): v for k, v in data.items()}


_MISSING = object()


def _fields_from(
    cls: type,
    data: Mapping[str, Any],
    where: str,
    convert: Callable[[Any, Any, str], Any],
    *,
    column_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    lowered = _lookup(data)
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        column = (column_names or {}).get(f.name, _pascal(f.name))
        raw = lowered.get(column.lower(), _MISSING)
        optional = _strip_optional(hints[f.name])[1]
        has_default = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        # .NET may write null where we keep a non-null default (e.g. Version): take the default.
        if raw is _MISSING or (raw is None and has_default and not optional):
            if has_default:
                continue
            if optional:
                kwargs[f.name] = None
                continue
            raise MessageFormatError(f"{where} is missing required member {column}")
        kwargs[f.name] = convert(raw, hints[f.name], f"{where}.{column}")
    return kwargs


def _dataclass_from_json(cls: type, data: Mapping[str, Any], where: str) -> Any:
    return cls(**_fields_from(cls, data, where, _value_from_json))


def _event_type_of(data: Mapping[str, Any], type_key: str, where: str) -> EventType:
    lowered = _lookup(data)
    from_type: EventType | None = None
    type_name = lowered.get("$type")
    if isinstance(type_name, str):
        short = type_name.split(",", 1)[0].strip()
        from_type = _EVENT_TYPES_BY_TYPE_NAME.get(short)
        if from_type is None:
            raise MessageFormatError(
                f"{where} has unsupported $type {short!r}; durable_host understands "
                f"{', '.join(sorted(t.dotnet_name for t in EVENT_CLASSES))}."
            )
    raw = lowered.get(type_key.lower())
    from_field: EventType | None = None
    if raw is not None:
        if (
            isinstance(raw, int)
            and not isinstance(raw, bool)
            and raw in EventType._value2member_map_
        ):
            from_field = EventType(raw)
        elif isinstance(raw, str) and raw.lower() in _EVENT_TYPES_BY_NAME:
            from_field = _EVENT_TYPES_BY_NAME[raw.lower()]
        else:
            raise MessageFormatError(f"{where} has unknown {type_key} {_describe(raw)}")
    if from_type is not None and from_field is not None and from_type != from_field:
        raise MessageFormatError(
            f"{where} says $type {from_type.dotnet_name} but {type_key} {from_field.dotnet_name}"
        )
    # EventType 0 is falsy, hence the explicit None checks.
    result = from_field if from_field is not None else from_type
    if result is None:
        raise MessageFormatError(f"{where} has neither $type nor {type_key}: {_describe(data)}")
    if result not in EVENT_CLASSES:
        raise MessageFormatError(
            f"{where} is a {result.dotnet_name} event, which durable_host does not support"
        )
    return result


def event_from_json(data: Mapping[str, Any], *, where: str = "event") -> HistoryEvent:
    """Read an event in either JSON form (with or without `$type`)."""
    if not isinstance(data, Mapping):
        raise MessageFormatError(f"{where} must be a JSON object, got {_describe(data)}")
    cls = EVENT_CLASSES[_event_type_of(data, "EventType", where)]
    event: HistoryEvent = cls(**_fields_from(cls, data, where, _value_from_json))
    return event


# --------------------------------------------------------------------------- queue messages


def _instance_to_json(instance: OrchestrationInstance, *, with_type: bool) -> dict[str, Any]:
    result: dict[str, Any] = _value_to_json(instance, with_type=with_type)
    return result


def encode_message(msg: MessageData) -> str:
    """The queue body of `msg`: compact Newtonsoft-style JSON, raw UTF-8 (DT.AS 2.x)."""
    body: dict[str, Any] = {"$type": MESSAGE_DATA_TYPE, "ActivityId": msg.activity_id}
    tm = msg.task_message
    body["TaskMessage"] = (
        None
        if tm is None
        else {
            "$type": TASK_MESSAGE_TYPE,
            "Event": event_to_json(tm.event, with_type=True),
            "SequenceNumber": tm.sequence_number,
            "OrchestrationInstance": _instance_to_json(tm.orchestration_instance, with_type=True),
        }
    )
    body["CompressedBlobName"] = msg.compressed_blob_name
    body["SequenceNumber"] = msg.sequence_number
    if msg.episode is not None:
        body["Episode"] = msg.episode
    # DT.AS writes Sender without a $type.
    body["Sender"] = _instance_to_json(msg.sender, with_type=False)
    body["SerializableTraceContext"] = msg.serializable_trace_context
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _excerpt(body: str) -> str:
    return repr(body[:60] + ("..." if len(body) > 60 else ""))


def decode_message(body: str | bytes) -> MessageData:
    """Parse a queue body: raw JSON, or base64 of it (DT.AS 1.x and other writers)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError(
                f"queue message is not UTF-8 text: {body[:40]!r}; move it to the poison queue"
            ) from None
    text = body.lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise MessageFormatError(
                f"queue message is neither JSON nor base64 JSON: {_excerpt(body)}"
            ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MessageFormatError(
            f"queue message is not valid JSON ({exc.msg} at char {exc.pos}): {_excerpt(text)}"
        ) from None
    if not isinstance(data, dict):
        raise MessageFormatError(f"queue message is not a JSON object: {_excerpt(text)}")
    return message_from_json(data)


def _opt(lowered: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = lowered.get(key.lower())
    if value is None:
        return None
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise MessageFormatError(f"{where}.{key} has unexpected value {_describe(value)}")


def message_from_json(data: Mapping[str, Any]) -> MessageData:
    """`MessageData` from the parsed queue body."""
    lowered = _lookup(data)
    activity_id = _opt(lowered, "ActivityId", str, "MessageData")
    if activity_id is None:
        raise MessageFormatError(f"queue message has no ActivityId: {_describe(data)}")
    task_message = None
    raw_tm = lowered.get("taskmessage")
    if raw_tm is not None:
        task_message = _task_message_from_json(raw_tm)
    elif lowered.get("compressedblobname") is None:
        raise MessageFormatError(
            f"queue message has neither TaskMessage nor CompressedBlobName: {_describe(data)}"
        )
    raw_sender = lowered.get("sender")
    sender = (
        OrchestrationInstance("", "")
        if raw_sender is None
        else _value_from_json(raw_sender, OrchestrationInstance, "MessageData.Sender")
    )
    trace = lowered.get("serializabletracecontext")
    if trace is not None and not isinstance(trace, str):
        trace = json.dumps(trace, ensure_ascii=False, separators=(",", ":"))
    return MessageData(
        activity_id=activity_id,
        task_message=task_message,
        sequence_number=_opt(lowered, "SequenceNumber", int, "MessageData") or 0,
        compressed_blob_name=_opt(lowered, "CompressedBlobName", str, "MessageData"),
        episode=_opt(lowered, "Episode", int, "MessageData"),
        sender=sender,
        serializable_trace_context=trace,
    )


def _task_message_from_json(data: Any) -> TaskMessage:
    if not isinstance(data, Mapping):
        raise MessageFormatError(f"TaskMessage must be a JSON object, got {_describe(data)}")
    lowered = _lookup(data)
    if lowered.get("event") is None:
        raise MessageFormatError(f"TaskMessage has no Event: {_describe(data)}")
    event = event_from_json(lowered["event"], where="TaskMessage.Event")
    raw_instance = lowered.get("orchestrationinstance")
    if raw_instance is None:
        raise MessageFormatError(f"TaskMessage has no OrchestrationInstance: {_describe(data)}")
    instance = _value_from_json(
        raw_instance, OrchestrationInstance, "TaskMessage.OrchestrationInstance"
    )
    return TaskMessage(
        event=event,
        orchestration_instance=instance,
        sequence_number=_opt(lowered, "SequenceNumber", int, "TaskMessage") or 0,
    )


# --------------------------------------------------------------------------- History rows


def history_row_key(index: int) -> str:
    """RowKey of the `index`-th event of an execution: 16 uppercase hex digits."""
    return f"{index:016X}"


def _compact_json(value: Any) -> str:
    return json.dumps(
        _value_to_json(value, with_type=False), ensure_ascii=False, separators=(",", ":")
    )


def _column_name(field_name: str) -> str:
    # `Timestamp` is reserved by Table storage.
    return "_Timestamp" if field_name == "timestamp" else _pascal(field_name)


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
    hints = _hints(type(event))
    before, own = _json_field_order(event)
    for name in (*before, *own, *_BASE_FIELDS):
        value = getattr(event, name)
        column = _column_name(name)
        if _is_complex(hints[name]):
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
    if _is_complex(hint) and isinstance(value, str):
        if value in ("", "null"):
            value = None
        else:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise MessageFormatError(f"{where} is not valid JSON: {_describe(value)}") from None
    return _value_from_json(value, hint, where)


def event_from_row(row: Mapping[str, Any]) -> HistoryEvent:
    """Read a History row (large properties already resolved by the storage layer)."""
    where = f"History row {row.get('PartitionKey')!r}/{row.get('RowKey')!r}"
    cls = EVENT_CLASSES[_event_type_of(row, "EventType", where)]
    kwargs = _fields_from(
        cls, row, where, _value_from_row, column_names={"timestamp": "_Timestamp"}
    )
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
