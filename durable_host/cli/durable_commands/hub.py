"""An EngineClient on an app's task hub, with no host: what `func durable` commands talk to."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from durable_host.engine.client.engine_client import EngineClient
from durable_host.errors import ConfigurationError
from durable_host.server.app_hub import HubLocation, reachable_hub
from durable_host.server.host_json import HOST_JSON, ConfigSection, read_json_object
from durable_host.server.settings import (
    LOCAL_SETTINGS,
    export_values,
    load_host_settings,
    load_local_settings,
    resolve_connection_string,
)
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage

__all__ = ["HubClient", "hub_location", "open_hub_client"]

# The 1.x host.json key Core Tools' DurableManager still reads (the extension 2.x does not).
CONNECTION_KEY = "AzureStorageConnectionStringName"


@dataclass(frozen=True)
class HubClient:
    hub_name: str
    storage: TaskHubStorage
    client: EngineClient


@asynccontextmanager
async def open_hub_client(
    app_dir: Path,
    *,
    hub_name: str | None,
    connection_setting: str | None,
    create: bool,
) -> AsyncIterator[HubClient]:
    """`create`: make the hub's queues and tables first, as the Durable Task client does
    before it sends or reads, so a command on a hub no host has run yet works."""
    located = hub_location(app_dir, os.environ, hub_name, connection_setting)
    with reachable_hub(app_dir.resolve(), located.connection_string, located.names) as location:
        names = location.names
        async with TaskHubStorage(location.connection_string, names) as storage:
            if create:
                await storage.create_if_not_exists()
            # No app is loaded: the name is taken as given, as Core Tools does.
            client = EngineClient.standalone(storage)
            try:
                yield HubClient(names.hub, storage, client)
            finally:
                client.router.close()


def hub_location(
    app_dir: Path, environ: Mapping[str, str], hub_name: str | None, setting: str | None
) -> HubLocation:
    """The hub and connection string a `func durable` command uses, as DurableManager finds
    them: the setting named by --connection-string-setting, else by host.json's
    durableTask.AzureStorageConnectionStringName, is read from the environment, then from
    local.settings.json's Values (names compared case-insensitively). Without either, the
    connection the host uses (storageProvider.connectionName, default AzureWebJobsStorage).
    No local.settings.json and nothing in the environment is an error, as in Core Tools
    (`start` would use Azurite)."""
    local = load_local_settings(app_dir)
    values = local.values if local.source is not None else {}
    env = dict(environ)
    export_values(values, env)
    settings = load_host_settings(app_dir, env).durable_task
    names = TaskHubNames(hub_name or settings.hub_name, settings.partition_count)
    key = setting or _host_json_connection_key(app_dir)
    if key is None:
        return HubLocation(resolve_connection_string(settings.connection_name, env), names)
    found = environ.get(key) or next(
        (value for name, value in values.items() if name.lower() == key.lower() and value), None
    )
    if not found:
        raise ConfigurationError(_not_found(key, env))
    return HubLocation(found, names)


def _host_json_connection_key(app_dir: Path) -> str | None:
    durable = ConfigSection(read_json_object(app_dir / HOST_JSON), "")
    durable = durable.section("extensions").section("durableTask")
    return durable.string(CONNECTION_KEY, "") or None


def _not_found(key: str, env: Mapping[str, str]) -> str:
    text = (
        f"No storage connection string found: no setting {key!r} in the environment or in "
        f"the Values of {LOCAL_SETTINGS}."
    )
    webjobs = f"AzureWebJobs{key}"
    if env.get(webjobs):
        # Core Tools takes the name as given; the host would resolve it to AzureWebJobs<name>.
        text += f" {webjobs} is set: pass --connection-string-setting {webjobs}."
    return text
