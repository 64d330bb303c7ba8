"""Messages sent for a later virtual time, held in memory until virtual time reaches them.

On real time a delayed message is simply sent hidden and the queue shows it when due. On
virtual time the queue's clock does not move with ours, so the router stores the message
hidden for as long as Azure allows and hands it here; the time skipper releases it when
virtual time reaches its due time.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime

from durable_host.engine.time.clock import VirtualClock
from durable_host.taskhub.storage import ReceivedMessage

__all__ = ["HeldMessages"]


@dataclass(order=True)
class _Held:
    visible_at: datetime
    order: int
    partition: int = field(compare=False)
    message: ReceivedMessage = field(compare=False)


class HeldMessages:
    """The delayed messages of a virtual-time engine, earliest first."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._heap: list[_Held] = []
        self._order = itertools.count()

    def should_hold(self, visible_at: datetime | None) -> bool:
        return visible_at is not None and visible_at > self._clock.now()

    def hold(self, visible_at: datetime, partition: int, message: ReceivedMessage) -> None:
        heapq.heappush(self._heap, _Held(visible_at, next(self._order), partition, message))

    def next_due(self) -> datetime | None:
        return self._heap[0].visible_at if self._heap else None

    def pop_due(self) -> list[tuple[int, ReceivedMessage]]:
        """(partition, message) of every held message that virtual time has reached."""
        now = self._clock.now()
        due: list[tuple[int, ReceivedMessage]] = []
        while self._heap and self._heap[0].visible_at <= now:
            entry = heapq.heappop(self._heap)
            due.append((entry.partition, entry.message))
        return due
