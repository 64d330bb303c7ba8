"""External events: before and after the wait, against a timer, across continue-as-new;
duplicate results are dropped."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from durable_host.engine.runtime import Engine
from durable_host.errors import InstanceFinishedError
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    OrchestrationInstance,
    TaskCompleted,
    TimerCreated,
    TimerFired,
)
from tests.engine._helpers import (
    COMPLETED,
    eventually,
    finish,
    history,
    history_has,
    kinds,
    output,
    queues_drained,
    start,
    without_episodes,
)

# The SDK warns when history holds an event no task waits for yet (an early event); the Python
# worker only logs it, but pytest's filterwarnings=error would turn it into an orchestrator error.


async def test_event_raised_before_the_wait_is_kept(engine: Engine, app_module: ModuleType) -> None:
    instance_id = await start(engine, "gated_then_wait", "k1")
    await eventually(lambda: _async(lambda: "k1" in app_module.ENTERED), what="activity running")
    await engine.client.raise_event(instance_id, "Go", json.dumps({"early": True}))
    # The event reaches the history while the orchestrator still waits for the activity.
    await eventually(lambda: history_has(engine, instance_id, EventRaised), what="EventRaised")
    assert not await history_has(engine, instance_id, TaskCompleted)
    app_module.gate("k1").set()
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == ["passed k1", {"early": True}]
    events = without_episodes(await history(engine, instance_id))
    assert kinds(events) == [
        "ExecutionStarted",
        "TaskScheduled",
        "EventRaised",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    await queues_drained(engine)


async def test_event_raised_while_waiting(engine: Engine) -> None:
    instance_id = await start(engine, "echo_then_wait", "x")
    await eventually(lambda: history_has(engine, instance_id, TaskCompleted), what="the wait")
    await engine.client.raise_event(instance_id, "Go", json.dumps("later"))
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == ["x", "later"]
    events = without_episodes(await history(engine, instance_id))
    assert kinds(events)[-2:] == ["EventRaised", "ExecutionCompleted"]
    raised = events[-2]
    assert isinstance(raised, EventRaised)
    assert raised.name == "Go" and raised.input == json.dumps("later")
    await queues_drained(engine)


async def test_event_beats_the_timeout(engine: Engine) -> None:
    instance_id = await start(engine, "approval", 3)
    await eventually(lambda: history_has(engine, instance_id, TimerCreated), what="the timer")
    await engine.client.raise_event(instance_id, "Approval", json.dumps("yes"))
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == {"approved": "yes"}
    # The cancelled timer's message still fires later and is dropped by the finished instance.
    await queues_drained(engine, timeout=20)
    events = await history(engine, instance_id)
    assert not any(isinstance(e, TimerFired) for e in events)
    assert kinds(without_episodes(events)) == [
        "ExecutionStarted",
        "TimerCreated",
        "EventRaised",
        "ExecutionCompleted",
    ]


async def test_timeout_beats_the_event(engine: Engine) -> None:
    instance_id = await start(engine, "approval", 1)
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == "timed out"
    events = await history(engine, instance_id)
    assert any(isinstance(e, TimerFired) for e in events)
    assert not any(isinstance(e, EventRaised) for e in events)
    with pytest.raises(InstanceFinishedError, match=instance_id):
        await engine.client.raise_event(instance_id, "Approval", json.dumps("too late"))
    await queues_drained(engine)


async def test_event_raised_during_continue_as_new_is_carried_over(
    engine: Engine, app_module: ModuleType
) -> None:
    instance_id = await start(engine, "carry_event", {"generation": 0, "key": "c1"})
    await eventually(lambda: _async(lambda: "c1" in app_module.ENTERED), what="activity running")
    first = await engine.storage.get_instance(instance_id)
    assert first is not None
    await engine.client.raise_event(instance_id, "Carried", json.dumps("kept"))
    await eventually(lambda: history_has(engine, instance_id, EventRaised), what="EventRaised")
    app_module.gate("c1").set()
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == {"generation": 1, "event": "kept"}
    events = await history(engine, instance_id)
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    assert started.generation == 1
    assert started.orchestration_instance.execution_id != first.execution_id
    assert kinds(without_episodes(events)) == [
        "ExecutionStarted",
        "EventRaised",
        "ExecutionCompleted",
    ]
    await queues_drained(engine)


async def test_duplicate_task_completed_is_dropped(engine: Engine) -> None:
    instance_id = await start(engine, "echo_then_wait", "once")
    await eventually(lambda: history_has(engine, instance_id, TaskCompleted), what="the wait")
    before = await history(engine, instance_id)
    completed = next(e for e in before if isinstance(e, TaskCompleted))
    started = before[1]
    assert isinstance(started, ExecutionStarted)
    execution_id = started.orchestration_instance.execution_id
    await engine.router.send_to_instance(
        OrchestrationInstance(instance_id, execution_id), completed
    )
    await queues_drained(engine)
    assert len(await history(engine, instance_id)) == len(before)

    await engine.client.raise_event(instance_id, "Go", json.dumps("after"))
    status = await finish(engine, instance_id)
    assert output(status) == ["once", "after"]
    events = await history(engine, instance_id)
    assert sum(isinstance(e, TaskCompleted) for e in events) == 1
    await queues_drained(engine)


async def _async(check: object) -> object:
    assert callable(check)
    return check()
