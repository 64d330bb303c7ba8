"""Chaining, fan-out, failures, timers, large and unicode payloads on Azurite with the real SDK."""

from __future__ import annotations

import json

import pytest

from durable_host.engine.runtime import Engine
from durable_host.errors import FunctionNotFoundError
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from durable_host.taskhub.key_escaping import escape_partition_key
from tests.engine._helpers import (
    COMPLETED,
    FAILED,
    blob_names,
    finish,
    history,
    kinds,
    output,
    queues_drained,
    raw_rows,
    start,
    without_episodes,
)


async def test_chaining_writes_the_history_rows_and_instance_row(
    engine: Engine, azurite: str, hub_name: str
) -> None:
    instance_id = await start(engine, "chain", 3, instance_id="chain-1")
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == 24
    events = await history(engine, instance_id)
    assert isinstance(events[0], OrchestratorStarted)
    assert isinstance(events[-1], OrchestratorCompleted)
    assert kinds(without_episodes(events)) == [
        "ExecutionStarted",
        "TaskScheduled",
        "TaskCompleted",
        "TaskScheduled",
        "TaskCompleted",
        "TaskScheduled",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    scheduled = [e for e in events if isinstance(e, TaskScheduled)]
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    assert [e.event_id for e in scheduled] == [0, 1, 2]
    assert [e.name for e in scheduled] == ["double"] * 3
    assert [e.task_scheduled_id for e in completed] == [0, 1, 2]
    assert [e.result for e in completed] == ["6", "12", "24"]
    done = events[-2]
    assert isinstance(done, ExecutionCompleted)
    assert done.orchestration_status == COMPLETED
    assert done.result == "24"

    record = await engine.storage.get_instance(instance_id)
    assert record is not None
    assert record.runtime_status == COMPLETED
    assert record.output == "24"
    assert record.name == "chain"
    assert record.created_time is not None and record.completed_time is not None
    assert record.created_time <= record.completed_time
    assert record.last_updated_time == record.completed_time

    # The raw rows: one per event, RowKeys 0..n-1 in hex, plus the sentinel, one ExecutionId.
    rows = await raw_rows(azurite, f"{hub_name}History", "chain-1")
    row_keys = sorted(r["RowKey"] for r in rows)
    assert row_keys == [f"{i:016X}" for i in range(len(events))] + ["sentinel"]
    assert {r["ExecutionId"] for r in rows} == {record.execution_id}
    instance_rows = await raw_rows(azurite, f"{hub_name}Instances", "chain-1")
    assert [r["RuntimeStatus"] for r in instance_rows] == ["Completed"]
    assert instance_rows[0]["Output"] == "24"
    await queues_drained(engine)


async def test_fan_out_of_200(engine: Engine) -> None:
    instance_id = await start(engine, "fan_out", 200)
    status = await finish(engine, instance_id, timeout=60)

    assert status.runtime_status == COMPLETED
    assert output(status) == sum(2 * i for i in range(200))
    events = await history(engine, instance_id)
    scheduled = [e for e in events if isinstance(e, TaskScheduled)]
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    assert sorted(e.event_id for e in scheduled) == list(range(200))
    assert sorted(e.task_scheduled_id for e in completed) == list(range(200))
    assert {e.task_scheduled_id: e.result for e in completed} == {i: str(2 * i) for i in range(200)}
    assert sum(isinstance(e, ExecutionCompleted) for e in events) == 1
    await queues_drained(engine)


async def test_activity_that_raises_is_a_task_failed_the_orchestrator_can_catch(
    engine: Engine,
) -> None:
    instance_id = await start(engine, "catches")
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status).startswith("caught: Activity function 'boom' failed: ")
    failed = [e for e in await history(engine, instance_id) if isinstance(e, TaskFailed)]
    assert len(failed) == 1
    assert failed[0].task_scheduled_id == 0
    assert failed[0].reason is not None
    assert failed[0].reason.startswith("Activity function 'boom' failed: ")
    assert "kaput" in failed[0].reason
    assert failed[0].failure_details is not None
    assert failed[0].failure_details.error_type == "ValueError"
    await queues_drained(engine)


async def test_orchestrator_that_raises_fails_with_its_message(engine: Engine) -> None:
    instance_id = await start(engine, "fails")
    status = await finish(engine, instance_id)

    assert status.runtime_status == FAILED
    assert status.output is not None
    assert "Orchestrator function 'fails' failed" in status.output
    assert "orchestrator broke" in status.output
    events = await history(engine, instance_id)
    done = [e for e in events if isinstance(e, ExecutionCompleted)]
    assert len(done) == 1
    assert done[0].orchestration_status == FAILED
    assert done[0].failure_details is not None
    assert "orchestrator broke" in done[0].failure_details.error_message
    record = await engine.storage.get_instance(instance_id)
    assert record is not None and record.runtime_status == FAILED
    await queues_drained(engine)


async def test_call_to_an_unknown_activity_fails_the_orchestration(engine: Engine) -> None:
    instance_id = await start(engine, "calls_unknown")
    status = await finish(engine, instance_id)

    assert status.runtime_status == FAILED
    assert status.output is not None
    assert "no_such_activity" in status.output
    assert "doesn't exist" in status.output
    assert f"the task hub '{engine.names.hub}'" in status.output
    # Nothing was scheduled for the missing function.
    events = await history(engine, instance_id)
    assert not any(isinstance(e, TaskScheduled) for e in events)
    await queues_drained(engine)


async def test_start_of_an_unknown_orchestrator_is_refused(engine: Engine) -> None:
    with pytest.raises(FunctionNotFoundError, match="no_such_orchestrator"):
        await engine.client.start_new("no_such_orchestrator", "x", None)
    assert await engine.storage.get_instance("x") is None
    lengths = await engine.storage.queue_lengths()
    assert not any(lengths.values())


async def test_short_timer_fires_after_its_time(engine: Engine) -> None:
    instance_id = await start(engine, "timer", 1)
    status = await finish(engine, instance_id)

    assert status.runtime_status == COMPLETED
    assert output(status) == "fired"
    events = await history(engine, instance_id)
    created = [e for e in events if isinstance(e, TimerCreated)]
    fired = [e for e in events if isinstance(e, TimerFired)]
    assert len(created) == 1 and len(fired) == 1
    assert fired[0].timer_id == created[0].event_id == 0
    assert fired[0].fire_at == created[0].fire_at
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    assert (created[0].fire_at - started.timestamp).total_seconds() == pytest.approx(1, abs=0.2)
    # The episode that saw TimerFired started no earlier than the timer was due.
    fired_index = events.index(fired[0])
    episode_start = events[fired_index - 1]
    assert isinstance(episode_start, OrchestratorStarted)
    assert episode_start.timestamp >= created[0].fire_at
    await queues_drained(engine)


async def test_one_megabyte_input_and_output_go_through_blobs(
    engine: Engine, azurite: str, hub_name: str
) -> None:
    payload = "ü€" * (512 * 1024)  # 1 Mi characters, ~2.5 MB of UTF-8
    instance_id = await start(engine, "big_roundtrip", payload)
    status = await finish(engine, instance_id, timeout=60)

    assert status.runtime_status == COMPLETED
    assert output(status) == payload
    record = await engine.storage.get_instance(instance_id)
    assert record is not None
    assert record.input is not None and json.loads(json.loads(record.input)) == payload
    events = await history(engine, instance_id)
    completed = next(e for e in events if isinstance(e, TaskCompleted))
    assert completed.result is not None and json.loads(completed.result) == payload
    scheduled = next(e for e in events if isinstance(e, TaskScheduled))
    # Input is a one-element array of the SDK's JSON text, as the extension schedules it.
    assert scheduled.input is not None
    assert [json.loads(text) for text in json.loads(scheduled.input)] == [payload]
    # The table rows hold blob references, not the payloads.
    rows = await raw_rows(azurite, f"{hub_name}History", instance_id)
    assert all(len(str(v)) < 64 * 1024 for row in rows for v in row.values())
    assert any(k.endswith("BlobName") for row in rows for k in row)
    blobs = await blob_names(azurite, f"{hub_name}-largemessages")
    assert blobs, "large payloads should be stored in the largemessages container"
    assert any(escape_partition_key(instance_id) in name or instance_id in name for name in blobs)
    await queues_drained(engine)


UNICODE_IDS = ["a/b\\c#d?e", "ünïcödé-实例-🚀", "sp ace'quote\"", "%2F+&=;"]


@pytest.mark.parametrize("instance_id", UNICODE_IDS)
async def test_unicode_instance_ids_and_payloads(engine: Engine, instance_id: str) -> None:
    value = {"text": "héllo wörld 你好 🎉", "quote": "\"'\\", "nul-ish": "\u0001"}
    await start(engine, "big_roundtrip", value, instance_id=instance_id)
    status = await finish(engine, instance_id)

    assert status.instance_id == instance_id
    assert status.runtime_status == COMPLETED
    assert output(status) == value
    events = await history(engine, instance_id)
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    assert started.orchestration_instance.instance_id == instance_id
    completed = next(e for e in events if isinstance(e, TaskCompleted))
    assert completed.result is not None and json.loads(completed.result) == value
    assert status.runtime_status == OrchestrationStatus.Completed
    await queues_drained(engine)
