"""Timeline bars pair the events that start and end each piece of work, by DTFx ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from durable_host.dashboard.history import BarKind, history_rows, timeline
from durable_host.dashboard.queries import InstanceFilter
from durable_host.taskhub.events import (
    EventRaised,
    OrchestrationStatus,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
    TaskScheduled,
    TimerCreated,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


EVENTS = [
    TaskScheduled(timestamp=at(0), event_id=0, name="first"),
    SubOrchestrationInstanceCreated(timestamp=at(1), event_id=1, name="child", instance_id="c-1"),
    TimerCreated(timestamp=at(2), event_id=2, fire_at=at(60)),
    TaskCompleted(timestamp=at(4), task_scheduled_id=0, result="1"),
    EventRaised(timestamp=at(5), name="Approval"),
    SubOrchestrationInstanceFailed(timestamp=at(10), task_scheduled_id=1, reason="boom"),
]


def test_bars_pair_starts_with_ends_and_leave_the_rest_open() -> None:
    chart = timeline(EVENTS, now=at(20))
    assert chart is not None
    by_label = {bar.label: bar for bar in chart.bars}
    first = by_label["first"]
    assert (first.kind, first.duration_seconds, first.failed) == (BarKind.ACTIVITY, 4.0, False)
    child = by_label["child"]
    assert child.failed and child.child_instance_id == "c-1" and child.duration_seconds == 9.0
    timer = next(bar for bar in chart.bars if bar.kind is BarKind.TIMER)
    assert timer.end is None  # not fired: runs to now
    assert chart.end == at(20) and chart.start == at(0)
    assert first.left_percent == 0.0 and first.width_percent == 20.0
    assert by_label["event Approval received"].kind is BarKind.EVENT


def test_a_page_of_a_longer_history_ends_its_axis_at_its_last_event() -> None:
    chart = timeline(EVENTS[:3], now=at(500), reaches_end=False)
    assert chart is not None and chart.end == at(2)


def test_rows_are_numbered_by_their_place_in_the_whole_history() -> None:
    rows = history_rows(EVENTS[3:5], first=203)
    assert [(r.index, r.event_type) for r in rows] == [(203, "TaskCompleted"), (204, "EventRaised")]
    assert "task_scheduled_id: 0" in rows[0].detail


def test_the_filter_round_trips_through_its_query_string() -> None:
    chosen = InstanceFilter.parse(
        {"name": " order ", "prefix": "bulk-", "from": "2026-01-01T10:00", "to": "junk"},
        ["Failed", "Running", "NoSuchStatus"],
    )
    assert chosen.statuses == {OrchestrationStatus.Failed, OrchestrationStatus.Running}
    assert chosen.created_from == datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
    assert chosen.created_to is None
    query = chosen.query()
    assert query.name_prefix == "order" and query.orchestrations_only
    params = dict(chosen.params())
    assert params["prefix"] == "bulk-" and params["from"] == "2026-01-01T10:00"
