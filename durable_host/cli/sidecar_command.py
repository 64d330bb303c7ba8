"""`durable-host sidecar`: the Durable Task gRPC backend for durabletask workers and clients,
on an Azure Storage task hub (server/sidecar.py)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from durable_host.errors import DurableHostError

if TYPE_CHECKING:
    from durable_host.server.sidecar import Sidecar

__all__ = ["add_sidecar_command", "run_sidecar"]


def add_sidecar_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sidecar",
        help="serve a task hub to durabletask workers and clients over gRPC",
        description="The Durable Task sidecar (TaskHubSidecarService) on an Azure Storage task "
        "hub: durabletask workers run the code, durable_host's engine keeps the hub.",
    )
    parser.add_argument("--port", type=int, default=4001, help="gRPC port (0: any free one)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; beyond loopback every call must carry --token",
    )
    parser.add_argument("--hub", default="TestHubName", help="the task hub's name")
    parser.add_argument(
        "--connection",
        default="UseDevelopmentStorage=true",
        metavar="CONN",
        help="a storage connection string, UseDevelopmentStorage=true (Azurite, started when "
        "none listens), or the name of an environment variable holding one",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="the bearer token every call must carry (needed off loopback; default: the "
        "environment variable DURABLE_HOST_SIDECAR_TOKEN)",
    )
    parser.add_argument(
        "--in-memory-azurite",
        action="store_true",
        help="keep an auto-started Azurite's data in memory instead of ./.azurite",
    )
    parser.add_argument("--verbose", action="store_true", help="show durable_host's debug logs")


def run_sidecar(args: argparse.Namespace) -> int:
    from durable_host.cli.replay_commands import connection_string
    from durable_host.cli.start_command import configure_logging
    from durable_host.server.sidecar import Sidecar, SidecarOptions

    configure_logging(args.verbose)
    try:
        connection = (
            args.connection
            if args.connection.strip().lower() == "usedevelopmentstorage=true"
            else connection_string(args.connection)
        )
        options = SidecarOptions(
            host=args.host,
            port=args.port,
            hub=args.hub,
            connection=connection,
            token=args.token,
            in_memory_azurite=args.in_memory_azurite,
            work_dir=Path.cwd(),
        )
        asyncio.run(_serve(Sidecar(options)))
    except (DurableHostError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(sidecar: Sidecar) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sidecar.start()
    try:
        await stop.wait()
    finally:
        await sidecar.stop()
