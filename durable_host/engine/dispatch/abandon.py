"""Abandoning held queue messages (DTFx's AbandonMessageAsync), also while storage is
unreachable or stalled.

A host that gives up on a message it holds (a failed episode, a released partition, a
stop, a message not due yet) abandons it: an update of its visibility makes it visible again
now or after a delay. During a storage outage that update fails too, and the message would
then stay hidden for the visibility timeout this host set when it received it (five minutes
by default): long after storage is back. `Abandoner` keeps trying in the background, with
a short back-off, until storage takes the update, the pop receipt turns out stale (the
message is someone else's now), or the message's own visibility has run out (it is back
anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from durable_host.errors import StorageError
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

log = logging.getLogger("durable_host.returns")

# Retry back-off while storage does not answer: first retry soon, then at most this often,
# so a message is visible again within about a second of storage answering.
_FIRST_RETRY_SECONDS = 0.1
_MAX_RETRY_SECONDS = 1.0


def storage_unavailable(error: BaseException) -> bool:
    """An outage (no answer, a timeout, a server error): worth retrying once storage is back.

    Refusals that another try cannot change (a stale pop receipt, a 4xx) are not.
    """
    if not isinstance(error, StorageError) or error.pop_receipt_mismatch:
        return False
    return error.status is None or error.status >= 500 or error.status == 408


async def retry_while_unavailable(
    attempt: Callable[[], Awaitable[None]], *, deadline: float, what: str
) -> bool:
    """Run `attempt` until it succeeds (True), fails for a reason other than an outage
    (raised), or `deadline` (time.monotonic) passes (False)."""
    backoff = _FIRST_RETRY_SECONDS
    while True:
        try:
            await attempt()
            return True
        except StorageError as exc:
            if not storage_unavailable(exc):
                raise
            if time.monotonic() + backoff > deadline:
                log.warning("Gave up trying to %s: storage did not answer in time", what)
                return False
            log.debug("Could not %s yet (%s); retrying", what, exc)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, _MAX_RETRY_SECONDS)


class Abandoner:
    """Abandons held messages (visible again after a delay), retrying through an outage."""

    def __init__(self, storage: TaskHubStorage, *, visibility_timeout: float) -> None:
        self._storage = storage
        self._visibility = visibility_timeout
        self._retries: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Messages still waiting for storage to take them back."""
        return len(self._retries)

    async def abandon(self, msg: ReceivedMessage, delay: float) -> None:
        """Visible again after `delay` seconds; retried in the background during an outage."""
        try:
            await self._storage.abandon_message(msg, delay=delay)
            return
        except Exception as exc:
            if not storage_unavailable(exc):
                log.debug("Abandoning message %s failed: %s", msg.message_id, exc)
                return
        deadline = time.monotonic() + self._visibility
        task = asyncio.create_task(self._retry(msg, delay, deadline))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def close(self) -> None:
        """Stop retrying: what is left reappears when its visibility runs out."""
        for task in list(self._retries):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._retries, return_exceptions=True)

    async def _retry(self, msg: ReceivedMessage, delay: float, deadline: float) -> None:
        async def abandon() -> None:
            await self._storage.abandon_message(msg, delay=delay)

        try:
            if await retry_while_unavailable(
                abandon, deadline=deadline, what=f"abandon message {msg.message_id}"
            ):
                log.info("Message %s in %s is visible again", msg.message_id, msg.queue)
        except StorageError as exc:
            log.debug("Abandoning message %s failed: %s", msg.message_id, exc)
