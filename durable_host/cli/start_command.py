"""`durable-host start` (the `func start` of durable_host): the host in the foreground until
Ctrl+C, and the console log format the long-running commands share."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from durable_host.cli.dashboard_command import add_allowed_host_option
from durable_host.engine.log_context import InstanceLogFilter
from durable_host.errors import DurableHostError
from durable_host.functions.logs import ConsoleFormatter, InvocationLogFilter

if TYPE_CHECKING:
    from durable_host.server.host import HostOptions

__all__ = ["add_start_command", "configure_logging", "run_start"]


def add_start_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    add_allowed_host_option(start)
    start.add_argument("--verbose", action="store_true", help="show durable_host's debug logs")
    start.add_argument(
        "--trace-console",
        action="store_true",
        help="turn distributed tracing on and print each finished span (needs durable-host[otel])",
    )


def configure_logging(verbose: bool) -> None:
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


def run_start(args: argparse.Namespace) -> int:
    from durable_host.server.host import HostOptions

    configure_logging(args.verbose)
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
