"""`durable-host`: the program's parser and `main`; each command's options and handler live
in its own module beside this one."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from durable_host import __version__
from durable_host.cli import dashboard_command, lint_command, replay_commands
from durable_host.cli.durable_commands import add_durable_command, run_durable
from durable_host.cli.init_command import add_init_command, run_init
from durable_host.cli.poison_commands import add_poison_commands, run_poison
from durable_host.cli.sidecar_command import add_sidecar_command, run_sidecar
from durable_host.cli.start_command import add_start_command, run_start
from durable_host.errors import DurableHostError

# The server (aiohttp, the storage SDKs) is imported by the commands that need it, so that
# `durable-host lint` starts in a fraction of a second.

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable-host",
        description="Run an Azure Durable Functions Python app locally on the real task hub "
        "layout (Azurite or a storage account).",
    )
    parser.add_argument("--version", action="version", version=f"durable-host {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_start_command(commands)
    add_poison_commands(commands)
    lint_command.add_parser(commands)
    replay_commands.add_parsers(commands)
    dashboard_command.add_dashboard_command(commands)
    add_init_command(commands)
    add_durable_command(commands)
    add_sidecar_command(commands)
    return parser


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
    args = build_parser().parse_args(argv)
    try:
        _host_json_first(args)
    except DurableHostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if args.command == "lint" else 1
    if args.command == "poison":
        return run_poison(args)
    if args.command == "init":
        return run_init(args)
    if args.command == "durable":
        return run_durable(args)
    if args.command == "lint":
        return lint_command.run(args)
    if args.command in replay_commands.COMMANDS:
        return replay_commands.run(args)
    if args.command == "dashboard":
        return dashboard_command.run_dashboard(args)
    if args.command == "sidecar":
        return run_sidecar(args)
    return run_start(args)
