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
        self._answer: _AnswerReader | None = None
        self._waiter: asyncio.Future[tuple[Http1Response, bool]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, data: bytes, head_request: bool) -> asyncio.Future[tuple[Http1Response, bool]]:
        assert self.transport is not None
        self._answer = _AnswerReader(head_request)
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        waiter, answer = self._waiter, self._answer
        if waiter is None or answer is None or waiter.done():
            return  # nothing asked: dropped, as the next request reads only its own answer
        complete = answer.feed(data, eof=False)
        if complete is not None:
            waiter.set_result(complete)

    def eof_received(self) -> bool:
        return False  # close: connection_lost ends the answer or fails the request

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, answer = self._waiter, self._answer
        if waiter is None or waiter.done():
            return
        complete = answer.feed(b"", eof=True) if answer is not None else None
        if complete is not None:
            waiter.set_result(complete)
            return
        error = aiohttp.ServerDisconnectedError()
        if exc is not None:
            error.__cause__ = exc
        waiter.set_exception(error)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _AnswerReader:
    """One answer read as its bytes arrive, each byte looked at a bounded number of times: the
    head parsed once, then the body framed by Content-Length, chunks or the close (a large
    chunked answer arrives in many reads, and parsing it again from the start on each read
    made reading it quadratic)."""

    __slots__ = (
        "_buffer",
        "_chunk",
        "_head",
        "_head_request",
        "_length",
        "_parts",
        "_scanned",
        "_trailers",
    )

    def __init__(self, head_request: bool) -> None:
        self._head_request = head_request
        self._buffer = bytearray()
        self._scanned = 0  # where the search for the next line end resumes
        self._head: tuple[int, CIMultiDict[str], bool] | None = None
        # The body's framing once the head is read: its length, None for chunks, -1 to the close.
        self._length: int | None = 0
        self._chunk: int | None = None  # the current chunk's size once its line is read
        self._parts: list[bytes] = []
        self._trailers = False  # past the last chunk: reading to the empty line

    def feed(self, data: bytes, *, eof: bool) -> tuple[Http1Response, bool] | None:
        """The answer and whether its connection may be reused, once it is whole."""
        self._buffer += data
        if self._head is None and not self._read_head():
            return None
        assert self._head is not None
        status, headers, keep_alive = self._head
        if self._length is None:
            body = self._read_chunks()
        elif self._length < 0:
            body, keep_alive = (bytes(self._buffer) if eof else None), False
        else:
            whole = len(self._buffer) >= self._length
            body = bytes(self._buffer[: self._length]) if whole else None
        if body is None:
            return None
        return Http1Response(status, CIMultiDictProxy(headers), body), keep_alive

    def _read_head(self) -> bool:
        """Whether the head is in: parsed, the buffer then holding only the body's bytes."""
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n\r\n", self._scanned - 3 if self._scanned > 3 else 0)
            if end < 0:
                self._scanned = len(buffer)
                return False
            head = _read_head(bytes(buffer[:end]))
            del buffer[: end + 4]
            self._scanned = 0
            if not 100 <= head[0] < 200:  # else an interim answer (100 Continue): one follows
                break
        self._head = head
        status, headers = head[0], head[1]
        if self._head_request or status in _NO_BODY:
            self._length = 0
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            self._length = None
        elif "Content-Length" in headers:
            self._length = int(headers["Content-Length"])
        else:
            self._length = -1
        return True

    def _read_chunks(self) -> bytes | None:
        """The whole chunked body, or None while part of it is still to come. What has been
        read leaves the buffer, so each chunk's bytes are copied once."""
        buffer = self._buffer
        while True:
            if self._chunk is not None:
                size = self._chunk
                if len(buffer) < size + 2:
                    return None
                self._parts.append(bytes(buffer[:size]))
                del buffer[: size + 2]
                self._chunk = None
            line = self._line()
            if line is None:
                return None
            if self._trailers:
                if not line:  # the empty line after the trailers (none expected)
                    return b"".join(self._parts)
            else:
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self._trailers = True
                else:
                    self._chunk = size

    def _line(self) -> bytes | None:
        """The next line of the buffer (taken out of it), or None until its end arrives."""
        buffer = self._buffer
        end = buffer.find(b"\r\n", max(self._scanned - 1, 0))
        if end < 0:
            self._scanned = len(buffer)
            return None
        line = bytes(buffer[:end])
        del buffer[: end + 2]
        self._scanned = 0
        return line


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


def _time_out(answer: asyncio.Future[tuple[Http1Response, bool]]) -> None:
    if not answer.done():
        answer.set_exception(asyncio.TimeoutError())


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
                # One timer on the answer instead of asyncio.wait_for's waiter and callbacks.
                timer = asyncio.get_running_loop().call_later(self._read_timeout, _time_out, answer)
                try:
                    response, reusable = await answer
                finally:
                    timer.cancel()
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
