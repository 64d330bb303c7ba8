"""Sub-orchestrations (explicit and generated ids), failures propagating, continue-as-new."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import (
    ExecutionStarted,
    OrchestrationInstance,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
)
from tests.engine._helpers import (
    COMPLETED,
    FAILED,
    finish,
    history,
    kinds,
    output,
    queues_drained,
    raw_rows,
    start,
    without_episodes,
)


async def test_sub_orchestrations_with_explicit_and_generated_ids(engine: Engine) -> None:
    instance_id = await start(engine, "parent", "ok", instance_id="p1")
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == [8, 16]
    events = await history(engine, instance_id)
    created = [e for e in events if isinstance(e, SubOrchestrationInstanceCreated)]
    assert [(e.event_id, e.name) for e in created] == [(0, "chain"), (1, "chain")]
    assert created[0].instance_id == "p1-child"
    generated = created[1].instance_id
    assert generated and generated not in ("p1", "p1-child")
    results = [e for e in events if isinstance(e, SubOrchestrationInstanceCompleted)]
    assert [(e.task_scheduled_id, e.result) for e in results] == [(0, "8"), (1, "16")]

    parent_execution = next(e for e in events if isinstance(e, ExecutionStarted))
    for child_id, expected in (("p1-child", 8), (generated, 16)):
        child = await finish(engine, child_id)
        assert child.runtime_status == COMPLETED
        assert output(child) == expected
        child_events = await history(engine, child_id)
        started = next(e for e in child_events if isinstance(e, ExecutionStarted))
        assert started.parent_instance is not None
        assert started.parent_instance.orchestration_instance.instance_id == "p1"
        assert started.parent_instance.orchestration_instance.execution_id == (
            parent_execution.orchestration_instance.execution_id
        )
        assert started.parent_instance.task_schedule_id == (0 if child_id == "p1-child" else 1)
    await queues_drained(engine)


async def test_a_repeated_start_of_a_completed_child_from_the_same_call_is_dropped(
    engine: Engine,
) -> None:
    """A parent that redoes a lost checkpoint sends its child's start again, with a new
    execution id (each run of the episode picks one). Arriving after the child completed
    (the first start was delivered locally by a host that died, and came back when its
    visibility ran out), it must not run the child again over its answered history."""
    instance_id = await start(engine, "parent", "ok", instance_id="p-redo")
    await finish(engine, instance_id)
    child_before = await history(engine, "p-redo-child")
    started = next(e for e in child_before if isinstance(e, ExecutionStarted))
    repeated = replace(
        started,
        orchestration_instance=OrchestrationInstance("p-redo-child", "a-redone-episodes-id"),
        timestamp=datetime.now(timezone.utc),
    )
    await engine.router.send_to_instance(repeated.orchestration_instance, repeated)
    await queues_drained(engine)

    child = await finish(engine, "p-redo-child")
    assert child.runtime_status == COMPLETED
    assert child.execution_id == started.orchestration_instance.execution_id
    assert await history(engine, "p-redo-child") == child_before


async def test_sub_orchestration_failure_is_catchable(engine: Engine) -> None:
    instance_id = await start(engine, "parent", "fail")
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status).startswith("child failed: ")
    assert "orchestrator broke" in output(status)
    failed = [
        e
        for e in await history(engine, instance_id)
        if isinstance(e, SubOrchestrationInstanceFailed)
    ]
    assert len(failed) == 1 and failed[0].task_scheduled_id == 0
    await queues_drained(engine)


async def test_uncaught_sub_orchestration_failure_fails_the_parent(engine: Engine) -> None:
    instance_id = await start(engine, "parent_uncaught", None, instance_id="pu")
    status = await finish(engine, instance_id)

    assert status.runtime_status == FAILED
    assert status.output is not None and "orchestrator broke" in status.output
    child = await finish(engine, "pu:child")
    assert child.runtime_status == FAILED
    assert kinds(without_episodes(await history(engine, instance_id))) == [
        "ExecutionStarted",
        "SubOrchestrationInstanceCreated",
        "SubOrchestrationInstanceFailed",
        "ExecutionCompleted",
    ]
    await queues_drained(engine)


async def test_continue_as_new_over_ten_generations(
    engine: Engine, azurite: str, hub_name: str
) -> None:
    instance_id = await start(engine, "counter", {"n": 0, "until": 10}, instance_id="ctr")
    first = await engine.storage.get_instance(instance_id)
    assert first is not None
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == 10
    events = await history(engine, instance_id)
    # Only the last generation's history is stored, from row 0.
    assert kinds(events) == [
        "OrchestratorStarted",
        "ExecutionStarted",
        "ExecutionCompleted",
        "OrchestratorCompleted",
    ]
    started = events[1]
    assert isinstance(started, ExecutionStarted)
    assert started.generation == 10
    assert started.input is not None
    assert json.loads(json.loads(started.input)) == {"n": 10, "until": 10}
    assert not any(isinstance(e, TaskCompleted) for e in events)
    execution_id = started.orchestration_instance.execution_id
    assert execution_id != first.execution_id

    rows = await raw_rows(azurite, f"{hub_name}History", instance_id)
    assert sorted(r["RowKey"] for r in rows) == [f"{i:016X}" for i in range(4)] + ["sentinel"]
    assert {r["ExecutionId"] for r in rows} == {execution_id}
    record = await engine.storage.get_instance(instance_id)
    assert record is not None
    assert record.execution_id == execution_id
    assert record.generation == 10
    assert record.runtime_status == COMPLETED
    assert record.output == "10"
    assert record.input is not None
    assert json.loads(json.loads(record.input)) == {"n": 10, "until": 10}
    await queues_drained(engine)
