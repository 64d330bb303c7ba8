"""Pooled connections that never meet a server's keep-alive close, and replays after a reset.

A server closes an idle keep-alive connection after its own timeout: 5 s for Azurite by
default (`--queueKeepAliveTimeout` and friends). aiohttp keeps an idle pooled connection
for 15 s, so a request could be written on a connection the server had just closed and
meet `Connection reset by peer`, the more often the busier the event loop (the close is
noticed late). The transport here drops idle connections after `POOL_IDLE_SECONDS`, below
Azurite's default; the Azurite that durable_host starts keeps them far longer
(server/azurite.py), so the margin covers any event-loop lag.

A reset can still come from elsewhere (an emulator restarting). The SDK pipelines repeat a
request whose connection failed for idempotent methods only (tables: GET, PUT, DELETE,
HEAD), so table merges (PATCH) and batches (POST `$batch`) are replayed here: a merge of
the same properties is idempotent, and every history batch is guarded by its sentinel's
ETag (or inserts it), so a replay after a lost answer ends in the conflict the engine
already handles, never in a second write.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import AioHttpTransport

__all__ = ["POOL_IDLE_SECONDS", "PooledTransport", "is_connection_reset", "replay_after_reset"]

log = logging.getLogger("durable_host.connections")

# Below Azurite's default keep-alive timeout (5 s), with a second of margin for lag.
POOL_IDLE_SECONDS = 4.0
# Replays of a table write whose connection was reset (the SDK's own retries come first).
_RESET_REPLAYS = 2
_RESET_ERRNOS = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}

T = TypeVar("T")


# azure-core exports AioHttpTransport through a module __getattr__ (a lazy import), so mypy
# sees Any here; the class is azure-core's typed one.
class PooledTransport(AioHttpTransport):  # type: ignore[misc]
    """azure-core's aiohttp transport, with idle connections dropped after POOL_IDLE_SECONDS.

    The session is made on first use, inside the running event loop (aiohttp needs one),
    with the settings azure-core gives its own: no cookies, no automatic decompression.
    """

    def __init__(self, *, use_env_settings: bool = True, **kwargs: Any) -> None:
        super().__init__(use_env_settings=use_env_settings, **kwargs)
        self._trust_env = use_env_settings

    async def open(self) -> None:
        if getattr(self, "session", None) is None:
            self.session: aiohttp.ClientSession | None = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=POOL_IDLE_SECONDS),
                trust_env=self._trust_env,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        await super().open()


def is_connection_reset(error: BaseException) -> bool:
    """Whether the connection was reset or closed under the request (anywhere in the chain)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionResetError | BrokenPipeError):
            return True
        if isinstance(current, aiohttp.ServerDisconnectedError):
            return True
        if isinstance(current, aiohttp.ClientOSError) and current.errno in _RESET_ERRNOS:
            return True
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return False


async def replay_after_reset(call: Callable[[], Awaitable[T]], *, what: str) -> T:
    """`await call()`, repeated when its connection was reset; only for requests whose
    repeat is safe (idempotent, or conditional so that a repeat conflicts)."""
    for replay in range(_RESET_REPLAYS + 1):
        try:
            return await call()
        except AzureError as exc:
            if replay == _RESET_REPLAYS or not is_connection_reset(exc):
                raise
            log.warning("Connection reset while trying to %s; sending it again", what)
    raise AssertionError("unreachable")
