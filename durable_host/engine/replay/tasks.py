"""The host's view of the orchestrator's tasks during replay (what DTFx's context awaits).

Each SDK action becomes one of these; history events finish them, and a finished task tells
its parent (a WhenAll/WhenAny, or a retry loop). See walk.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_host.taskhub.events import HistoryEvent


class HostTask:
    done = False
    failed = False

    def on_child_done(self, child: HostTask) -> None:  # pragma: no cover - overridden
        pass


@dataclass(eq=False)
class Leaf(HostTask):
    """One scheduled unit: an activity, timer, sub-orchestration or entity call."""

    kind: type[HistoryEvent]
    name: str | None
    seq: int
    parent: HostTask | None = None
    request_id: str | None = None

    def finish(self, failed: bool) -> None:
        if self.done:
            return
        self.done = True
        self.failed = failed
        if self.parent is not None:
            self.parent.on_child_done(self)


@dataclass(eq=False)
class Instant(HostTask):
    """Fire-and-forget actions (signals, continue-as-new): done when scheduled."""

    def __post_init__(self) -> None:
        self.done = True


@dataclass(eq=False)
class Wait(HostTask):
    name: str
    parent: HostTask | None = None

    def finish(self) -> None:
        self.done = True
        if self.parent is not None:
            self.parent.on_child_done(self)


@dataclass(eq=False)
class Compound(HostTask):
    any_of: bool
    children: list[HostTask] = field(default_factory=list)
    parent: HostTask | None = None
    # Counted, not rescanned: a fan-out of n children settles in O(n), not O(n^2).
    finished_children: int = 0
    failed_child: bool = False

    def settle(self) -> None:
        """Called once after all children are built."""
        self.finished_children = sum(1 for c in self.children if c.done)
        self.failed_child = any(c.done and c.failed for c in self.children)
        self._check()

    def on_child_done(self, child: HostTask) -> None:
        self.finished_children += 1
        self.failed_child = self.failed_child or child.failed
        self._check()

    def _check(self) -> None:
        if self.done:
            return
        if self.any_of:
            finished = self.finished_children > 0
        else:
            finished = self.finished_children >= len(self.children) or self.failed_child
        if finished or not self.children:
            self.done = True
            if self.parent is not None:
                self.parent.on_child_done(self)


@dataclass(eq=False)
class Retry(HostTask):
    """DTFx RetryInterceptor: attempt, timer after each failure, next attempt when it fires."""

    action: dict[str, Any]
    options: dict[str, Any]
    first_attempt: datetime
    parent: HostTask | None = None
    attempts: int = 0
    current: Leaf | None = None
    waiting_timer: Leaf | None = None

    def on_child_done(self, child: HostTask) -> None:
        # Handled by the replayer, which needs to allocate ids.
        pass

    def finish(self, failed: bool) -> None:
        self.done = True
        self.failed = failed
        if self.parent is not None:
            self.parent.on_child_done(self)
