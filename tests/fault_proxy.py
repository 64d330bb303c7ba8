"""A TCP proxy for tests that puts storage faults between a host and Azurite.

One `FaultProxy` listens on a free loopback port and forwards every connection to its
target. It can:

- `pause()`: keep accepting and reading, forward nothing (a frozen server: requests hang);
- `drop()`: reset every open connection and stop listening (an unreachable server:
  connections are refused);
- `reset()`: reset every open connection once, and keep serving new ones;
- `resume()`: forward again (listening again, on the same port, after `drop()`);
- `hold_request_containing(pattern)`: hold the first request whose bytes contain `pattern`
  (it never reaches the target; the sender waits for an answer) and forward all else.

`ProxiedStorage` puts one FaultProxy in front of each Azurite service.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field


class FaultProxy:
    def __init__(self, target_port: int, *, host: str = "127.0.0.1") -> None:
        self._host = host
        self._target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._hold: _Hold | None = None
        self.connections_made = 0

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self._host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        await self._stop_listening()
        self.reset()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def pause(self) -> None:
        self._flowing.clear()

    def hold_request_containing(
        self, pattern: bytes, *, then: Callable[[], object] | None = None
    ) -> asyncio.Event:
        """Hold the first request (on any connection) whose bytes contain `pattern`: what
        precedes it on that connection may already be forwarded, but the request is never
        completed, so the target drops it when the connection closes. `then` runs the moment
        the request is held; the returned event is set then too."""
        self._hold = _Hold(pattern, then)
        return self._hold.held

    async def drop(self) -> None:
        await self._stop_listening()
        self.reset()

    def reset(self) -> None:
        for writer in list(self._connections):
            _abort_with_reset(writer)
        self._connections.clear()

    async def resume(self) -> None:
        if self._server is None:
            await self.start()
        self._flowing.set()

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self.connections_made += 1
        try:
            upstream_reader, upstream = await asyncio.open_connection(self._host, self._target_port)
        except OSError:
            _abort_with_reset(client)
            return
        self._connections.update((client, upstream))
        pipes = [
            asyncio.create_task(self._pipe(client_reader, upstream, requests=True)),
            asyncio.create_task(self._pipe(upstream_reader, client)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes.difference_update(pipes)
            for writer in (client, upstream):
                self._connections.discard(writer)
                writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, requests: bool = False
    ) -> None:
        tail = b""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                hold = self._hold if requests else None
                if hold is not None and not hold.held.is_set():
                    seen = tail + chunk
                    if hold.pattern in seen:
                        hold.trigger()
                        # Read on, forward nothing: the sender still waits for its answer.
                        while await reader.read(65536):
                            pass
                        return
                    tail = seen[-len(hold.pattern) :]
                await self._flowing.wait()
                writer.write(chunk)
                await writer.drain()


@dataclass
class _Hold:
    pattern: bytes
    then: Callable[[], object] | None
    held: asyncio.Event = field(default_factory=asyncio.Event)

    def trigger(self) -> None:
        self.held.set()
        if self.then is not None:
            self.then()


class ProxiedStorage:
    """One FaultProxy per Azurite service; `connection_string` goes through them."""

    def __init__(self, connection_string: str) -> None:
        self._direct = connection_string
        self.proxies: dict[str, FaultProxy] = {}

    async def start(self) -> ProxiedStorage:
        for service in ("Blob", "Queue", "Table"):
            found = re.search(rf"{service}Endpoint=http://127\.0\.0\.1:(\d+)/", self._direct)
            assert found is not None, f"no {service} endpoint on loopback"
            self.proxies[service] = await FaultProxy(int(found[1])).start()
        return self

    @property
    def connection_string(self) -> str:
        text = self._direct
        for service, proxy in self.proxies.items():
            text = re.sub(
                rf"{service}Endpoint=http://127\.0\.0\.1:\d+/",
                f"{service}Endpoint=http://127.0.0.1:{proxy.port}/",
                text,
            )
        return text

    async def drop(self) -> None:
        for proxy in self.proxies.values():
            await proxy.drop()

    def pause(self) -> None:
        for proxy in self.proxies.values():
            proxy.pause()

    async def resume(self) -> None:
        for proxy in self.proxies.values():
            await proxy.resume()

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.close()


def _abort_with_reset(writer: asyncio.StreamWriter) -> None:
    """Close so the peer sees a reset (RST), not an orderly end of stream."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
