"""History events as Newtonsoft JSON, in both forms, and which event a JSON object is.

- queue JSON (`with_type=True`): Newtonsoft with `TypeNameHandling.Objects`,
  `$type` first in every object, `EventType` and enums as ints, nulls kept;
- SDK history JSON (`with_type=False`): the same without any `$type`.

Members map as `dotnet_members.py` says; the History row form is `history_rows.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.taskhub.dotnet_members import (
    describe,
    fields_from,
    lookup,
    pascal,
    value_from_json,
    value_to_json,
)
from durable_host.taskhub.events import EVENT_CLASSES, EventType, ExecutionStarted, HistoryEvent

__all__ = [
    "BASE_FIELDS",
    "event_from_json",
    "event_to_json",
    "event_type_name",
    "event_type_of",
    "member_order",
]

_HISTORY_NAMESPACE = "DurableTask.Core.History."

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
# The members every event has, written after its own.
BASE_FIELDS = ("event_id", "is_played", "timestamp")


def event_type_name(event_type: EventType) -> str:
    """The `$type` of an event class, e.g. `DurableTask.Core.History.TaskScheduledEvent`."""
    name = event_type.dotnet_name
    # GenericEvent is the one DTFx class whose name is not `<EventType>Event`.
    return _HISTORY_NAMESPACE + (name if name.endswith("Event") else name + "Event")


_EVENT_TYPES_BY_TYPE_NAME = {event_type_name(t): t for t in EVENT_CLASSES}
_EVENT_TYPES_BY_NAME = {t.dotnet_name.lower(): t for t in EventType}


# Per event class: every event of every message and history row is encoded through it.
_MEMBER_ORDERS: dict[type[HistoryEvent], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def member_order(event: HistoryEvent) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the fields written before `EventType`, the event's own fields after it)."""
    cls = type(event)
    order = _MEMBER_ORDERS.get(cls)
    if order is None:
        before = _BEFORE_EVENT_TYPE.get(cls, ())
        own = _JSON_FIELD_ORDER.get(cls) or tuple(
            f.name for f in dataclasses.fields(cls) if f.name not in BASE_FIELDS
        )
        order = _MEMBER_ORDERS[cls] = (before, tuple(n for n in own if n not in before))
    return order


def event_to_json(event: HistoryEvent, *, with_type: bool) -> dict[str, Any]:
    """The event as Newtonsoft writes it: the queue form (`with_type`) or the SDK history form."""
    out: dict[str, Any] = {}
    if with_type:
        out["$type"] = event_type_name(event.event_type)
    before, own = member_order(event)
    for name in before:
        out[pascal(name)] = value_to_json(getattr(event, name), with_type=with_type)
    out["EventType"] = int(event.event_type)
    for name in (*own, *BASE_FIELDS):
        out[pascal(name)] = value_to_json(
            getattr(event, name), with_type=with_type, field_name=name
        )
    return out


def event_type_of(data: Mapping[str, Any], type_key: str, where: str) -> EventType:
    """The event type `data` declares, by its `$type` and/or `type_key` (which must agree)."""
    lowered = lookup(data)
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
            raise MessageFormatError(f"{where} has unknown {type_key} {describe(raw)}")
    if from_type is not None and from_field is not None and from_type != from_field:
        raise MessageFormatError(
            f"{where} says $type {from_type.dotnet_name} but {type_key} {from_field.dotnet_name}"
        )
    # EventType 0 is falsy, hence the explicit None checks.
    result = from_field if from_field is not None else from_type
    if result is None:
        raise MessageFormatError(f"{where} has neither $type nor {type_key}: {describe(data)}")
    if result not in EVENT_CLASSES:
        raise MessageFormatError(
            f"{where} is a {result.dotnet_name} event, which durable_host does not support"
        )
    return result


def event_from_json(data: Mapping[str, Any], *, where: str = "event") -> HistoryEvent:
    """Read an event in either JSON form (with or without `$type`)."""
    if not isinstance(data, Mapping):
        raise MessageFormatError(f"{where} must be a JSON object, got {describe(data)}")
    cls = EVENT_CLASSES[event_type_of(data, "EventType", where)]
    event: HistoryEvent = cls(**fields_from(cls, data, where, value_from_json))
    return event
