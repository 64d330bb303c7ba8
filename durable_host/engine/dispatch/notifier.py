"""Wake-ups for clients waiting on an instance that this host checkpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from durable_host.taskhub.instances import InstanceRecord

Waiter = asyncio.Future[InstanceRecord | None]


def _covers_none(instance_id: str) -> bool:
    return False


class InstanceNotifier:
    """Wakes waiters (the client's wait_for_completion) when this host checkpoints an instance,
    handing them the Instances row the checkpoint wrote when it is known, so they need not
    read it."""

    def __init__(self, covers: Callable[[str], bool] = _covers_none) -> None:
        self._waiters: dict[str, list[Waiter]] = {}
        # Waiters for the end only: a start's checkpoint would wake them for a read that
        # cannot satisfy them (one Instances read per orchestration).
        self._end_waiters: dict[str, list[Waiter]] = {}
        # Whether this host holds the instance's partition (the Engine's leases), so that its
        # end will come as a wake-up here and a waiter need not poll for another host's.
        self.covers = covers

    def notify(
        self, instance_id: str, *, terminal: bool = True, row: InstanceRecord | None = None
    ) -> None:
        """`terminal=False`: a checkpoint that did not end the instance (a start); `row`: the
        Instances row as this checkpoint left it (None: not known, waiters read it)."""
        waiters = self._waiters.pop(instance_id, [])
        if terminal:
            waiters += self._end_waiters.pop(instance_id, [])
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(row)

    def register(self, instance_id: str, *, end_only: bool = False) -> Waiter:
        """A future resolved at this instance's next checkpoint (register before reading);
        `end_only`: at its next checkpoint that may have ended it."""
        waiter: Waiter = asyncio.get_running_loop().create_future()
        lists = self._end_waiters if end_only else self._waiters
        lists.setdefault(instance_id, []).append(waiter)
        return waiter

    async def wait(self, instance_id: str, waiter: Waiter, timeout: float) -> InstanceRecord | None:
        """The row the waking checkpoint wrote, if known; None also after `timeout`."""
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            for lists in (self._waiters, self._end_waiters):
                waiters = lists.get(instance_id)
                if waiters and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del lists[instance_id]
