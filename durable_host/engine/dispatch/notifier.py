"""Wake-ups for clients waiting on an instance that this host checkpoints."""

from __future__ import annotations

import asyncio


class InstanceNotifier:
    """Wakes waiters (the client's wait_for_completion) when this host checkpoints an instance."""

    def __init__(self) -> None:
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def notify(self, instance_id: str) -> None:
        for waiter in self._waiters.pop(instance_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def register(self, instance_id: str) -> asyncio.Future[None]:
        """A future resolved at this instance's next checkpoint (register before reading)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(instance_id, []).append(waiter)
        return waiter

    async def wait(self, instance_id: str, waiter: asyncio.Future[None], timeout: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(instance_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[instance_id]
