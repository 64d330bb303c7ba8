"""An EngineClient on an app's task hub, with no host: what `func durable` commands talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from durable_host.engine.client.engine_client import EngineClient
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.time.clock import RealClock
from durable_host.server.app_hub import app_task_hub
from durable_host.taskhub.storage import TaskHubStorage

__all__ = ["HubClient", "open_hub_client"]


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
    with app_task_hub(
        app_dir, hub_name=hub_name, connection_setting=connection_setting
    ) as location:
        names = location.names
        async with TaskHubStorage(location.connection_string, names) as storage:
            if create:
                await storage.create_if_not_exists()
            clock = RealClock()
            client = EngineClient(
                storage=storage,
                router=MessageRouter(storage, names.partition_count, clock),
                clock=clock,
                hub_name=names.hub,
                # No app is loaded: the name is taken as given, as Core Tools does.
                resolve_orchestrator=lambda name: name,
            )
            yield HubClient(names.hub, storage, client)
