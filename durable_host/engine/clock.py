"""Every 'now' of the engine comes from a Clock, so tests can run on virtual time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current UTC time (timezone-aware)."""
        ...

    def seconds_until(self, when: datetime) -> float:
        """Real seconds to wait before `when` is due (0 when it is already due)."""
        ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def seconds_until(self, when: datetime) -> float:
        return max(0.0, (when - self.now()).total_seconds())


async def sleep_or_wake(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` passes; returns True when woken. Clears the event."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
        woke = True
    except asyncio.TimeoutError:
        woke = False
    event.clear()
    return woke
