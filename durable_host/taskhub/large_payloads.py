"""Gzipped payloads in `<hub>-largemessages` (docs/task-hub-layout.md §2 and §3).

Queue bodies over 45 KiB (UTF-8) and table properties over 60 KiB (UTF-16) do
not fit the services' 64 KiB limits, so DurableTask.AzureStorage stores them
gzipped in blobs and keeps only the blob name in the message or row.
"""

from __future__ import annotations

import asyncio
import gzip
import secrets
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.sdk_transports import SdkBlobs
from durable_host.taskhub.storage_errors import storage_errors
from durable_host.taskhub.transports import BlobTransport

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_PROPERTY_BYTES",
    "LargePayloads",
    "history_blob_name",
    "is_large_property",
    "message_blob_name",
]

MAX_MESSAGE_BYTES = 45 * 1024
MAX_PROPERTY_BYTES = 60 * 1024
# Compressing a megabyte takes milliseconds; above this size do it off the event loop.
_THREAD_THRESHOLD = 256 * 1024
_CONTENT_TYPE = "application/octet-stream"


def is_large_property(value: str) -> bool:
    """True if `value` exceeds the table property limit, measured as .NET does (UTF-16 bytes)."""
    # Cheap bound first: UTF-16 needs at least 2 bytes per code point.
    if len(value) * 2 <= MAX_PROPERTY_BYTES // 2:
        return False
    return len(value.encode("utf-16-le")) > MAX_PROPERTY_BYTES


def message_blob_name(instance_id: str, activity_id: str, event_type_name: str) -> str:
    """`<instanceId>/message-<ActivityId:N>-<EventType>.json.gz` for an oversized queue message."""
    return f"{instance_id}/message-{activity_id.replace('-', '')}-{event_type_name}.json.gz"


def history_blob_name(
    escaped_instance_id: str, row_key: str, event_type_name: str, prop: str
) -> str:
    """`<escapedId>/history-<RowKey>-<EventType>-<rand8>-<Prop>.json.gz` for a large column."""
    token = secrets.token_hex(4).upper()
    return f"{escaped_instance_id}/history-{row_key}-{event_type_name}-{token}-{prop}.json.gz"


def _compress(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), compresslevel=6)


def _decompress(data: bytes) -> str:
    return gzip.decompress(data).decode("utf-8")


class LargePayloads:
    """Upload, download and delete gzipped payload blobs of one task hub."""

    def __init__(
        self,
        service: BlobServiceClient,
        container: str,
        *,
        transport: BlobTransport | None = None,
    ) -> None:
        """`transport`: the one `StorageClients.blob_transport` chose; the SDK's by default."""
        self.container_name = container
        self._container: ContainerClient = service.get_container_client(container)
        self._blobs = transport if transport is not None else SdkBlobs(self._container)

    def blob_name_of(self, reference: str) -> str:
        """The blob name for `reference`, which may be a bare name or a full blob URL."""
        if "://" not in reference:
            return reference
        # Older providers stored the blob URL; the name is the path after the container.
        path = unquote(urlsplit(reference).path).lstrip("/")
        marker = self.container_name + "/"
        index = path.find(marker)
        return path[index + len(marker) :] if index >= 0 else path.rsplit("/", 1)[-1]

    def blob_url(self, name: str) -> str:
        """The absolute URL the provider writes for a blob (`MessageManager.GetBlobUrl`): the
        container's URL without any SAS, then each name segment escaped as
        `Uri.EscapeDataString` does (MessageManager.cs 283-288, 355-358)."""
        scheme, netloc, path, _, _ = urlsplit(self._container.url)
        escaped = "/".join(quote(segment, safe="") for segment in name.split("/"))
        return urlunsplit((scheme, netloc, f"{path.rstrip('/')}/{escaped}", "", ""))

    def is_blob_url(self, value: str) -> bool:
        """Whether an Instances value is a reference to a blob of this hub's container."""
        return (
            value.startswith(("http://", "https://"))
            and value.endswith(".json.gz")
            and f"/{self.container_name}/" in value
            and not any(c.isspace() for c in value)
        )

    async def upload(self, name: str, text: str) -> None:
        if len(text) > _THREAD_THRESHOLD:
            data = await asyncio.to_thread(_compress, text)
        else:
            data = _compress(text)
        with storage_errors(f"upload large payload blob {name!r} to {self.container_name}"):
            await self._blobs.put(name, data, content_type=_CONTENT_TYPE)

    async def download(self, reference: str) -> str:
        name = self.blob_name_of(reference)
        with storage_errors(f"download large payload blob {name!r} from {self.container_name}"):
            data = await self._blobs.get(name)
        if len(data) > _THREAD_THRESHOLD // 4:
            return await asyncio.to_thread(_decompress, data)
        return _decompress(data)

    async def delete_instance_blobs(self, instance_id: str) -> int:
        """Delete the instance's message blobs (raw id) and property blobs (escaped id)."""
        prefixes = {instance_id + "/", escape_partition_key(instance_id) + "/"}
        counts = [await self.delete_folder(prefix) for prefix in sorted(prefixes)]
        return sum(counts)

    async def delete_folder(self, prefix: str) -> int:
        """Delete the blobs directly under `prefix` (a name ending in "/"); returns the count.

        Deeper names are kept: instance "a" must not take instance "a/b"'s blobs with it.
        """
        names: list[str] = []
        with storage_errors(f"list blobs under {prefix!r} in {self.container_name}"):
            async for blob in self._container.list_blobs(name_starts_with=prefix):
                if "/" not in blob.name[len(prefix) :]:
                    names.append(blob.name)
        if not names:
            return 0
        with storage_errors(f"delete blobs under {prefix!r} in {self.container_name}"):
            # delete_blobs sends one batch request per 256 blobs.
            for start in range(0, len(names), 256):
                await self._container.delete_blobs(*names[start : start + 256])
        return len(names)
