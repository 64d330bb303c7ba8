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

from durable_host.engine.time.clock import VirtualClock

# Idle must hold across this many consecutive checks, each yielding to the event loop, so
# work handed from one task to another between two checks is seen. Every hand-over in the
# engine is tracked synchronously (sends in flight, pending messages, running work), so a
# few loop turns suffice; a short sleep now and then lets I/O callbacks in.
_STABLE_CHECKS = 4
_CHECK_INTERVAL = 0.002


class TimeSkipper:
    def __init__(
        self,
        clock: VirtualClock,
        next_due: Callable[[], datetime | None],
        release_due: Callable[[], object],
        is_idle: Callable[[bool], bool],
    ) -> None:
        self._clock = clock
        self._next_due = next_due
        self._release_due = release_due
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

    async def wait_until_idle(self, *, settled: bool = True) -> None:
        """Until nothing runs; with `settled`, also until every checkpoint has fully finished
        (Instances rows written), which new work never waits for."""
        stable = 0
        turns = 0
        while stable < _STABLE_CHECKS:
            turns += 1
            await asyncio.sleep(_CHECK_INTERVAL if turns % 8 == 0 else 0)
            stable = stable + 1 if self._is_idle(settled) else 0

    async def advance(self, until: datetime) -> None:
        """Move time to `until`, firing every timer due on the way, each once the engine is idle."""
        while True:
            await self.wait_until_idle(settled=False)
            due = self._next_due()
            if due is None or due > until:
                break
            self._clock.advance_to(due)
            self._release_due()
        self._clock.advance_to(until)
        self._release_due()
        await self.wait_until_idle()

    async def _run(self) -> None:
        while True:
            if self._wanted <= 0:
                self._wanted_changed.clear()
                await self._wanted_changed.wait()
                continue
            await self.wait_until_idle(settled=False)
            if self._wanted <= 0:
                continue
            due = self._next_due()
            if due is None:
                # Nothing scheduled: the waiter is waiting on something outside (an event).
                await asyncio.sleep(_CHECK_INTERVAL * 5)
                continue
            self._clock.advance_to(due)
            self._release_due()
