"""What each `durable` command does on the hub, and what it prints (as Core Tools prints it).

Each action returns an Outcome: the lines Core Tools would print, and one JSON document for
`--json`. Failures raise DurableHostError subclasses, which the runner turns into a message
on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from durable_host.cli.durable_commands.hub import HubClient
from durable_host.engine.client.api import InstanceQuery, InstanceStatus
from durable_host.errors import (
    ConfigurationError,
    InstanceNotFoundError,
    InvalidOperationError,
)
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import EventType, OrchestrationStatus

__all__ = ["ACTIONS", "Outcome"]

_Action = Callable[[HubClient, argparse.Namespace], Awaitable["Outcome"]]
_STATUS_BY_NAME = {s.name.lower(): s for s in OrchestrationStatus}
_STATUS_BY_NAME |= {str(s.value): s for s in OrchestrationStatus}


@dataclass(frozen=True)
class Outcome:
    lines: list[str]
    data: Any
    exit_code: int = 0


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _dotnet_time(value: datetime | None) -> str:
    """A UTC DateTime as Json.NET writes it (fraction without trailing zeros); the DTFx
    default(DateTime) for a time not reached yet (CompletedTime)."""
    if value is None:
        return "0001-01-01T00:00:00"
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{value.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _state(
    status: InstanceStatus, *, show_input: bool, show_output: bool, by_name: bool = False
) -> dict[str, Any]:
    """The instance as Core Tools prints it: DTFx's OrchestrationState through Json.NET, its
    [DataMember] fields then properties, in declaration order, the status as the enum's
    number. `by_name` (our --json documents): the status by name, times in ISO 8601.
    Version, Generation, Tags and ScheduledStartTime are what the Python SDK's instances hold
    (it sets none of them); sizes are 0, as the Azure Storage provider reports them."""
    timestamp = _time if by_name else _dotnet_time
    return {
        "CompletedTime": timestamp(status.completed_time),
        "CompressedSize": 0,
        "CreatedTime": timestamp(status.created_time),
        "Input": status.input if show_input else None,
        "LastUpdatedTime": timestamp(status.last_updated_time),
        "Name": status.name,
        "OrchestrationInstance": {
            "InstanceId": status.instance_id,
            "ExecutionId": status.execution_id,
        },
        "OrchestrationStatus": (
            status.runtime_status.name if by_name else status.runtime_status.value
        ),
        "Output": status.output if show_output else None,
        "ParentInstance": None,
        "Size": 0,
        "Status": status.custom_status,
        "Tags": None,
        "Version": "",
        "Generation": 0,
        "ScheduledStartTime": None,
        "FailureDetails": None,
    }


def _printed(
    status: InstanceStatus, *, show_input: bool, show_output: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what Core Tools prints, our --json document) for one instance."""
    return (
        _state(status, show_input=show_input, show_output=show_output),
        _state(status, show_input=show_input, show_output=show_output, by_name=True),
    )


def _indented(value: Any) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False).splitlines()


def json_argument(text: str | None, what: str) -> str | None:
    """`--input`/`--event-data` as JSON text: `@file` holds JSON; inline text is used as JSON
    when it parses, else as a JSON string (Core Tools always sends inline text as a string)."""
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            contents = path.read_text(encoding="utf-8-sig")
        except OSError:
            raise ConfigurationError(f"Could not find {what} file at '{path}'.") from None
        try:
            return json.dumps(json.loads(contents))
        except ValueError as exc:
            raise ConfigurationError(f"{what} file '{path}' is not valid JSON: {exc}.") from None
    try:
        return json.dumps(json.loads(text))
    except ValueError:
        return json.dumps(text)


async def _existing(hub: HubClient, instance_id: str) -> InstanceStatus:
    status = await hub.client.get_status(instance_id)
    if status is None:
        raise InstanceNotFoundError(
            f"Could not find an orchestration instance with id '{instance_id}' in task hub "
            f"'{hub.hub_name}'."
        )
    return status


async def start_new(hub: HubClient, args: argparse.Namespace) -> Outcome:
    value_json = json_argument(args.input, "input")
    # Stored as the Python SDK's client stores a start input (the value's JSON text, itself
    # as a JSON string), which is what the SDK's `context.get_input()` decodes.
    input_json = None if value_json is None else json.dumps(value_json)
    await hub.client.start_new(args.function_name, args.id, input_json)
    status = await _existing(hub, args.id)
    line = (
        f"Started '{status.name}' at {_time(status.created_time)}. "
        f"Instance ID: '{status.instance_id}'."
    )
    return Outcome([line], _state(status, show_input=True, show_output=False, by_name=True))


async def get_runtime_status(hub: HubClient, args: argparse.Namespace) -> Outcome:
    status = await _existing(hub, args.id)
    printed, document = _printed(status, show_input=args.show_input, show_output=args.show_output)
    return Outcome(_indented(printed), document)


async def get_history(hub: HubClient, args: argparse.Namespace) -> Outcome:
    await _existing(hub, args.id)
    loaded = await hub.storage.load_history(args.id)
    events = []
    for event in sorted(loaded.events, key=lambda e: e.timestamp):
        row = event_to_json(event, with_type=False)
        row["EventType"] = EventType(row["EventType"]).dotnet_name
        events.append(row)
    return Outcome(_indented(events), events)


def _query(args: argparse.Namespace) -> InstanceQuery:
    statuses: set[OrchestrationStatus] = set()
    for given in args.runtime_status or ():
        # Core Tools takes one argument of names separated by spaces, parsed by Enum.Parse
        # (a name in any case, or the number); several arguments are accepted too.
        for name in given.replace(",", " ").split():
            key = name.lower()
            if key not in _STATUS_BY_NAME:
                known = ", ".join(f"{s.name} ({s.value})" for s in OrchestrationStatus)
                raise ConfigurationError(f"Unknown runtime status {name!r}; use one of {known}.")
            statuses.add(_STATUS_BY_NAME[key])
    return InstanceQuery(
        runtime_status=frozenset(statuses),
        created_time_from=args.created_after,
        created_time_to=args.created_before,
    )


async def get_instances(hub: HubClient, args: argparse.Namespace) -> Outcome:
    if args.top < 1:
        raise ConfigurationError(f"--top must be at least 1, got {args.top}.")
    page = await hub.client.list_instances(
        _query(args), top=args.top, continuation_token=args.continuation_token or None
    )
    pairs = [_printed(s, show_input=True, show_output=True) for s in page.instances]
    token = page.continuation_token or ""
    lines = [
        *_indented([printed for printed, _ in pairs]),
        f"Continuation token for next set of results: '{token}'",
    ]
    documents = [document for _, document in pairs]
    return Outcome(lines, {"instances": documents, "continuationToken": page.continuation_token})


async def raise_event(hub: HubClient, args: argparse.Namespace) -> Outcome:
    data = json_argument(args.event_data, "event data")
    await hub.client.raise_event(args.id, args.event_name, data)
    line = f"Raised event '{args.event_name}' to instance '{args.id}'."
    return Outcome([line], {"instanceId": args.id, "eventName": args.event_name})


async def terminate(hub: HubClient, args: argparse.Namespace) -> Outcome:
    await hub.client.terminate(args.id, args.reason)
    data = {"instanceId": args.id, "runtimeStatus": None}
    if args.timeout <= 0:
        return Outcome([f"Sent a termination message to instance '{args.id}'."], data)
    lines = [
        f"Sent a termination message to instance '{args.id}'. Waiting up to "
        f"{args.timeout:g} seconds for the orchestration to actually terminate..."
    ]
    status = await hub.client.wait_for_completion(args.id, timeout=args.timeout, poll_interval=0.5)
    if status is None or status.runtime_status != OrchestrationStatus.Terminated:
        raise InvalidOperationError(
            f"Instance '{args.id}' did not terminate within {args.timeout:g} seconds: the message "
            "waits in the task hub's control queue until a host (`durable-host start`) runs it."
        )
    data["runtimeStatus"] = status.runtime_status.name
    return Outcome([*lines, f"Successfully terminated '{args.id}'"], data)


async def suspend(hub: HubClient, args: argparse.Namespace) -> Outcome:
    await hub.client.suspend(args.id, args.reason)
    line = f"Sent a suspend message to instance '{args.id}'."
    return Outcome([line], {"instanceId": args.id})


async def resume(hub: HubClient, args: argparse.Namespace) -> Outcome:
    await hub.client.resume(args.id, args.reason)
    line = f"Sent a resume message to instance '{args.id}'."
    return Outcome([line], {"instanceId": args.id})


async def rewind(hub: HubClient, args: argparse.Namespace) -> Outcome:
    before = await _existing(hub, args.id)
    await hub.client.rewind(args.id, args.reason)
    after = await _existing(hub, args.id)
    lines = [
        f"Rewind message sent to instance '{args.id}'.",
        f"Status before rewind: {before.runtime_status.name}",
        f"Status after rewind: {after.runtime_status.name}",
    ]
    data = {
        "instanceId": args.id,
        "statusBefore": before.runtime_status.name,
        "statusAfter": after.runtime_status.name,
    }
    return Outcome(lines, data)


async def purge_history(hub: HubClient, args: argparse.Namespace) -> Outcome:
    query = _query(args)
    deleted = await hub.client.purge_by(query)
    after = _time(args.created_after) or "the beginning"
    before = _time(args.created_before) or "now"
    message = f"Purged orchestration history for all instances created between '{after}' and "
    message += f"'{before}'"
    if query.runtime_status:
        names = ",".join(sorted(s.name for s in query.runtime_status))
        message += f" and whose runtime status matched one of the following: [{names}]"
    return Outcome([message, f"Instances deleted: {deleted}"], {"instancesDeleted": deleted})


async def delete_task_hub(hub: HubClient, args: argparse.Namespace) -> Outcome:
    await hub.storage.delete_task_hub()
    line = f"Task hub '{hub.hub_name}' successfully deleted."
    return Outcome([line], {"taskHub": hub.hub_name, "deleted": True})


ACTIONS: dict[str, _Action] = {
    "start-new": start_new,
    "get-runtime-status": get_runtime_status,
    "get-history": get_history,
    "get-instances": get_instances,
    "raise-event": raise_event,
    "terminate": terminate,
    "suspend": suspend,
    "resume": resume,
    "rewind": rewind,
    "purge-history": purge_history,
    "delete-task-hub": delete_task_hub,
}
