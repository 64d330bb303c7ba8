"""Starting and stopping the host of a test environment: the app's settings exported for the
test and taken away again, the task hub chosen and deleted afterwards, the SDK client bound
(_clients.py: the generation installed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from durable_host.engine.time.clock import Clock, VirtualClock
from durable_host.server.host import DurableHost, HostOptions
from durable_host.server.settings import export_values, load_host_settings, load_local_settings
from durable_host.testing._clients import TestClient, bind_client, require_sdk
from durable_host.testing._storage import delete_task_hub, new_hub_name

__all__ = ["StartedHost", "start_host", "stop_host"]

log = logging.getLogger("durable_host.testing")

_HUB_OVERRIDE = "AzureFunctionsJobHost__extensions__durableTask__hubName"

StartedHost = tuple[DurableHost, TestClient, list[str]]


async def start_host(
    app_dir: Path,
    *,
    storage: str,
    hub_name: str | None,
    virtual_time: bool,
    start_time: datetime | None,
    delete_hub: bool,
    echo: Callable[[str], None],
) -> StartedHost:
    """The started host, its SDK client, and the setting names exported into os.environ."""
    require_sdk()
    hub = hub_name or new_hub_name()
    environ = dict(os.environ)
    environ[_HUB_OVERRIDE] = hub
    # The app's code reads its settings from os.environ, as under the Functions host;
    # what we add there is taken away again on close.
    local = load_local_settings(app_dir)
    exported = [k for k in local.values if k not in os.environ]
    export_values(local.values, os.environ)
    export_values(local.values, environ)
    connection_name = load_host_settings(app_dir, environ).durable_task.connection_name
    environ[f"AzureWebJobs{connection_name}"] = storage
    clock: Clock | None = VirtualClock(start_time) if virtual_time else None
    host = DurableHost(
        HostOptions(app_dir, host="127.0.0.1", port=0, in_memory_azurite=True),
        environ=environ,
        echo=echo,
        clock=clock,
    )
    try:
        await host.start()
        client = await bind_client(host)
    except BaseException:
        await host.stop()
        _unexport(exported)
        if delete_hub:
            await _drop_quietly(storage, hub)
        raise
    return host, client, exported


async def stop_host(
    host: DurableHost,
    client: TestClient,
    *,
    storage: str,
    exported: list[str],
    delete_hub: bool,
) -> None:
    settings = host.settings
    try:
        try:
            await client.close()
        finally:
            # Also closes the SDK's module-level aiohttp session, bound to this event loop.
            await host.stop()
    finally:
        _unexport(exported)
        if delete_hub and settings is not None:
            dt = settings.durable_task
            await delete_task_hub(storage, dt.hub_name, dt.partition_count)


def _unexport(names: list[str]) -> None:
    for name in names:
        os.environ.pop(name, None)


async def _drop_quietly(storage: str, hub: str) -> None:
    # Partition count is unknown when settings failed to load; 16 covers every valid count
    # (deleting a queue that does not exist is not an error).
    with contextlib.suppress(Exception):
        await asyncio.wait_for(delete_task_hub(storage, hub, 16), 30)
