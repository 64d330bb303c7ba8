"""Orchestration patterns of a 2.x-style app, run through the protobuf protocol in process."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from durable_host.engine.runtime import Engine
from durable_host.functions import DurableProtocol, FunctionIndex
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    OrchestrationStatus,
    SubOrchestrationInstanceCreated,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from tests.engine._helpers import eventually, finish, history, kinds, without_episodes


async def run(engine: Engine, name: str, value: Any = None, instance_id: str | None = None) -> Any:
    """Start `name` with `value` (JSON, as the 2.x client stores it) and wait for its end."""
    started = await engine.client.start_new(name, instance_id, json.dumps(value))
    return await finish(engine, started)


def test_the_app_is_indexed_as_protobuf(app_index: FunctionIndex) -> None:
    assert app_index.get_orchestrator("hello_chain").protocol is DurableProtocol.PROTOBUF
    assert app_index.get_activity("say_hello").protocol is DurableProtocol.PROTOBUF


async def test_chaining(engine: Engine) -> None:
    status = await run(engine, "hello_chain", None, "chain-1")
    assert status.runtime_status is OrchestrationStatus.Completed, status
    assert json.loads(status.output or "") == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    events = without_episodes(await history(engine, "chain-1"))
    assert kinds(events) == [
        "ExecutionStarted",
        *["TaskScheduled", "TaskCompleted"] * 3,
        "ExecutionCompleted",
    ]
    scheduled = [e for e in events if isinstance(e, TaskScheduled)]
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    # The protobuf protocol stores the activity's input as is (no one-element array).
    assert [e.input for e in scheduled] == ['"Tokyo"', '"Seattle"', '"London"']
    assert [c.task_scheduled_id for c in completed] == [s.event_id for s in scheduled]
    assert isinstance(events[0], ExecutionStarted)


def out(status: Any) -> Any:
    assert status.runtime_status is OrchestrationStatus.Completed, status
    return json.loads(status.output or "null")


async def test_fan_out_fan_in(engine: Engine) -> None:
    assert out(await run(engine, "fan_out", 20)) == sum(i * i for i in range(20))


async def test_sub_orchestrations(engine: Engine) -> None:
    status = await run(engine, "parent", [3, 4], "parent-1")
    assert out(status) == [0 + 1 + 4, 0 + 1 + 4 + 9]
    child = await engine.client.get_status("parent-1-child-4")
    assert child is not None and child.runtime_status is OrchestrationStatus.Completed
    created = [
        e
        for e in await history(engine, "parent-1")
        if isinstance(e, SubOrchestrationInstanceCreated)
    ]
    assert sorted(e.instance_id for e in created) == ["parent-1-child-3", "parent-1-child-4"]


async def test_a_durable_timer_fires(engine: Engine) -> None:
    status = await run(engine, "timer", 1, "timer-1")
    assert out(status)
    created = [e for e in await history(engine, "timer-1") if isinstance(e, TimerCreated)]
    fired = [e for e in await history(engine, "timer-1") if isinstance(e, TimerFired)]
    assert len(created) == 1 and [f.timer_id for f in fired] == [created[0].event_id]


async def test_an_external_event_wins_the_race_with_the_timer(engine: Engine) -> None:
    await engine.client.start_new("approval", "approval-1", json.dumps(60))

    async def waiting() -> bool:
        status = await engine.client.get_status("approval-1")
        return status is not None and status.custom_status == '{"stage": "waiting"}'

    await eventually(waiting, what="the custom status 'waiting'")
    await engine.client.raise_event("approval-1", "approve", json.dumps("yes"))
    status = await finish(engine, "approval-1")
    assert out(status) == {"approved": "yes"}
    assert status.custom_status == '{"stage": "approved"}'


async def test_the_timer_wins_when_no_event_comes(engine: Engine) -> None:
    status = await run(engine, "approval", 1)
    assert out(status) == {"approved": None}
    assert status.custom_status == '{"stage": "timed out"}'


async def test_retries_run_the_activity_again_after_a_timer(
    engine: Engine, app_module: ModuleType
) -> None:
    app_module.FLAKY_FAILURES["k1"] = 2
    status = await run(engine, "retried", "k1", "retried-1")
    assert out(status) == "k1 ok"
    events = await history(engine, "retried-1")
    assert len([e for e in events if isinstance(e, TaskFailed)]) == 2
    assert len([e for e in events if isinstance(e, TimerFired)]) == 2


async def test_retries_give_up_after_the_last_attempt(
    engine: Engine, app_module: ModuleType
) -> None:
    app_module.FLAKY_FAILURES["k2"] = 5
    status = await run(engine, "retried", "k2")
    assert status.runtime_status is OrchestrationStatus.Failed
    assert "flaky k2 failed" in (status.output or "")


async def test_continue_as_new_starts_a_new_execution(engine: Engine) -> None:
    status = await run(engine, "counter_loop", {"n": 0, "until": 3}, "loop-1")
    assert out(status) == 3
    events = await history(engine, "loop-1")
    started = [e for e in events if isinstance(e, ExecutionStarted)]
    assert len(started) == 1 and json.loads(started[0].input or "") == {"n": 3, "until": 3}


async def test_an_orchestrator_error_fails_the_instance_as_in_1x(engine: Engine) -> None:
    status = await run(engine, "failing", "kaput", "failing-1")
    assert status.runtime_status is OrchestrationStatus.Failed
    # durabletask names the exception's type with its module, as it sends it.
    assert status.output == "Orchestrator function 'failing' failed: builtins.ValueError: kaput"
    completed = [e for e in await history(engine, "failing-1") if isinstance(e, ExecutionCompleted)]
    details = completed[0].failure_details
    assert details is not None and details.error_type == "builtins.ValueError"


async def test_large_payloads_go_through_blobs(engine: Engine) -> None:
    size = 200_000
    status = await run(engine, "large_payloads", size, "large-1")
    assert out(status) == {"length": size, "tail": "xxx"}
