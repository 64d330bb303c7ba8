"""The task hubs a dashboard shows: the running host's own, or hubs opened by connection string.

A standalone hub gets a management client of its own (storage + message router, no
dispatchers): reads go to the tables and actions become control-queue messages that the
app's hosts, wherever they run, pick up as they would the Durable HTTP API's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from durable_host.engine.client.api import ManagementApi
from durable_host.engine.client.engine_client import EngineClient
from durable_host.errors import ConfigurationError
from durable_host.functions import FunctionIndex
from durable_host.taskhub.discovery import find_task_hubs, partition_count_of
from durable_host.taskhub.names import TaskHubNames, validate_hub_name
from durable_host.taskhub.storage import TaskHubStorage

__all__ = ["DashboardHub", "StandaloneHubs", "account_label"]


@dataclass
class DashboardHub:
    """One task hub as the dashboard sees it. `key` is its path segment in the dashboard."""

    key: str
    name: str
    account: str
    client: ManagementApi
    allow_actions: bool
    functions: FunctionIndex | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.account})"


def account_label(connection_string: str) -> str:
    """A name for the account that shows no secret: its AccountName (or 'storage')."""
    match = re.search(r"AccountName=([^;]+)", connection_string, re.IGNORECASE)
    return match.group(1) if match else "storage"


@dataclass
class StandaloneHubs:
    """Hubs opened from connection strings; `close()` releases their storage clients."""

    hubs: list[DashboardHub] = field(default_factory=list)
    _storages: list[TaskHubStorage] = field(default_factory=list)
    _clients: list[EngineClient] = field(default_factory=list)

    @classmethod
    async def open(
        cls, connections: Sequence[str], hub_names: Sequence[str], *, allow_actions: bool
    ) -> StandaloneHubs:
        """Every named hub in every account, or every hub found when none is named."""
        opened = cls()
        try:
            for connection in connections:
                found = await find_task_hubs(connection)
                for name in hub_names or found:
                    if validate_hub_name(name) not in found:
                        raise ConfigurationError(
                            f"Task hub {name} is not in storage account "
                            f"{account_label(connection)} (found: {', '.join(found) or 'none'})."
                        )
                    await opened._add(connection, name, allow_actions)
        except BaseException:
            await opened.close()
            raise
        if not opened.hubs:
            raise ConfigurationError(
                "No task hub was found in the storage account(s): a hub has the tables "
                "<hub>Instances and <hub>History. Name one with --hub."
            )
        return opened

    async def _add(self, connection: str, name: str, allow_actions: bool) -> None:
        names = TaskHubNames(name, await partition_count_of(connection, name))
        storage = TaskHubStorage(connection, names)
        self._storages.append(storage)
        # No app here: a restart starts the orchestration by the name its row carries.
        client = EngineClient.standalone(storage)
        self._clients.append(client)
        taken = {hub.key for hub in self.hubs}
        key = name if name not in taken else f"{name}-{len(self.hubs) + 1}"
        self.hubs.append(
            DashboardHub(
                key=key,
                name=name,
                account=account_label(connection),
                client=client,
                allow_actions=allow_actions,
            )
        )

    async def close(self) -> None:
        for client in self._clients:
            client.router.close()
        await asyncio.gather(*(storage.close() for storage in self._storages))
