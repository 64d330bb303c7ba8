"""The one generic mapping of our dataclasses to .NET `[DataMember]` values, both ways.

A dataclass field `task_scheduled_id` is the .NET member `TaskScheduledId`
(docs/task-hub-layout.md §2-§3, docs/protocol.md §1.2); events, queue bodies and
History rows (`event_json.py`, `queue_messages.py`, `history_rows.py`) are all
built on it.

Writer choices where .NET differs or where we do not model a member:
- `Tags` is written as a plain object without the `Dictionary\\`2[[...]]`
  `$type` .NET emits (any `$type` found on read is dropped).
- Members we do not model are dropped on read and never written:
  `TaskMessage.OrchestrationExecutionContext`, `ExecutionStarted.GenerateNewTrace`
  and `SerializedActivity`, `FailureDetails.Properties`, and any member newer
  DTFx versions add. Unknown members are ignored, never an error.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.taskhub import events as ev
from durable_host.taskhub.events import FailureDetails, OrchestrationInstance, ParentInstance
from durable_host.taskhub.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "describe",
    "fields_from",
    "is_complex",
    "lookup",
    "pascal",
    "type_hints",
    "value_from_json",
    "value_to_json",
]

_NESTED_TYPE_NAMES: dict[type, str] = {
    OrchestrationInstance: "DurableTask.Core.OrchestrationInstance",
    ParentInstance: "DurableTask.Core.ParentInstance",
    FailureDetails: "DurableTask.Core.FailureDetails",
}
# Dict-typed members that are .NET objects (not dictionaries) and so carry a `$type`.
_DICT_FIELD_TYPE_NAMES = {
    "parent_trace_context": "DurableTask.Core.Tracing.DistributedTraceContext"
}


@functools.cache
def pascal(field_name: str) -> str:
    return "".join(part.capitalize() for part in field_name.split("_"))


def type_hints(cls: type) -> dict[str, Any]:
    # get_type_hints is slow and this runs for every event of every episode: cache per class.
    hints = _HINT_CACHE.get(cls)
    if hints is None:
        hints = _HINT_CACHE[cls] = typing.get_type_hints(cls, vars(ev))
    return hints


_HINT_CACHE: dict[type, dict[str, Any]] = {}


# Both run for every member of every event read or written, on the few hints the event
# classes declare (all hashable).
@functools.cache
def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


@functools.cache
def is_complex(hint: Any) -> bool:
    base, _ = _strip_optional(hint)
    return dataclasses.is_dataclass(base) or typing.get_origin(base) is dict or base is dict


def _aware_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        # Table and SDK readers may hand back naive UTC values; storage times are always UTC.
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def lookup(data: Mapping[str, Any]) -> dict[str, Any]:
    # Newtonsoft matches member names case-insensitively on read; so do we.
    return {k.lower(): v for k, v in data.items()}


def value_to_json(value: Any, *, with_type: bool, field_name: str = "") -> Any:
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
            out[pascal(f.name)] = value_to_json(
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


def value_from_json(value: Any, hint: Any, where: str) -> Any:
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
    raise MessageFormatError(f"{where} has unexpected value {describe(value)}")


def _enum_from(cls: type[enum.Enum], value: Any) -> enum.Enum:
    if isinstance(value, int) and not isinstance(value, bool):
        return cls(value)
    if isinstance(value, str):
        for member in cls:
            if member.name.lower() == value.lower():
                return member
    raise ValueError(f"{describe(value)} is not a {cls.__name__}")


_MISSING = object()


def fields_from(
    cls: type,
    data: Mapping[str, Any],
    where: str,
    convert: Callable[[Any, Any, str], Any],
    *,
    column_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The constructor arguments of `cls` read from `data`, each value through `convert`."""
    lowered = lookup(data)
    hints = type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        column = (column_names or {}).get(f.name, pascal(f.name))
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
    return cls(**fields_from(cls, data, where, value_from_json))
