"""The `durable` subcommands' options, named as `func durable` names them, and the runner."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from durable_host.errors import ConfigurationError, DurableHostError

if TYPE_CHECKING:
    from durable_host.cli.durable_commands.actions import Outcome

__all__ = ["add_durable_command", "run_durable"]

_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_HELP = {
    "start-new": "Start a new instance of the specified orchestrator function",
    "get-runtime-status": "Retrieve the status of the specified orchestration instance",
    "get-history": "Retrieve the history of the specified orchestration instance",
    "get-instances": "Retrieve the status of all orchestration instances (paged by --top)",
    "raise-event": "Raise an event to the specified orchestration instance",
    "terminate": "Terminate the specified orchestration instance",
    "suspend": "Suspend the specified orchestration instance",
    "resume": "Resume the specified (suspended) orchestration instance",
    "rewind": "Rewind the specified (failed) orchestration instance",
    "purge-history": "Purge the state and history of the instances matching the filters",
    "delete-task-hub": "Delete all storage artifacts of the task hub",
}
_WITH_ID = {"get-runtime-status", "get-history", "raise-event", "terminate", "suspend"}
_WITH_ID |= {"resume", "rewind"}
_WITH_REASON = {"terminate", "suspend", "resume", "rewind"}
_WITH_FILTERS = {"get-instances", "purge-history"}


def add_durable_command(commands: _Commands) -> None:
    durable = commands.add_parser(
        "durable",
        help="manage the app's task hub like `func durable` (start-new, get-instances, ...)",
        description="The Core Tools `func durable` commands, on the task hub named in the app's "
        "host.json (or --task-hub-name) with the connection string of AzureWebJobsStorage (or "
        "--connection-string-setting), from the environment or local.settings.json. They work "
        "whether or not a host is running.",
    )
    actions = durable.add_subparsers(dest="action", required=True, metavar="<command>")
    for name, text in _HELP.items():
        sub = actions.add_parser(name, help=text, description=text + ".")
        _common_options(sub)
        if name in _WITH_ID:
            sub.add_argument("--id", required=True, help="the id of an orchestration instance")
        if name in _WITH_REASON:
            sub.add_argument("--reason", default=None, help="why (kept in the history)")
        if name in _WITH_FILTERS:
            _filter_options(sub, listing=name == "get-instances")
    _specific_options(actions)


def _common_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--app-dir",
        type=Path,
        default=Path("."),
        help="the app folder, with host.json and local.settings.json (default: .)",
    )
    sub.add_argument(
        "--script-root",
        "--prefix",
        dest="script_root",
        default=None,
        help="as Core Tools' global option: the app folder, and the folder @file paths of "
        "--input and --event-data are relative to",
    )
    sub.add_argument(
        "--task-hub-name", default=None, help="the task hub (default: host.json's hubName)"
    )
    sub.add_argument(
        "--connection-string-setting",
        default=None,
        help="the app setting or environment variable holding the storage connection string "
        "(default: the host.json connection, AzureWebJobsStorage)",
    )
    sub.add_argument("--json", action="store_true", help="print one JSON document, for scripts")


def _filter_options(sub: argparse.ArgumentParser, *, listing: bool) -> None:
    sub.add_argument(
        "--created-after", type=_datetime, default=None, help="ISO 8601 date/time (UTC)"
    )
    sub.add_argument(
        "--created-before", type=_datetime, default=None, help="ISO 8601 date/time (UTC)"
    )
    sub.add_argument(
        "--runtime-status",
        nargs="+",
        default=None,
        help="only instances in these statuses: names (running, completed, failed, ...) or "
        "the enum's numbers (0-7), separated by spaces as one argument or as several",
    )
    if listing:
        sub.add_argument("--top", type=int, default=10, help="instances per page (default 10)")
        sub.add_argument(
            "--continuation-token", default=None, help="the page to read, as printed last time"
        )


def _specific_options(actions: _Commands) -> None:
    by_name = actions.choices
    start = by_name["start-new"]
    start.add_argument("--function-name", required=True, help="the orchestrator to start")
    start.add_argument("--id", default=None, help="the instance id (default: a new GUID)")
    start.add_argument("--input", default=None, help="JSON input, or @path/to/file.json")
    status = by_name["get-runtime-status"]
    for flag, text in (("--show-input", "the input"), ("--show-output", "the output")):
        status.add_argument(
            flag, nargs="?", const=True, default=False, type=_boolean, help=f"include {text}"
        )
    event = by_name["raise-event"]
    event.add_argument(
        "--event-name", default=None, help="the event's name (default: Event_<GUID>)"
    )
    event.add_argument("--event-data", default=None, help="JSON data, or @path/to/file.json")
    by_name["terminate"].add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the instance to be Terminated (0: do not wait)",
    )


# What Core Tools' option parser (FluentCommandLineParser) takes for a boolean.
_BOOLEANS = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False}


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in _BOOLEANS:
        raise argparse.ArgumentTypeError(f"expected true/false, on/off or 1/0, got {text!r}")
    return _BOOLEANS[lowered]


def _script_root(args: argparse.Namespace) -> None:
    """--script-root/--prefix: Core Tools changes the working directory to it (relative to
    the current one), so it names the app and the base of `@file` arguments."""
    if args.script_root is None:
        return
    root = Path(args.script_root).resolve()
    if not root.is_dir():
        raise ConfigurationError(f'"{root}" doesn\'t exist.')
    args.app_dir = root
    for name in ("input", "event_data"):
        value = getattr(args, name, None)
        if value is not None and value.startswith("@") and not Path(value[1:]).is_absolute():
            setattr(args, name, f"@{root / value[1:]}")


def _datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date/time like 2026-01-31T12:00:00Z, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


async def _run(args: argparse.Namespace) -> Outcome:
    # The storage SDKs load only when a durable command runs (`durable-host lint` stays fast).
    from durable_host.cli.durable_commands.actions import ACTIONS
    from durable_host.cli.durable_commands.hub import open_hub_client

    _script_root(args)
    if args.action == "start-new" and args.id is None:
        args.id = uuid.uuid4().hex
    if args.action == "raise-event" and args.event_name is None:
        args.event_name = f"Event_{uuid.uuid4().hex}"
    async with open_hub_client(
        args.app_dir,
        hub_name=args.task_hub_name,
        connection_setting=args.connection_string_setting,
        create=args.action != "delete-task-hub",
    ) as hub:
        return await ACTIONS[args.action](hub, args)


def run_durable(args: argparse.Namespace) -> int:
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        outcome = asyncio.run(_run(args))
    except (DurableHostError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(outcome.data, indent=2, ensure_ascii=False))
    else:
        for line in outcome.lines:
            print(line)
    return outcome.exit_code
