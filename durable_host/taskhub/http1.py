"""A minimal HTTP/1.1 client for the thin client's plain-HTTP loopback endpoints (Azurite).

aiohttp's ClientSession spends most of a storage request's client CPU on what these requests
never use (cookies, redirects, proxies, payload types, tracing hooks): about 117 us of user
CPU per queue request at 16 in flight, against 33 us for the same bytes written and read
here (docs/performance.md). This client sends exactly what RestClient gives it on pooled
keep-alive connections and reads the answer (Content-Length, chunked, or up to the close).

Only `http://` endpoints on loopback addresses use it (RestClient decides); TLS, proxies and
everything else keep aiohttp. Its failures are aiohttp's own types, so RestClient's retry
rules read them alike: `ClientConnectorError` when no connection could be made (the request
never left), `ServerDisconnectedError` when the connection closed under the request, and
`asyncio.TimeoutError` when no answer came in time (the request may have landed).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import NamedTuple

import aiohttp
from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = ["Http1Pool", "Http1Response"]

_NO_BODY = frozenset({204, 304})
_DEFAULTS = (("Accept", "*/*"), ("User-Agent", SERVER_SOFTWARE))


class Http1Response(NamedTuple):
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class _Key(NamedTuple):
    """What aiohttp's ClientConnectorError reads from a connection key."""

    host: str
    port: int | None
    ssl: bool


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[Http1Response, bool]] | None = None
        self._head_request = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, data: bytes, head_request: bool) -> asyncio.Future[tuple[Http1Response, bool]]:
        assert self.transport is not None
        self._buffer.clear()
        self._head_request = head_request
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is not None and not self._waiter.done():
            self._try_complete(eof=False)

    def eof_received(self) -> bool:
        return False  # close: connection_lost ends the answer or fails the request

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._try_complete(eof=True)
            if not waiter.done():
                error = aiohttp.ServerDisconnectedError()
                if exc is not None:
                    error.__cause__ = exc
                waiter.set_exception(error)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _try_complete(self, *, eof: bool) -> None:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        while end >= 0:
            status, headers, keep_alive = _read_head(bytes(buffer[:end]))
            if not 100 <= status < 200:
                break
            del buffer[: end + 4]  # an interim answer (100 Continue): the real one follows
            end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        start = end + 4
        if self._head_request or status in _NO_BODY:
            body: bytes | None = b""
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            body = _read_chunked(buffer, start)
        elif "Content-Length" in headers:
            length = int(headers["Content-Length"])
            body = bytes(buffer[start : start + length]) if len(buffer) - start >= length else None
        else:
            body, keep_alive = (bytes(buffer[start:]) if eof else None), False
        if body is None:
            return
        assert self._waiter is not None
        self._waiter.set_result(
            (Http1Response(status, CIMultiDictProxy(headers), body), keep_alive)
        )


def _read_head(head: bytes) -> tuple[int, CIMultiDict[str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status = int(rest[:3])
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    connection = headers.get("Connection", "").lower()
    keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    return status, headers, keep_alive


def _read_chunked(buffer: bytearray, position: int) -> bytes | None:
    """The whole chunked body from `position`, or None while part of it is still to come."""
    parts: list[bytes] = []
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        position = line_end + 2
        if size == 0:
            # Trailers (none expected) end with an empty line.
            return b"".join(parts) if buffer.find(b"\r\n", position) >= 0 else None
        if len(buffer) < position + size + 2:
            return None
        parts.append(bytes(buffer[position : position + size]))
        position += size + 2


def _closing(connection: _Connection) -> bool:
    return connection.transport is None or connection.transport.is_closing()


class Http1Pool:
    """Keep-alive connections per host and port, at most `limit` requests at once."""

    def __init__(
        self,
        *,
        limit: int,
        idle_seconds: float,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._room = asyncio.Semaphore(limit)
        self._idle_seconds = idle_seconds
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout

    async def request(
        self, method: str, url: URL, headers: dict[str, str], body: bytes
    ) -> Http1Response:
        host, port = url.raw_host or "", url.port or 80
        lines = [f"{method} {url.raw_path_qs} HTTP/1.1", f"Host: {url.raw_authority}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        # What aiohttp adds to RestClient's headers, so the service sees the same request.
        given = {name.lower() for name in headers}
        lines += [f"{name}: {value}" for name, value in _DEFAULTS if name.lower() not in given]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        async with self._room:
            connection = await self._connection(host, port)
            reusable = False
            try:
                answer = connection.send(data, method == "HEAD")
                response, reusable = await asyncio.wait_for(answer, self._read_timeout)
            finally:
                if reusable and not connection.closed:
                    connection.idle_since = asyncio.get_running_loop().time()
                    self._idle.setdefault((host, port), deque()).append(connection)
                else:
                    connection.abort()
        return response

    async def _connection(self, host: str, port: int) -> _Connection:
        idle = self._idle.get((host, port))
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closing
            # Dropped before the server's keep-alive closes it (Azurite: 5 s), as aiohttp's pool.
            fresh = now - connection.idle_since < self._idle_seconds
            if fresh and not connection.closed and not _closing(connection):
                return connection
            connection.abort()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, host, port), self._connect_timeout
            )
        except (OSError, asyncio.TimeoutError) as exc:
            error = exc if isinstance(exc, OSError) else OSError(f"timed out connecting to {host}")
            raise aiohttp.ClientConnectorError(_Key(host, port, False), error) from exc  # type: ignore[arg-type]
        return connection

    async def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.abort()
        self._idle.clear()
