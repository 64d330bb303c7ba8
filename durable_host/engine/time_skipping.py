"""Virtual time for tests: jump to the next due timer whenever the engine has nothing to do.

Time only moves while someone wants it to (a client waiting for an outcome, or an explicit
`advance`), so a test can still raise an event to an orchestration that waits on a 72-hour
timer before that timer fires.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime

from durable_host.engine.clock import VirtualClock
from durable_host.engine.router import MessageRouter

# Idle must hold across this many consecutive checks (each yields to the event loop), so a
# message handed from one dispatcher to another between two checks is not missed.
_STABLE_CHECKS = 3
_CHECK_INTERVAL = 0.002


class TimeSkipper:
    def __init__(
        self, clock: VirtualClock, router: MessageRouter, is_idle: Callable[[], bool]
    ) -> None:
        self._clock = clock
        self._router = router
        self._is_idle = is_idle
        self._wanted = 0
        self._wanted_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def skipping(self) -> Iterator[None]:
        """While inside, idle periods jump virtual time to the next due timer."""
        self._wanted += 1
        self._wanted_changed.set()
        try:
            yield
        finally:
            self._wanted -= 1

    async def wait_until_idle(self) -> None:
        stable = 0
        while stable < _STABLE_CHECKS:
            await asyncio.sleep(_CHECK_INTERVAL)
            stable = stable + 1 if self._is_idle() else 0

    async def advance(self, until: datetime) -> None:
        """Move time to `until`, firing every timer due on the way, each once the engine is idle."""
        while True:
            await self.wait_until_idle()
            due = self._router.next_virtual_timer()
            if due is None or due > until:
                break
            self._clock.advance_to(due)
            self._router.release_due_timers()
        self._clock.advance_to(until)
        self._router.release_due_timers()
        await self.wait_until_idle()

    async def _run(self) -> None:
        while True:
            if self._wanted <= 0:
                self._wanted_changed.clear()
                await self._wanted_changed.wait()
                continue
            await self.wait_until_idle()
            if self._wanted <= 0:
                continue
            due = self._router.next_virtual_timer()
            if due is None:
                # Nothing scheduled: the waiter is waiting on something outside (an event).
                await asyncio.sleep(_CHECK_INTERVAL * 5)
                continue
            self._clock.advance_to(due)
            self._router.release_due_timers()
