"""The host's storage: the connection its settings name, or for development storage the
emulator already listening on 10000-10002, else an Azurite of the host's own (on those ports
when free, on free ports when something else holds some of them)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from durable_host.server.app_hub import AZURITE_PORTS, is_development_storage
from durable_host.server.azurite import (
    AzuriteProcess,
    development_storage_connection_string,
    is_listening,
)
from durable_host.server.settings import HostSettings, resolve_connection_string

__all__ = ["host_storage"]

log = logging.getLogger("durable_host")


def host_storage(
    settings: HostSettings, environ: Mapping[str, str], app_dir: Path, *, in_memory: bool
) -> tuple[str, AzuriteProcess | None]:
    """The connection string, and the Azurite started for it (to stop with the host)."""
    connection = resolve_connection_string(settings.durable_task.connection_name, environ)
    if not is_development_storage(connection):
        return connection, None
    busy = [is_listening("127.0.0.1", port) for port in AZURITE_PORTS]
    if all(busy):
        log.info("Using the storage emulator already listening on 127.0.0.1:10000-10002")
        return development_storage_connection_string(), None
    location = None if in_memory else app_dir / ".azurite"
    if any(busy):
        log.warning(
            "Some of the ports 10000-10002 are in use by something other than a complete "
            "storage emulator; starting Azurite on free ports instead."
        )
        azurite = AzuriteProcess(app_dir, location=location).start()
    else:
        blob, queue, table = AZURITE_PORTS
        azurite = AzuriteProcess(
            app_dir,
            blob_port=blob,
            queue_port=queue,
            table_port=table,
            location=location,
        ).start()
    where = "in memory" if location is None else f"data in {location}"
    launcher = azurite.launcher
    log.info(
        "Started %s on ports %s (%s)",
        launcher.describe() if launcher else "Azurite",
        azurite.ports,
        where,
    )
    return azurite.connection_string, azurite
