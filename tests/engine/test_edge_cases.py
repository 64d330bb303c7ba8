"""Duplicates, ordering, scheduled starts, concurrency and termination edge cases."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
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
    stored_input,
    without_episodes,
)


async def test_duplicate_execution_started_is_dropped(engine: Engine) -> None:
    instance_id = await start(engine, "chain", 2)
    await finish(engine, instance_id)
    events = await history(engine, instance_id)
    started = next(e for e in events if isinstance(e, ExecutionStarted))

    engine.orchestrations._sessions.clear()  # judged from storage, not memory
    await engine.router.send_to_instance(started.orchestration_instance, started)
    await queues_drained(engine)
    assert await history(engine, instance_id) == events
    record = await engine.storage.get_instance(instance_id)
    assert record is not None and record.runtime_status == COMPLETED


async def test_message_for_a_previous_execution_is_dropped(engine: Engine) -> None:
    instance_id = await start(engine, "echo_then_wait", "a", instance_id="prev")
    await eventually(lambda: history_has(engine, instance_id, TaskCompleted), what="the wait")
    await engine.client.raise_event(instance_id, "Go", json.dumps("first"))
    old = await finish(engine, instance_id)
    assert old.execution_id is not None

    await engine.client.restart(instance_id, new_instance_id=False)
    await eventually(lambda: history_has(engine, instance_id, TaskCompleted), what="the new wait")
    # A late event addressed to the old execution must not reach the new one.
    await engine.router.send_to_instance(
        OrchestrationInstance(instance_id, old.execution_id),
        EventRaised(timestamp=engine.clock.now(), name="Go", input=json.dumps("stale")),
    )
    await queues_drained(engine)
    running = await engine.client.get_status(instance_id)
    assert running is not None and running.runtime_status == OrchestrationStatus.Running
    assert not await history_has(engine, instance_id, EventRaised)

    await engine.client.raise_event(instance_id, "Go", json.dumps("second"))
    status = await finish(engine, instance_id)
    assert output(status) == ["a", "second"]
    assert status.execution_id != old.execution_id


async def test_terminating_a_suspended_instance(engine: Engine) -> None:
    instance_id = await start(engine, "wait_event", None)
    await eventually(lambda: history_has(engine, instance_id, OrchestratorCompleted), what="wait")
    await engine.client.suspend(instance_id, None)

    async def suspended() -> bool:
        record = await engine.storage.get_instance(instance_id)
        return record is not None and record.runtime_status == OrchestrationStatus.Suspended

    await eventually(suspended, what="Suspended")
    await engine.client.terminate(instance_id, "stop it")
    status = await finish(engine, instance_id)
    assert status.runtime_status == OrchestrationStatus.Terminated
    assert status.output == "stop it"
    await queues_drained(engine)


async def test_terminated_child_fails_the_parents_task(engine: Engine) -> None:
    instance_id = await start(engine, "parent_of_waiter", None, instance_id="pw")
    child_id = "pw:w"

    async def child_waiting() -> bool:
        # A sub-orchestration's Instances row is first written by its own first checkpoint,
        # after its history: terminate needs the row, so wait for both.
        if not await history_has(engine, child_id, OrchestratorCompleted):
            return False
        row = await engine.client.get_status(child_id)
        return row is not None and row.runtime_status == OrchestrationStatus.Running

    await eventually(child_waiting, what="the child's wait")
    await engine.client.terminate(child_id, "killed")
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status).startswith("child ended: ")
    assert "killed" in output(status)
    failed = [
        e
        for e in await history(engine, instance_id)
        if isinstance(e, SubOrchestrationInstanceFailed)
    ]
    assert len(failed) == 1
    child = await engine.client.get_status(child_id)
    assert child is not None and child.runtime_status == OrchestrationStatus.Terminated
    await queues_drained(engine)


async def test_scheduled_start_waits_for_its_time(engine: Engine) -> None:
    start_at = engine.clock.now() + timedelta(seconds=2)
    instance_id = await engine.client.start_new(
        "chain", "later", stored_input(1), scheduled_start_time=start_at
    )
    pending = await engine.client.get_status(instance_id)
    assert pending is not None and pending.runtime_status == OrchestrationStatus.Pending
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED and output(status) == 8
    events = await history(engine, instance_id)
    first_episode = events[0]
    assert isinstance(first_episode, OrchestratorStarted)
    assert first_episode.timestamp >= start_at
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    assert started.scheduled_start_time == start_at
    await queues_drained(engine)


async def test_same_named_events_are_delivered_in_order(engine: Engine) -> None:
    instance_id = await start(engine, "two_events", None)
    await engine.client.raise_event(instance_id, "X", json.dumps(1))
    await engine.client.raise_event(instance_id, "X", json.dumps(2))
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == [1, 2]
    assert kinds(without_episodes(await history(engine, instance_id))) == [
        "ExecutionStarted",
        "EventRaised",
        "EventRaised",
        "ExecutionCompleted",
    ]
    await queues_drained(engine)


async def test_thirty_concurrent_instances(engine: Engine) -> None:
    ids = await asyncio.gather(*(start(engine, "chain", i) for i in range(30)))
    statuses = await asyncio.gather(*(finish(engine, i, timeout=60) for i in ids))

    assert [output(s) for s in statuses] == [8 * i for i in range(30)]
    assert {s.runtime_status for s in statuses} == {COMPLETED}
    await queues_drained(engine)


async def test_single_episode_instances_are_not_reset_to_pending(engine: Engine) -> None:
    # Each completes in its first episode, racing the client's Pending row write.
    ids = await asyncio.gather(*(start(engine, "counter", {"n": i, "until": 0}) for i in range(20)))
    statuses = await asyncio.gather(*(finish(engine, i) for i in ids))
    assert [output(s) for s in statuses] == list(range(20))
    for instance_id in ids:
        record = await engine.storage.get_instance(instance_id)
        assert record is not None and record.runtime_status == COMPLETED


async def test_custom_status_and_null_output(engine: Engine) -> None:
    instance_id = await start(engine, "status_steps", None)
    status = await finish(engine, instance_id)
    assert status.custom_status is not None
    assert json.loads(status.custom_status) == {"step": 2}
    assert json.loads(output(status)) == {"done": True}

    waiter = await start(engine, "wait_event", None)
    await eventually(lambda: history_has(engine, waiter, OrchestratorCompleted), what="wait")
    await engine.client.raise_event(waiter, "Go", None)
    done = await finish(engine, waiter)
    assert done.runtime_status == COMPLETED
    assert done.output == "null"
