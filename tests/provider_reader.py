"""How the real DurableTask.AzureStorage provider and the extension read a task hub: a small
reader that follows their rules, not durable_host's, to check what durable_host writes.

Sources (read, not copied): Azure/durabletask 5217032 (`src/DurableTask.AzureStorage`,
`src/DurableTask.Core/Entities`) and Azure/azure-functions-durable-extension `dev`
(`src/WebJobs.Extensions.DurableTask`). Each rule names its file and lines.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from azure.data.tables.aio import TableClient
from azure.storage.blob.aio import BlobServiceClient

from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.lease_table import PartitionLease

# OrchestrationStatus names; Enum.TryParse is case-sensitive (ConvertFromAsync, 452-456).
STATUS_NAMES = (
    "Running",
    "Completed",
    "ContinuedAsNew",
    "Failed",
    "Canceled",
    "Terminated",
    "Pending",
    "Suspended",
)


def is_absolute_uri(text: str | None) -> bool:
    """`Uri.IsWellFormedUriString(text, UriKind.Absolute)` as MessageManager.cs 144-153 uses it
    (the cases a task hub holds: a scheme, a host, no spaces)."""
    if not text or any(c.isspace() for c in text) or text != text.strip():
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def download_blob_url(connection: str, url: str) -> str:
    """`MessageManager.DownloadAndDecompressAsBytesAsync(Uri)`: the blob the URL names, gunzipped
    (the container and name are the URL's path after the account)."""
    path = unquote(urlsplit(url).path).lstrip("/")
    segments = path.split("/")
    # Azurite's path starts with the account name (`/devstoreaccount1/<container>/...`).
    if segments[0] == "devstoreaccount1":
        segments = segments[1:]
    container, name = segments[0], "/".join(segments[1:])
    async with BlobServiceClient.from_connection_string(connection) as service:
        blob = service.get_blob_client(container, name)
        data = await (await blob.download_blob(decompress=False)).readall()
    return gzip.decompress(data).decode("utf-8")


@dataclass
class ProviderState:
    """The `OrchestrationState` ConvertFromAsync builds (AzureTableTrackingStore.cs 450-512)."""

    status: str | int
    name: str | None
    input: str | None
    output: str | None
    custom_status: str | None
    tags: dict[str, str] | None
    completed_time: Any
    row: dict[str, Any]


async def read_instance(connection: str, instances_table: str, instance_id: str) -> ProviderState:
    async with TableClient.from_connection_string(connection, instances_table) as table:
        row = dict(await table.get_entity(escape_partition_key(instance_id), ""))
    return await convert_from(connection, row)


async def convert_from(connection: str, row: dict[str, Any]) -> ProviderState:
    status = row.get("RuntimeStatus")
    input_text = row.get("Input")
    output = row.get("Output")
    tags_text = row.get("Tags")
    # Only Input and Output are followed to a blob, and only as an absolute URL in the column
    # itself; `<Prop>BlobName` columns are never looked at here (476-509).
    if is_absolute_uri(input_text):
        blob = await download_blob_url(connection, str(input_text))
        if urlsplit(str(input_text)).path.endswith("ExecutionStarted.json.gz"):
            message = json.loads(blob)
            input_text = message["TaskMessage"]["Event"].get("Input")
        else:
            input_text = blob
    if is_absolute_uri(output):
        output = await download_blob_url(connection, str(output))
    return ProviderState(
        status=status if status in STATUS_NAMES else -1,
        name=row.get("Name"),
        input=input_text,
        output=output,
        # The column as it is: "null" stays the text "null" (473; the checkpoint's "null",
        # 938-941, is for the extension to turn into JSON null).
        custom_status=row.get("CustomStatus"),
        # TagsSerializer.Deserialize of a non-empty column (475-477).
        tags=json.loads(tags_text) if tags_text else None,
        completed_time=row.get("CompletedTime"),
        row=row,
    )


# -- entities ---------------------------------------------------------------------------------


def test_entity_exists(custom_status: str) -> bool:
    """DurableTask.Core `EntityStatus.TestEntityExists` (Entities/StateFormat/EntityStatus.cs
    35-38): a substring test, used by entity queries that do not fetch the state."""
    return "entityExists" in custom_status


test_entity_exists.__test__ = False  # type: ignore[attr-defined]


@dataclass
class ReadSchedulerState:
    exists: bool
    state: str | None
    queue: list[dict[str, Any]]
    locked_by: str | None
    suspended: bool


def extension_scheduler_state(text: str) -> ReadSchedulerState:
    """The extension's `SchedulerState` (EntityScheduler/SchedulerState.cs 12-48, Newtonsoft,
    every member omitted at its default): `exists` says whether the entity exists."""
    body = json.loads(text)
    return ReadSchedulerState(
        exists=bool(body.get("exists", False)),
        state=body.get("state"),
        queue=list(body.get("queue") or []),
        locked_by=body.get("lockedBy"),
        suspended=bool(body.get("suspended", False)),
    )


def core_scheduler_state(text: str) -> ReadSchedulerState:
    """DurableTask.Core's `SchedulerState` (Entities/StateFormat/SchedulerState.cs 24-58): no
    `exists` member; `EntityExists => EntityState != null` (28)."""
    body = json.loads(text)
    state = body.get("state")
    return ReadSchedulerState(
        exists=state is not None,
        state=state,
        queue=list(body.get("queue") or []),
        locked_by=body.get("lockedBy"),
        suspended=bool(body.get("suspended", False)),
    )


# -- partition leases -----------------------------------------------------------------------------


def provider_may_claim(lease: PartitionLease, worker: str, now: datetime) -> bool:
    """`TryClaimLease` (Partitioning/TablePartitionManager.cs 464-479): a row nobody owns or
    is handed to, an expired row, or a row handed to `worker`."""
    empty = lease.current_owner is None and lease.next_owner is None
    expired = lease.expires_at is None or now >= lease.expires_at
    handed_to_me = lease.current_owner is None and lease.next_owner == worker
    return empty or expired or handed_to_me
