"""Large-payload blobs over the thin REST client: whole-blob upload and download."""

from __future__ import annotations

from durable_host.taskhub.rest_client import RestClient, Service, quote_path

__all__ = ["RestBlobs"]


class RestBlobs:
    """Put and get block blobs of one container (at most 5,000 MiB each: one request)."""

    def __init__(self, client: RestClient, container: str) -> None:
        self._client = client
        self._container = quote_path(container)

    async def put(self, name: str, data: bytes, *, content_type: str) -> None:
        await self._client.request(
            Service.BLOB,
            "PUT",
            f"{self._container}/{quote_path(name)}",
            headers={
                "x-ms-blob-type": "BlockBlob",
                "x-ms-blob-content-type": content_type,
                "Content-Type": "application/octet-stream",
            },
            body=data,
        )

    async def get(self, name: str) -> bytes:
        response = await self._client.request(
            Service.BLOB, "GET", f"{self._container}/{quote_path(name)}"
        )
        return response.body
