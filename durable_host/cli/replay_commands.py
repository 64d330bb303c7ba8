"""`durable-host replay` and `durable-host export`: recorded histories against the current code.

Both only read the task hub (History and Instances tables, large payload blobs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from durable_host.errors import ConfigurationError, DurableHostError, InstanceNotFoundError
from durable_host.taskhub.events import OrchestrationStatus

if TYPE_CHECKING:
    from durable_host.history_check import ReplayReport
    from durable_host.taskhub.names import TaskHubNames
    from durable_host.taskhub.storage import TaskHubStorage

COMMANDS = ("replay", "export")


def _hub_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connection",
        default=None,
        help="storage connection string, UseDevelopmentStorage=true, or the name of the "
        "setting/environment variable holding it (e.g. Storage for AzureWebJobsStorage); "
        "default: the app's, from host.json and local.settings.json, as `start` reads it",
    )
    parser.add_argument(
        "--hub", default=None, help="task hub name (default: the app's host.json hubName)"
    )
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=Path("."),
        help="the app folder (its code for replay; its settings name the hub and storage)",
    )


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="replay recorded histories against the current code (no side effects)",
        description="Read histories from a task hub and replay each through the real SDK "
        "against the app's current code: nothing is written, no activity runs, no message "
        "is sent. Exit status 1 when any instance is non-deterministic or fails to replay.",
    )
    _hub_arguments(replay)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--instance", action="append", dest="instances", metavar="ID")
    which.add_argument(
        "--status", help="comma-separated runtime statuses, e.g. Running,Pending,Suspended"
    )
    which.add_argument("--all", action="store_true", help="every orchestration instance")
    replay.add_argument("--format", dest="output", choices=("text", "json"), default="text")
    export = commands.add_parser(
        "export",
        help="print one instance's recorded history as JSON (for replay_history fixtures)",
    )
    _hub_arguments(export)
    export.add_argument("--instance", required=True, metavar="ID")


def connection_string(value: str) -> str:
    # Imported here, like the storage SDKs below: registering the parsers must stay cheap.
    from durable_host.server.azurite import development_storage_connection_string
    from durable_host.server.settings import DEVELOPMENT_STORAGE, resolve_connection_string

    if value.strip().lower() == DEVELOPMENT_STORAGE.lower():
        return development_storage_connection_string()
    if "=" in value:
        return value
    return resolve_connection_string(value, os.environ)


def parse_statuses(text: str) -> list[OrchestrationStatus]:
    by_name = {s.name.lower(): s for s in OrchestrationStatus}
    statuses = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part.lower() not in by_name:
            raise ConfigurationError(
                f"Unknown runtime status '{part}'; use some of "
                f"{', '.join(s.name for s in OrchestrationStatus)}, comma-separated."
            )
        statuses.append(by_name[part.lower()])
    return statuses


@asynccontextmanager
async def _storage(args: argparse.Namespace) -> AsyncIterator[TaskHubStorage]:
    """The task hub named by --connection/--hub, else by the app's settings as `start` and
    `durable` read them (an Azurite started for the command when none listens)."""
    from durable_host.server.app_hub import app_task_hub
    from durable_host.taskhub.storage import TaskHubStorage

    if args.connection is None:
        with app_task_hub(args.app_dir, hub_name=args.hub) as location:
            async with TaskHubStorage(location.connection_string, location.names) as storage:
                yield storage
        return
    names = _hub_names(args.app_dir, args.hub)
    async with TaskHubStorage(connection_string(args.connection), names) as storage:
        yield storage


def _hub_names(app_dir: Path, hub: str | None) -> TaskHubNames:
    from durable_host.server.settings import export_values, load_host_settings, load_local_settings
    from durable_host.taskhub.names import TaskHubNames

    if hub is not None:
        return TaskHubNames(hub)
    environ = dict(os.environ)
    export_values(load_local_settings(app_dir).values, environ)
    settings = load_host_settings(app_dir, environ).durable_task
    return TaskHubNames(settings.hub_name, settings.partition_count)


async def _replay(args: argparse.Namespace) -> list[ReplayReport]:
    from durable_host.history_check import HistoryReplayer
    from durable_host.history_check.recorded import read_recorded, select_instances
    from durable_host.server.settings import export_values, load_local_settings

    # As the host does before it imports the app: module-level code may read its settings.
    export_values(load_local_settings(args.app_dir).values, os.environ)
    async with _storage(args) as storage:
        if args.instances:
            ids = list(args.instances)
        else:
            ids = await select_instances(storage, None if args.all else parse_statuses(args.status))
        reports = []
        with HistoryReplayer(args.app_dir) as replayer:
            for instance_id in ids:
                try:
                    recorded = await read_recorded(storage, instance_id)
                except InstanceNotFoundError:
                    if args.instances:
                        raise
                    # A Pending instance has run no episode yet: nothing to replay.
                    print(f"{instance_id}: no history yet, skipped", file=sys.stderr)
                    continue
                reports.append(await replayer.replay(recorded))
        return reports


async def _export(args: argparse.Namespace) -> dict[str, object]:
    from durable_host.history_check.recorded import read_recorded

    async with _storage(args) as storage:
        return (await read_recorded(storage, args.instance)).to_document()


def run(args: argparse.Namespace) -> int:
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        if args.command == "export":
            print(json.dumps(asyncio.run(_export(args)), indent=1, ensure_ascii=False))
            return 0
        reports = asyncio.run(_replay(args))
    except (DurableHostError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        print(json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False))
    else:
        for report in reports:
            print(report.describe())
    from durable_host.history_check import Verdict

    counts = {v: sum(1 for r in reports if r.verdict is v) for v in Verdict}
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items())
    print(f"{len(reports)} instance(s) replayed: {summary}.", file=sys.stderr)
    return 0 if all(r.ok for r in reports) else 1
