"""`durable-host start` (the `func start` of durable_host), `poison`, `init`, `durable` and
`sidecar`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from durable_host import __version__, cli_dashboard, cli_lint, cli_replay
from durable_host.cli_durable import add_durable_command, run_durable
from durable_host.cli_init import add_init_command, run_init
from durable_host.cli_sidecar import add_sidecar_command, run_sidecar
from durable_host.engine.log_context import InstanceLogFilter
from durable_host.errors import DurableHostError
from durable_host.functions.logs import ConsoleFormatter, InvocationLogFilter

if TYPE_CHECKING:
    from durable_host.server.host import HostOptions
    from durable_host.server.poison import PoisonRecord

# The server (aiohttp, the storage SDKs) is imported by the commands that need it, so that
# `durable-host lint` starts in a fraction of a second.

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable-host",
        description="Run an Azure Durable Functions Python app locally on the real task hub "
        "layout (Azurite or a storage account).",
    )
    parser.add_argument("--version", action="version", version=f"durable-host {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the host (like `func start`)")
    start.add_argument(
        "--app-dir",
        type=Path,
        default=Path("."),
        help="the app folder: host.json plus function_app.py (v2) or function.json folders (v1)",
    )
    start.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port (default: Host.LocalHttpPort of local.settings.json, else 7071)",
    )
    start.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; a non-loopback address turns on function keys",
    )
    start.add_argument(
        "--in-memory-azurite",
        action="store_true",
        help="keep the auto-started Azurite's data in memory instead of <app-dir>/.azurite",
    )
    cli_dashboard.add_allowed_host_option(start)
    start.add_argument("--verbose", action="store_true", help="show durable_host's debug logs")
    start.add_argument(
        "--trace-console",
        action="store_true",
        help="turn distributed tracing on and print each finished span (needs durable-host[otel])",
    )
    _add_poison(commands)
    cli_lint.add_parser(commands)
    cli_replay.add_parsers(commands)
    cli_dashboard.add_dashboard_command(commands)
    add_init_command(commands)
    add_durable_command(commands)
    add_sidecar_command(commands)
    return parser


def _add_poison(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    poison = commands.add_parser(
        "poison",
        help="list, replay or delete the messages moved to the task hub's poison queue",
        description="Messages the host could not process are parked in <hub>-poison "
        "(see docs/reliability.md).",
    )
    actions = poison.add_subparsers(dest="action", required=True)
    for action, text in (
        ("list", "print every poisoned message as one JSON object per line"),
        ("replay", "send poisoned messages back to the queue they came from"),
        ("delete", "delete poisoned messages for good"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument(
            "--app-dir",
            type=Path,
            default=Path("."),
            help="folder with host.json and local.settings.json (they name the task hub and "
            "its storage)",
        )
        if action != "list":
            which = sub.add_mutually_exclusive_group(required=True)
            which.add_argument(
                "--id",
                action="append",
                dest="ids",
                metavar="MSGID",
                help="the poison record's id, as `poison list` prints it (repeatable)",
            )
            which.add_argument("--all", action="store_true", help="every poisoned message")


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(InvocationLogFilter())
    handler.addFilter(InstanceLogFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("durable_host").setLevel(logging.DEBUG if verbose else logging.INFO)
    # The Azure SDKs log every request at INFO; keep the console readable.
    logging.getLogger("azure").setLevel(logging.WARNING)


async def _run(options: HostOptions) -> None:
    from durable_host.server.host import DurableHost

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host = DurableHost(options, echo=lambda line: print(line, flush=True))
    await host.start()
    try:
        await stop.wait()
        print("Stopping the host (finishing in-flight work)...", flush=True)
    finally:
        await host.stop()


async def _poison(args: argparse.Namespace) -> list[PoisonRecord]:
    from durable_host.server.poison import PoisonQueue, app_task_hub

    with app_task_hub(args.app_dir) as hub:
        async with PoisonQueue(hub.connection_string, hub.names) as queue:
            if args.action == "list":
                return await queue.list_records()
            ids = None if args.all else args.ids
            if args.action == "replay":
                return await queue.replay(ids)
            return await queue.delete(ids)


def _run_poison(args: argparse.Namespace) -> int:
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        records = asyncio.run(_poison(args))
    except (DurableHostError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for record in records:
        print(json.dumps(record.summary(), ensure_ascii=False), flush=True)
    verb = {"list": "poisoned", "replay": "replayed", "delete": "deleted"}[args.action]
    print(f"{len(records)} message(s) {verb}.", file=sys.stderr)
    return 0


def _host_json_first(args: argparse.Namespace) -> None:
    """Check the syntax of ./host.json and the app's before anything imports the SDK: the SDK
    parses ./host.json on import (validate_extension_bundles) and a syntax error there would
    end the command with a traceback instead of our message."""
    from durable_host.server.host_json import HOST_JSON, read_json_object

    folders = {Path("."), *([args.app_dir] if getattr(args, "app_dir", None) else [])}
    for folder in folders:
        if (folder / HOST_JSON).is_file():
            read_json_object(folder / HOST_JSON)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _host_json_first(args)
    except DurableHostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if args.command == "lint" else 1
    if args.command == "poison":
        return _run_poison(args)
    if args.command == "init":
        return run_init(args)
    if args.command == "durable":
        return run_durable(args)
    if args.command == "lint":
        return cli_lint.run(args)
    if args.command in cli_replay.COMMANDS:
        return cli_replay.run(args)
    if args.command == "dashboard":
        return cli_dashboard.run_dashboard(args)
    if args.command == "sidecar":
        return run_sidecar(args, _configure_logging)
    from durable_host.server.host import HostOptions

    _configure_logging(args.verbose)
    options = HostOptions(
        app_dir=args.app_dir,
        host=args.host,
        port=args.port,
        in_memory_azurite=args.in_memory_azurite,
        trace_console=args.trace_console,
        allowed_hosts=tuple(args.allowed_hosts),
    )
    try:
        asyncio.run(_run(options))
    except (DurableHostError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
