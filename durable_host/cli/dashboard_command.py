"""`durable-host dashboard`: the dashboard alone, on task hubs of any storage account, no app.

Read-only unless `--allow-actions`. Off loopback the pages need a host key, as the
Durable HTTP API's: FUNCTIONS_KEY from the environment, else a new one printed at start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable

from durable_host.cli.replay_commands import connection_string
from durable_host.errors import DurableHostError

__all__ = ["add_allowed_host_option", "add_dashboard_command", "run_dashboard"]

DEFAULT_PORT = 7072
READY_LINE = "Dashboard ready on"


def add_allowed_host_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        dest="allowed_hosts",
        metavar="NAME",
        help="on a loopback address, also answer requests for this host name (repeatable; "
        "for port forwarding such as a codespace's). Other names than localhost, 127.0.0.1 "
        "and [::1] get 403: a page whose name resolves to this machine must not drive it",
    )


def add_dashboard_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dashboard",
        help="browse and manage task hubs in a web page, without running an app",
        description="Serve the dashboard for task hubs in one or more storage accounts.",
    )
    parser.add_argument(
        "--connection",
        action="append",
        required=True,
        metavar="CONN",
        help="a storage connection string, UseDevelopmentStorage=true, or the name of an "
        "environment variable holding one (repeatable: several accounts)",
    )
    parser.add_argument(
        "--hub",
        action="append",
        default=[],
        metavar="HUB",
        help="a task hub to show (repeatable; default: every hub found in each account)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port (0: any free)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; a non-loopback address requires the host key",
    )
    add_allowed_host_option(parser)
    parser.add_argument(
        "--allow-actions",
        action="store_true",
        help="allow raising events, terminating, purging... (read-only without it)",
    )


async def serve(args: argparse.Namespace, echo: Callable[[str], None]) -> None:
    # Imported here: registering the parser must stay cheap for the other commands.
    from aiohttp import web

    from durable_host.dashboard import DASHBOARD_PATH, StandaloneHubs, standalone_app
    from durable_host.http.allowed_hosts import AllowedHosts
    from durable_host.http.function_keys import (
        FUNCTIONS_KEY_SETTING,
        AccessKeys,
        generate_key,
        is_loopback,
    )

    environ = os.environ
    connections = [connection_string(c) for c in args.connection]
    keys = (
        AccessKeys()
        if is_loopback(args.host)
        else AccessKeys(environ.get(FUNCTIONS_KEY_SETTING) or generate_key())
    )
    hubs = await StandaloneHubs.open(connections, args.hub, allow_actions=args.allow_actions)
    allowed = AllowedHosts.for_listener(is_loopback(args.host), args.allowed_hosts)
    runner = web.AppRunner(
        standalone_app(hubs.hubs, keys, allowed),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=5.0,
    )
    try:
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        shown = "localhost" if is_loopback(args.host) else args.host
        mode = "actions allowed" if args.allow_actions else "read-only"
        for hub in hubs.hubs:
            echo(f"Task hub: {hub.label}")
        if keys.key is not None:
            echo(f"Host key (open the dashboard with ?code=<key>): {keys.key}")
        echo(f"{READY_LINE} http://{shown}:{port}{DASHBOARD_PATH}/ ({mode}). Ctrl+C stops it.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        await hubs.close()


def run_dashboard(args: argparse.Namespace) -> int:
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(args, lambda line: print(line, flush=True)))
    except (DurableHostError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
