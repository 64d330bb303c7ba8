"""JSON bodies of the Durable HTTP API: status objects, history, HttpError.

Routes and shapes: docs/openapi.yaml and docs/protocol.md §5.

Shapes follow the extension's `StatusResponsePayload`, `DurableClient`'s history
conversion and ASP.NET Web API's `HttpError`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, TypedDict

from durable_host.engine.client.api import EntityStatus, InstanceStatus
from durable_host.errors import InstanceAlreadyExistsError
from durable_host.taskhub.events import (
    EventType,
    HistoryEvent,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
)
from durable_host.taskhub.timestamps import format_status_time

__all__ = [
    "EntityStatusPayload",
    "HttpErrorBody",
    "StatusPayload",
    "already_exists_error",
    "entity_status_payload",
    "http_error",
    "newtonsoft_datetime",
    "parse_payload",
    "status_payload",
]


class _StatusFields(TypedDict):
    name: str
    instanceId: str
    runtimeStatus: str
    # JSON values (or the raw text when it is not JSON: parse_payload).
    input: Any
    customStatus: Any
    output: Any
    createdTime: str
    lastUpdatedTime: str


class StatusPayload(_StatusFields, total=False):
    """The extension's `StatusResponsePayload`; `historyEvents` only when asked for."""

    historyEvents: list[dict[str, Any]]


class EntityIdPayload(TypedDict):
    name: str
    key: str


class EntityStatusPayload(TypedDict):
    """One item of `GET entities/` (the extension's `DurableEntityStatus`)."""

    entityId: EntityIdPayload
    lastOperationTime: str
    state: Any


class _HttpErrorMessage(TypedDict):
    Message: str


class HttpErrorBody(_HttpErrorMessage, total=False):
    """ASP.NET Web API's `HttpError`; the exception fields only when there is one."""

    ExceptionMessage: str
    ExceptionType: str
    StackTrace: None


def parse_payload(text: str | None) -> Any:
    """`DurableClient.ParseToJToken`: JSON if it parses, else the trimmed raw string."""
    if text is None:
        return None
    stripped = text.strip()
    if not stripped:
        return ""
    try:
        return json.loads(stripped)
    except ValueError:
        return stripped


def newtonsoft_datetime(dt: datetime) -> str:
    """A UTC DateTime as Json.NET writes it: `2024-03-01T10:00:00.123Z` (trailing zeros cut)."""
    utc = dt.astimezone(timezone.utc) if dt.tzinfo else dt
    text = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return newtonsoft_datetime(value)
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {_pascal(f.name): _to_json(getattr(value, f.name)) for f in fields}
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _event_dict(event: HistoryEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EventType": event.event_type.dotnet_name,
        "EventId": event.event_id,
        "IsPlayed": event.is_played,
        "Timestamp": newtonsoft_datetime(event.timestamp),
    }
    for f in dataclasses.fields(event):
        if f.name not in ("timestamp", "event_id", "is_played"):
            out[_pascal(f.name)] = _to_json(getattr(event, f.name))
    return out


_DROPPED_FIELDS: dict[EventType, tuple[str, ...]] = {
    EventType.TASK_SCHEDULED: ("Version",),
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: ("Version",),
    EventType.EXECUTION_STARTED: ("OrchestrationInstance", "ParentInstance", "Version", "Tags"),
    EventType.TIMER_FIRED: ("TimerId",),
}


@dataclasses.dataclass(frozen=True)
class _Scheduled:
    """A TaskScheduled / SubOrchestrationInstanceCreated, as its completion quotes it."""

    index: int
    name: str
    timestamp: datetime
    input: str | None


_COMPLETIONS: dict[EventType, tuple[type[HistoryEvent], bool]] = {
    # completion type -> (the scheduling event it pairs with, whether it carries an output)
    EventType.TASK_COMPLETED: (TaskScheduled, True),
    EventType.TASK_FAILED: (TaskScheduled, False),
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: (SubOrchestrationInstanceCreated, True),
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: (SubOrchestrationInstanceCreated, False),
}


def history_events(
    events: Sequence[HistoryEvent], *, show_output: bool, show_input: bool = True
) -> list[dict[str, Any]]:
    """`historyEvents` as `DurableClient.GetDurableOrchestrationStatusAsync` shapes it.

    Scheduling events that have a completion are folded into it (`FunctionName`,
    `ScheduledTime` and, with `showInput`, the scheduled `Input` as stored),
    OrchestratorStarted/Completed are dropped, `EventId`/`IsPlayed` are removed, outputs
    appear only with `showHistoryOutput` and `Input` (raw text) goes only with `showInput=false`.
    """
    scheduled: dict[tuple[type[HistoryEvent], int], _Scheduled] = {}
    for index, event in enumerate(events):
        if isinstance(event, (TaskScheduled, SubOrchestrationInstanceCreated)):
            scheduled[(type(event), event.event_id)] = _Scheduled(
                index, event.name, event.timestamp, event.input
            )
    removed: set[int] = set()
    result: list[tuple[int, dict[str, Any]]] = []
    for index, event in enumerate(events):
        kind = event.event_type
        if kind in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED):
            continue
        item = _event_dict(event)
        for name in _DROPPED_FIELDS.get(kind, ()):
            item.pop(name, None)
        if kind == EventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name", None)
        if kind in _COMPLETIONS:
            source_type, has_output = _COMPLETIONS[kind]
            task_id = item.pop("TaskScheduledId", None)
            source = scheduled.get((source_type, task_id if isinstance(task_id, int) else -1))
            if source is not None:
                item["ScheduledTime"] = newtonsoft_datetime(source.timestamp)
                item["FunctionName"] = source.name
                if show_input:
                    item["Input"] = source.input
                removed.add(source.index)
            if has_output:
                if show_output:
                    item["Result"] = parse_payload(item.get("Result"))
                else:
                    item.pop("Result", None)
        if kind == EventType.EXECUTION_COMPLETED:
            if show_output:
                item["Result"] = parse_payload(item.get("Result"))
            else:
                item.pop("Result", None)
        if not show_input:
            item.pop("Input", None)
        item.pop("EventId", None)
        item.pop("IsPlayed", None)
        result.append((index, item))
    return [item for index, item in result if index not in removed]


def status_payload(
    status: InstanceStatus, *, show_history_output: bool = False, show_input: bool = True
) -> StatusPayload:
    """`StatusResponsePayload`: payload fields parsed as JSON, times as `yyyy-MM-ddTHH:mm:ssZ`."""
    body: StatusPayload = {
        "name": status.name,
        "instanceId": status.instance_id,
        "runtimeStatus": status.runtime_status.name,
        "input": parse_payload(status.input),
        "customStatus": parse_payload(status.custom_status),
        "output": parse_payload(status.output),
        "createdTime": format_status_time(status.created_time),
        "lastUpdatedTime": format_status_time(status.last_updated_time),
    }
    if status.history is not None:
        body["historyEvents"] = history_events(
            status.history, show_output=show_history_output, show_input=show_input
        )
    return body


def entity_status_payload(entity: EntityStatus) -> EntityStatusPayload:
    """One item of `GET entities/` (the extension's DurableEntityStatus)."""
    return {
        "entityId": {"name": entity.name, "key": entity.key},
        "lastOperationTime": newtonsoft_datetime(entity.last_operation_time),
        "state": parse_payload(entity.state),
    }


def http_error(message: str, exc: BaseException | None = None) -> HttpErrorBody:
    """ASP.NET Web API `HttpError`: `Message`, plus the exception's details when there is one.

    `ExceptionType` uses the .NET type the extension would report (ArgumentException for bad
    arguments); `StackTrace` is null because a Python trace means nothing to an HTTP client.
    """
    body: HttpErrorBody = {"Message": message}
    if exc is not None:
        body["ExceptionMessage"] = str(exc)
        body["ExceptionType"] = _dotnet_exception_type(exc)
        body["StackTrace"] = None
    return body


def already_exists_error(message: str, exc: InstanceAlreadyExistsError) -> HttpErrorBody:
    """The HttpError of a start on an unfinished instance id, worded as DTFx's exception."""
    body = http_error(message, exc)
    body["ExceptionMessage"] = (
        f"An Orchestration instance with the status {exc.status} already exists."
    )
    body["ExceptionType"] = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"
    return body


def _dotnet_exception_type(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return "Newtonsoft.Json.JsonReaderException"
    if isinstance(exc, (LookupError, ValueError)):
        return "System.ArgumentException"
    return "System.InvalidOperationException"
