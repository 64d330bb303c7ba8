"""`durable-host poison list|replay|delete`: the messages parked in the task hub's poison
queue (docs/reliability.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from durable_host.errors import DurableHostError

if TYPE_CHECKING:
    from durable_host.server.poison import PoisonRecord

__all__ = ["add_poison_commands", "run_poison"]


def add_poison_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def run_poison(args: argparse.Namespace) -> int:
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
