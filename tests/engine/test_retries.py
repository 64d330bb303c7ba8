"""call_activity_with_retry: the DTFx RetryInterceptor's history (attempt, timer, attempt)."""

from __future__ import annotations

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import (
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from tests.engine._helpers import (
    COMPLETED,
    finish,
    history,
    output,
    queues_drained,
    start,
)

_TASK_EVENTS = (TaskScheduled, TaskCompleted, TaskFailed, TimerCreated, TimerFired)


def task_trace(events: list[HistoryEvent]) -> list[tuple[str, int]]:
    """(event type, the sequence id it is about) for scheduling and result events."""
    trace = []
    for event in events:
        if isinstance(event, (TaskScheduled, TimerCreated)):
            trace.append((type(event).__name__, event.event_id))
        elif isinstance(event, (TaskCompleted, TaskFailed)):
            trace.append((type(event).__name__, event.task_scheduled_id))
        elif isinstance(event, TimerFired):
            trace.append((type(event).__name__, event.timer_id))
    return trace


async def test_retry_fails_then_succeeds(engine: Engine) -> None:
    instance_id = await start(engine, "retrying", {"key": "a", "failures": 1})
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == "ok after 2"
    events = await history(engine, instance_id)
    assert task_trace(events) == [
        ("TaskScheduled", 0),
        ("TaskFailed", 0),
        ("TimerCreated", 1),
        ("TimerFired", 1),
        ("TaskScheduled", 2),
        ("TaskCompleted", 2),
    ]
    failed = next(e for e in events if isinstance(e, TaskFailed))
    timer = next(e for e in events if isinstance(e, TimerCreated))
    # firstRetryInterval is 100 ms after the failure was seen.
    delay = (timer.fire_at - timer.timestamp).total_seconds()
    assert 0.05 <= delay <= 0.2
    assert failed.reason is not None and "attempt 1 failed" in failed.reason
    await queues_drained(engine)


async def test_retries_exhausted_fail_the_task(engine: Engine) -> None:
    instance_id = await start(engine, "retrying", {"key": "b", "failures": 5})
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED  # the orchestrator catches the final failure
    result = output(status)
    assert result.startswith("gave up: ")
    assert "attempt 3 failed" in result
    events = await history(engine, instance_id)
    # DTFx's RetryInterceptor also waits out the delay after the last attempt before giving up.
    assert task_trace(events) == [
        ("TaskScheduled", 0),
        ("TaskFailed", 0),
        ("TimerCreated", 1),
        ("TimerFired", 1),
        ("TaskScheduled", 2),
        ("TaskFailed", 2),
        ("TimerCreated", 3),
        ("TimerFired", 3),
        ("TaskScheduled", 4),
        ("TaskFailed", 4),
        ("TimerCreated", 5),
        ("TimerFired", 5),
    ]
    await queues_drained(engine)
