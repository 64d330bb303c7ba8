"""Terminate, suspend/resume, rewind, restart, purge, queries and client errors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from durable_host.engine.client.api import InstanceQuery
from durable_host.engine.runtime import Engine
from durable_host.errors import (
    InstanceAlreadyExistsError,
    InstanceFinishedError,
    InstanceNotFoundError,
    InvalidInstanceIdError,
    InvalidOperationError,
)
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    ExecutionSuspended,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
    TaskCompleted,
    TaskFailed,
)
from tests.engine._helpers import (
    COMPLETED,
    FAILED,
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


async def status_is(engine: Engine, instance_id: str, wanted: OrchestrationStatus) -> bool:
    record = await engine.storage.get_instance(instance_id)
    return record is not None and record.runtime_status == wanted


async def test_terminate_a_waiting_instance(engine: Engine) -> None:
    instance_id = await start(engine, "wait_event", None, instance_id="term")
    await eventually(lambda: history_has(engine, instance_id, OrchestratorCompleted), what="wait")
    await engine.client.terminate(instance_id, "enough")
    status = await finish(engine, instance_id)

    assert status.runtime_status == OrchestrationStatus.Terminated
    assert status.output == "enough"
    events = await history(engine, instance_id)
    assert kinds(without_episodes(events)) == [
        "ExecutionStarted",
        "ExecutionTerminated",
        "ExecutionCompleted",
    ]
    # Later messages are dropped, and the client refuses to send more.
    execution_id = status.execution_id
    await engine.router.send_to_instance(
        OrchestrationInstance(instance_id, execution_id),
        EventRaised(timestamp=events[0].timestamp, name="Go", input='"late"'),
    )
    await queues_drained(engine)
    assert len(await history(engine, instance_id)) == len(events)
    assert await status_is(engine, instance_id, OrchestrationStatus.Terminated)
    with pytest.raises(InstanceFinishedError, match="term"):
        await engine.client.terminate(instance_id, "again")
    with pytest.raises(InstanceFinishedError, match="term"):
        await engine.client.raise_event(instance_id, "Go", None)


async def test_suspend_holds_events_until_resume(engine: Engine) -> None:
    instance_id = await start(engine, "wait_event", None)
    await eventually(lambda: history_has(engine, instance_id, OrchestratorCompleted), what="wait")
    await engine.client.suspend(instance_id, "hold on")
    await eventually(
        lambda: status_is(engine, instance_id, OrchestrationStatus.Suspended), what="Suspended"
    )
    suspended = next(
        e for e in await history(engine, instance_id) if isinstance(e, ExecutionSuspended)
    )
    assert suspended.reason == "hold on"

    await engine.client.raise_event(instance_id, "Go", json.dumps("while suspended"))
    await engine.client.resume(instance_id, "go on")
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == "while suspended"
    assert kinds(without_episodes(await history(engine, instance_id))) == [
        "ExecutionStarted",
        "ExecutionSuspended",
        "ExecutionResumed",
        "EventRaised",
        "ExecutionCompleted",
    ]
    await queues_drained(engine)


async def test_suspended_status_is_visible_before_resume(engine: Engine) -> None:
    instance_id = await start(engine, "wait_event", None)
    await eventually(lambda: history_has(engine, instance_id, OrchestratorCompleted), what="wait")
    await engine.client.suspend(instance_id, None)
    await eventually(
        lambda: status_is(engine, instance_id, OrchestrationStatus.Suspended), what="Suspended"
    )
    await engine.client.resume(instance_id, None)
    await eventually(
        lambda: status_is(engine, instance_id, OrchestrationStatus.Running), what="Running"
    )
    await engine.client.raise_event(instance_id, "Go", json.dumps(1))
    assert output(await finish(engine, instance_id)) == 1


async def test_rewind_a_failed_instance(engine: Engine) -> None:
    instance_id = await start(engine, "flaky_once", {"key": "rw", "failures": 1})
    failed = await finish(engine, instance_id)
    assert failed.runtime_status == FAILED
    assert await history_has(engine, instance_id, TaskFailed)
    await engine.client.rewind(instance_id, "try again")
    await eventually(
        lambda: status_is(engine, instance_id, OrchestrationStatus.Completed),
        what="Completed after rewind",
    )
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == ["before", "ok after 2"]
    events = await history(engine, instance_id)
    # The first activity's result was kept, not re-run.
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    assert [json.loads(e.result or "null") for e in completed] == ["before", "ok after 2"]
    assert sum(isinstance(e, ExecutionStarted) for e in events) == 1
    with pytest.raises(InstanceFinishedError):
        await engine.client.rewind(instance_id, "not failed")
    await queues_drained(engine)


async def test_rewind_refuses_running_and_unknown_instances(engine: Engine) -> None:
    instance_id = await start(engine, "wait_event", None)
    with pytest.raises(InvalidOperationError, match=instance_id):
        await engine.client.rewind(instance_id, None)
    with pytest.raises(InstanceNotFoundError, match="nobody"):
        await engine.client.rewind("nobody", None)


async def test_start_refuses_a_blank_or_too_long_id(engine: Engine) -> None:
    """The check the HTTP API makes too (taskhub/instance_ids.py): nothing is sent or written."""
    for instance_id in (" ", "x" * 257):
        with pytest.raises(InvalidInstanceIdError):
            await engine.client.start_new("chain", instance_id, None)
        assert await engine.storage.get_instance(instance_id) is None
    await queues_drained(engine)


async def test_restart_with_a_new_and_the_same_instance_id(engine: Engine) -> None:
    instance_id = await start(engine, "chain", 5, instance_id="rs")
    first = await finish(engine, instance_id)
    first_events = await history(engine, instance_id)
    assert output(first) == 40

    new_id = await engine.client.restart(instance_id, new_instance_id=True)
    assert new_id != instance_id
    again = await finish(engine, new_id)
    assert again.runtime_status == COMPLETED and output(again) == 40
    assert again.input == first.input

    same_id = await engine.client.restart(instance_id, new_instance_id=False)
    assert same_id == instance_id
    rerun = await finish(engine, instance_id)
    assert rerun.runtime_status == COMPLETED and output(rerun) == 40
    assert rerun.execution_id != first.execution_id
    events = await history(engine, instance_id)
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    assert started.orchestration_instance.execution_id == rerun.execution_id
    assert len(events) == len(first_events)  # only the new execution's rows are read
    record = await engine.storage.get_instance(instance_id)
    assert record is not None and record.generation == 1
    await queues_drained(engine)


async def test_start_new_refuses_a_running_instance_id(engine: Engine) -> None:
    instance_id = await start(engine, "wait_event", None, instance_id="busy")
    with pytest.raises(InstanceAlreadyExistsError, match="busy") as started:
        await start(engine, "wait_event", None, instance_id=instance_id)
    assert started.value.status in ("Pending", "Running")
    with pytest.raises(InstanceAlreadyExistsError, match="busy"):
        await engine.client.restart(instance_id, new_instance_id=False)


async def test_purge_deletes_history_and_instance_row(engine: Engine) -> None:
    instance_id = await start(engine, "big_roundtrip", "x" * 100_000, instance_id="pg")
    await finish(engine, instance_id)
    assert await history(engine, instance_id)

    assert await engine.client.purge(instance_id) == 1
    assert await engine.storage.get_instance(instance_id) is None
    assert await engine.client.get_status(instance_id) is None
    assert await history(engine, instance_id) == []
    assert await engine.client.purge(instance_id) == 0


async def test_get_status_with_history(engine: Engine) -> None:
    instance_id = await start(engine, "chain", 1)
    await finish(engine, instance_id)
    status = await engine.client.get_status(instance_id, show_history=True)
    assert status is not None
    assert status.history == await history(engine, instance_id)
    assert status.input is not None and json.loads(json.loads(status.input)) == 1
    hidden = await engine.client.get_status(instance_id, show_input=False)
    assert hidden is not None and hidden.input is None and hidden.history is None


async def test_list_with_filters_and_paging(engine: Engine) -> None:
    ids = [await start(engine, "chain", i, instance_id=f"lst-{i}") for i in range(5)]
    failed_id = await start(engine, "fails", None, instance_id="other-1")
    waiting_id = await start(engine, "wait_event", None, instance_id="other-2")
    for instance_id in [*ids, failed_id]:
        await finish(engine, instance_id)
    await eventually(
        lambda: status_is(engine, waiting_id, OrchestrationStatus.Running), what="Running"
    )

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = await engine.client.list_instances(
            InstanceQuery(runtime_status=frozenset({COMPLETED})), top=2, continuation_token=token
        )
        pages += 1
        assert len(page.instances) <= 2
        seen.extend(s.instance_id for s in page.instances)
        token = page.continuation_token
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    assert pages >= 3

    async def listed(query: InstanceQuery) -> list[str]:
        page = await engine.client.list_instances(query, top=100)
        assert page.continuation_token is None
        return sorted(s.instance_id for s in page.instances)

    assert await listed(InstanceQuery(instance_id_prefix="lst-")) == sorted(ids)
    assert await listed(InstanceQuery(instance_id_prefix="other-")) == [failed_id, waiting_id]
    assert await listed(InstanceQuery(runtime_status=frozenset({FAILED}))) == [failed_id]
    assert await listed(
        InstanceQuery(runtime_status=frozenset({OrchestrationStatus.Running, FAILED}))
    ) == [failed_id, waiting_id]
    waiting = await engine.client.get_status(waiting_id)
    assert waiting is not None
    # Azurite compares datetimes in whole milliseconds.
    after = waiting.created_time + timedelta(milliseconds=1)
    assert waiting_id not in await listed(InstanceQuery(created_time_from=after))
    assert await listed(InstanceQuery(created_time_to=after - timedelta(days=1))) == []
    assert len(await listed(InstanceQuery())) == 7

    purged = await engine.client.purge_by(
        InstanceQuery(instance_id_prefix="lst-", runtime_status=frozenset({COMPLETED}))
    )
    assert purged == 5
    assert await listed(InstanceQuery()) == [failed_id, waiting_id]


async def test_operations_on_unknown_and_finished_instances(engine: Engine) -> None:
    for operation in (
        engine.client.raise_event("ghost", "Go", None),
        engine.client.terminate("ghost", None),
        engine.client.suspend("ghost", None),
        engine.client.resume("ghost", None),
    ):
        with pytest.raises(InstanceNotFoundError, match="ghost"):
            await operation
    with pytest.raises(InstanceNotFoundError, match="ghost"):
        await engine.client.restart("ghost")

    instance_id = await start(engine, "chain", 1, instance_id="done")
    await finish(engine, instance_id)
    for operation in (
        engine.client.raise_event(instance_id, "Go", None),
        engine.client.terminate(instance_id, None),
        engine.client.suspend(instance_id, None),
        engine.client.resume(instance_id, None),
    ):
        with pytest.raises(InstanceFinishedError, match="done"):
            await operation
    assert await engine.client.get_status("ghost") is None
    assert await engine.client.wait_for_completion("ghost", timeout=1) is None
