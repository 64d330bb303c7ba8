"""Wake-ups for clients waiting on an instance that this host checkpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def _covers_none(instance_id: str) -> bool:
    return False


class InstanceNotifier:
    """Wakes waiters (the client's wait_for_completion) when this host checkpoints an instance."""

    def __init__(self, covers: Callable[[str], bool] = _covers_none) -> None:
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        # Waiters for the end only: a start's checkpoint would wake them for a read that
        # cannot satisfy them (one Instances read per orchestration).
        self._end_waiters: dict[str, list[asyncio.Future[None]]] = {}
        # Whether this host holds the instance's partition (the Engine's leases), so that its
        # end will come as a wake-up here and a waiter need not poll for another host's.
        self.covers = covers

    def notify(self, instance_id: str, *, terminal: bool = True) -> None:
        """`terminal=False`: a checkpoint that did not end the instance (a start)."""
        waiters = self._waiters.pop(instance_id, [])
        if terminal:
            waiters += self._end_waiters.pop(instance_id, [])
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def register(self, instance_id: str, *, end_only: bool = False) -> asyncio.Future[None]:
        """A future resolved at this instance's next checkpoint (register before reading);
        `end_only`: at its next checkpoint that may have ended it."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lists = self._end_waiters if end_only else self._waiters
        lists.setdefault(instance_id, []).append(waiter)
        return waiter

    async def wait(self, instance_id: str, waiter: asyncio.Future[None], timeout: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            for lists in (self._waiters, self._end_waiters):
                waiters = lists.get(instance_id)
                if waiters and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del lists[instance_id]
