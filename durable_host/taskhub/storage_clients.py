"""The service clients of one task hub connection, and which transport the hot path takes.

One shared service client per service (one connection pool each), with short
retries; the thin REST client (`rest_client.py`) for the hot path whenever the
connection has an account key or SAS, unless turned off. The choice is made here once:
the stores get a transport (`transports.py`) and never ask which.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from durable_host.taskhub.connections import PooledTransport
from durable_host.taskhub.rest_blobs import RestBlobs
from durable_host.taskhub.rest_client import RestClient, StorageAccount
from durable_host.taskhub.rest_queues import RestQueues
from durable_host.taskhub.rest_tables import RestTables
from durable_host.taskhub.sdk_transports import SdkBlobs, SdkQueues, SdkTables
from durable_host.taskhub.transports import (
    BlobTransport,
    HubTable,
    QueueTransport,
    TableTransport,
)

__all__ = ["CLIENT_ENV", "StorageClients"]

# "sdk" sends every request through the Azure SDKs (for A/B measurements and diagnosis).
CLIENT_ENV = "DURABLE_HOST_STORAGE_CLIENT"


def _is_loopback(connection_string: str) -> bool:
    """Development storage, or every explicit endpoint on this machine."""
    if "usedevelopmentstorage=true" in connection_string.lower().replace(" ", ""):
        return True
    pairs = [part.split("=", 1) for part in connection_string.split(";") if "=" in part]
    endpoints = [value for key, value in pairs if key.strip().lower().endswith("endpoint")]
    loopback = ("://127.", "://localhost", "://[::1]")
    return bool(endpoints) and all(
        e.lower().startswith(("http", "https")) and any(marker in e.lower() for marker in loopback)
        for e in endpoints
    )


def _thin_client(
    connection_string: str, wanted: bool | None, retry_total: int, *, trust_env: bool
) -> RestClient | None:
    """The hot path's REST client, unless turned off or the connection has no key or SAS."""
    if wanted is None:
        wanted = os.environ.get(CLIENT_ENV, "").lower() != "sdk"
    account = StorageAccount.parse(connection_string)
    if not wanted or account is None:
        return None
    return RestClient(account, retry_total=retry_total, trust_env=trust_env)


@dataclass(frozen=True)
class StorageClients:
    """The SDK service clients and the optional thin client; each its own connection pool."""

    queues: QueueServiceClient
    blobs: BlobServiceClient
    tables: TableServiceClient
    # Lease renewals get their own connection pool: behind a burst of the workload's own
    # requests they would wait long enough for the leases to lapse.
    leases: TableServiceClient
    rest: RestClient | None

    @classmethod
    def connect(
        cls, connection_string: str, *, retry_total: int, thin_client: bool | None
    ) -> StorageClients:
        """`thin_client`: None decides by the connection and DURABLE_HOST_STORAGE_CLIENT."""
        # The SDK default backs off 15 s, 18 s, 24 s, 42 s: far too slow for a local host whose
        # own loops retry anyway. Short backoffs keep a transient blip cheap and an outage
        # visible within seconds.
        # Proxy settings from the environment cost aiohttp a thread hop on every request
        # (about a third of the client's CPU per call); they never apply to a loopback emulator.
        trust_env = not _is_loopback(connection_string)
        storage_retry: dict[str, Any] = {
            "retry_total": retry_total,
            "initial_backoff": 0.5,
            "increment_base": 1.5,
            "random_jitter_range": 1,
        }
        table_retry: dict[str, Any] = {"retry_total": retry_total, "retry_backoff_factor": 0.5}

        def table_service() -> TableServiceClient:
            return TableServiceClient.from_connection_string(
                connection_string,
                transport=PooledTransport(use_env_settings=trust_env),
                **table_retry,
            )

        # Each client its own pool, whose idle connections close before the server's do.
        return cls(
            queues=QueueServiceClient.from_connection_string(
                connection_string,
                transport=PooledTransport(use_env_settings=trust_env),
                **storage_retry,
            ),
            blobs=BlobServiceClient.from_connection_string(
                connection_string,
                transport=PooledTransport(use_env_settings=trust_env),
                **storage_retry,
            ),
            tables=table_service(),
            leases=table_service(),
            rest=_thin_client(connection_string, thin_client, retry_total, trust_env=trust_env),
        )

    def queue_transport(self) -> QueueTransport:
        return RestQueues(self.rest) if self.rest is not None else SdkQueues(self.queues)

    def blob_transport(self, container: str) -> BlobTransport:
        if self.rest is not None:
            return RestBlobs(self.rest, container)
        return SdkBlobs(self.blobs.get_container_client(container))

    @cached_property
    def _table_rows(self) -> TableTransport:
        # One for every table of the hub, so the SDK's table clients are cached once.
        return RestTables(self.rest) if self.rest is not None else SdkTables(self.tables)

    def hub_table(self, name: str) -> HubTable:
        return HubTable(self.tables.get_table_client(name), self._table_rows)

    async def close(self) -> None:
        await asyncio.gather(
            self.queues.close(),
            self.tables.close(),
            self.blobs.close(),
            self.leases.close(),
            *([self.rest.close()] if self.rest is not None else []),
        )
