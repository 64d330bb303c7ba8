"""The task hub an app's host would use, for commands that work on it without a host.

`durable-host poison`, `replay` and `export` read the app's host.json (hub name, partition
count, connection name) and local.settings.json (the connection string), as the host does.
`durable-host durable` finds its connection string as Core Tools does (cli/durable_commands/hub.py)
and reaches the hub through `reachable_hub`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from durable_host.errors import ConfigurationError
from durable_host.server.azurite import (
    AzuriteProcess,
    development_storage_connection_string,
    is_listening,
)
from durable_host.server.settings import (
    DEVELOPMENT_STORAGE,
    export_values,
    load_host_settings,
    load_local_settings,
    resolve_connection_string,
)
from durable_host.taskhub.names import TaskHubNames

__all__ = ["HubLocation", "app_task_hub", "is_development_storage", "reachable_hub"]

AZURITE_PORTS = (10000, 10001, 10002)


@dataclass(frozen=True)
class HubLocation:
    connection_string: str
    names: TaskHubNames

    def __repr__(self) -> str:
        return f"HubLocation(hub={self.names.hub!r})"


def is_development_storage(connection: str) -> bool:
    parts = [p.strip().lower() for p in connection.split(";") if p.strip()]
    return DEVELOPMENT_STORAGE.lower() in parts


@contextmanager
def app_task_hub(
    app_dir: Path,
    environ: Mapping[str, str] | None = None,
    *,
    hub_name: str | None = None,
) -> Iterator[HubLocation]:
    """The task hub an app's host would use: its settings, its storage connection.

    `hub_name` replaces host.json's hub.
    For `UseDevelopmentStorage=true` with no emulator listening, Azurite is started on its
    usual ports over `<app_dir>/.azurite` (where `durable-host start` keeps its data) for the
    duration, so the task hub of the last run can be read.
    """
    env = dict(os.environ if environ is None else environ)
    app_dir = Path(app_dir).resolve()
    export_values(load_local_settings(app_dir).values, env)
    settings = load_host_settings(app_dir, env).durable_task
    names = TaskHubNames(hub_name or settings.hub_name, settings.partition_count)
    connection = resolve_connection_string(settings.connection_name, env)
    with reachable_hub(app_dir, connection, names) as location:
        yield location


@contextmanager
def reachable_hub(app_dir: Path, connection: str, names: TaskHubNames) -> Iterator[HubLocation]:
    """The hub on `connection`; for `UseDevelopmentStorage=true` with no emulator listening,
    an Azurite over `<app_dir>/.azurite` for the duration (see `app_task_hub`)."""
    if not is_development_storage(connection):
        yield HubLocation(connection, names)
        return
    listening = [is_listening("127.0.0.1", port) for port in AZURITE_PORTS]
    if all(listening):
        yield HubLocation(development_storage_connection_string(), names)
        return
    if any(listening):
        raise ConfigurationError(
            "Some of the ports 10000-10002 are in use by something other than a complete storage "
            "emulator; stop it, or start the host (`durable-host start`) and run this "
            "command while it runs."
        )
    blob, queue, table = AZURITE_PORTS
    with AzuriteProcess(
        app_dir,
        blob_port=blob,
        queue_port=queue,
        table_port=table,
        location=app_dir / ".azurite",
    ) as azurite:
        yield HubLocation(azurite.connection_string, names)
