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


class VirtualClock:
    """Test time: stands still until the engine moves it to the next due timer.

    Durable timers, retry delays and scheduled starts are held by the engine and released
    when virtual time reaches them (see Engine.advance_time and wait_for_completion), so a
    72-hour timeout takes milliseconds and writes the history a real run would write.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def seconds_until(self, when: datetime) -> float:
        return max(0.0, (when - self._now).total_seconds())

    def advance_to(self, when: datetime) -> None:
        if when > self._now:
            self._now = when


async def sleep_or_wake(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` passes; returns True when woken. Clears the event."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
        woke = True
    except asyncio.TimeoutError:
        woke = False
    event.clear()
    return woke
