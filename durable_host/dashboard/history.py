"""An instance's history as table rows and as Gantt bars (activities, timers, children, events).

Bars pair a scheduling event with the event that ends it, by the DTFx ids: a TaskScheduled's
EventId with a TaskCompleted/TaskFailed's TaskScheduledId, a SubOrchestrationInstanceCreated's
with the sub-orchestration's completion, a TimerCreated's with TimerFired's TimerId.
What has no end among the events shown runs to the end of the time axis, drawn as open.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    HistoryEvent,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)

__all__ = ["BarKind", "HistoryRow", "Timeline", "TimelineBar", "history_rows", "timeline"]

# The fields shown in the table's detail column, when an event has them.
_DETAIL_FIELDS = ("input", "result", "reason", "details", "instance_id", "fire_at")


class BarKind(enum.Enum):
    ACTIVITY = "activity"
    SUB_ORCHESTRATION = "suborchestration"
    TIMER = "timer"
    EVENT = "event"


@dataclass(frozen=True)
class HistoryRow:
    index: int
    timestamp: datetime
    event_type: str
    event_id: int
    name: str
    detail: str
    child_instance_id: str | None


@dataclass(frozen=True)
class TimelineBar:
    kind: BarKind
    label: str
    start: datetime
    end: datetime | None  # None: no end among the events shown
    failed: bool
    child_instance_id: str | None
    left_percent: float = 0.0
    width_percent: float = 0.0

    @property
    def duration_seconds(self) -> float | None:
        return None if self.end is None else (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    bars: list[TimelineBar]

    @property
    def span_seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def history_rows(events: Sequence[HistoryEvent], first: int) -> list[HistoryRow]:
    """Table rows for `events`, numbered from `first` (their place in the whole history)."""
    rows = []
    for index, event in enumerate(events, start=first):
        name = str(getattr(event, "name", "") or "")
        child = event.instance_id if isinstance(event, SubOrchestrationInstanceCreated) else None
        rows.append(
            HistoryRow(
                index=index,
                timestamp=event.timestamp,
                event_type=event.event_type.dotnet_name,
                event_id=event.event_id,
                name=name,
                detail=_detail(event),
                child_instance_id=child,
            )
        )
    return rows


def _detail(event: HistoryEvent) -> str:
    parts = []
    for field_name in _DETAIL_FIELDS:
        value = getattr(event, field_name, None)
        if value is not None and value != "":
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            parts.append(f"{field_name}: {text}")
    ids = [
        f"{n}: {getattr(event, n)}" for n in ("task_scheduled_id", "timer_id") if hasattr(event, n)
    ]
    return "; ".join(ids + parts)


def timeline(
    events: Sequence[HistoryEvent], now: datetime, *, reaches_end: bool = True
) -> Timeline | None:
    """The bars of `events`, placed on their time axis (None when there are none).

    Without `reaches_end` (a page of a longer history) what has no end among `events`
    ends on a later page: it runs to the axis' end, not to now.
    """
    if not events:
        return None
    bars = _bars(events)
    if not reaches_end:
        now = events[-1].timestamp
    start = min([events[0].timestamp, *(b.start for b in bars)])
    end = max([events[-1].timestamp, *(b.end or now for b in bars)])
    span = max((end - start).total_seconds(), 1e-3)
    placed = []
    for bar in bars:
        left = (bar.start - start).total_seconds() / span * 100
        right = ((bar.end or end) - start).total_seconds() / span * 100
        width = round(max(right - left, 0.0), 3)
        placed.append(replace(bar, left_percent=round(left, 3), width_percent=width))
    return Timeline(start=start, end=end, bars=placed)


def _bars(events: Sequence[HistoryEvent]) -> list[TimelineBar]:
    opened: dict[tuple[BarKind, int], TimelineBar] = {}
    ends: dict[tuple[BarKind, int], tuple[datetime, bool]] = {}
    points: list[TimelineBar] = []
    for event in events:
        if isinstance(event, TaskScheduled):
            opened[(BarKind.ACTIVITY, event.event_id)] = _bar(BarKind.ACTIVITY, event.name, event)
        elif isinstance(event, SubOrchestrationInstanceCreated):
            bar = _bar(BarKind.SUB_ORCHESTRATION, event.name, event, child=event.instance_id)
            opened[(BarKind.SUB_ORCHESTRATION, event.event_id)] = bar
        elif isinstance(event, TimerCreated):
            label = f"timer until {event.fire_at:%H:%M:%S}"
            opened[(BarKind.TIMER, event.event_id)] = _bar(BarKind.TIMER, label, event)
        elif isinstance(event, TaskCompleted | TaskFailed):
            ends[(BarKind.ACTIVITY, event.task_scheduled_id)] = (
                event.timestamp,
                isinstance(event, TaskFailed),
            )
        elif isinstance(event, SubOrchestrationInstanceCompleted | SubOrchestrationInstanceFailed):
            ends[(BarKind.SUB_ORCHESTRATION, event.task_scheduled_id)] = (
                event.timestamp,
                isinstance(event, SubOrchestrationInstanceFailed),
            )
        elif isinstance(event, TimerFired):
            ends[(BarKind.TIMER, event.timer_id)] = (event.timestamp, False)
        elif isinstance(event, EventRaised | EventSent):
            verb = "received" if isinstance(event, EventRaised) else "sent"
            point = _bar(BarKind.EVENT, f"event {event.name} {verb}", event)
            points.append(_ended(point, event.timestamp, False))
    bars = []
    for key, bar in opened.items():
        end = ends.get(key)
        bars.append(bar if end is None else _ended(bar, *end))
    return sorted([*bars, *points], key=lambda b: b.start)


def _bar(
    kind: BarKind, label: str, event: HistoryEvent, *, child: str | None = None
) -> TimelineBar:
    return TimelineBar(
        kind=kind,
        label=label,
        start=event.timestamp,
        end=None,
        failed=False,
        child_instance_id=child,
    )


def _ended(bar: TimelineBar, end: datetime, failed: bool) -> TimelineBar:
    return replace(bar, end=end, failed=failed)
