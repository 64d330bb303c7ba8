"""Durable entities on the engine: real SDK, real Azurite (tests/apps/entities)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from durable_host.engine.dispatch.entity_state import SchedulerState
from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionInvoker, load_app
from durable_host.taskhub.events import (
    ExecutionStarted,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
)
from durable_host.taskhub.key_escaping import escape_partition_key
from tests.engine._helpers import (
    ENTITY_APP_DIR,
    eventually,
    finish,
    running_engine,
    settings,
    start,
)

APP_DIR = ENTITY_APP_DIR


def op_input(value: Any) -> str:
    """An operation input as the extension stores it (JSON text of JSON text)."""
    return json.dumps(json.dumps(value))


@pytest.fixture
async def engine(azurite: str, hub_name: str) -> AsyncIterator[Engine]:
    async with running_engine(azurite, hub_name, APP_DIR) as eng:
        yield eng


async def state_of(engine: Engine, key: str) -> Any:
    entity = await engine.client.read_entity("counter", key)
    return None if entity is None else json.loads(entity.state or "null")


async def wait_state(engine: Engine, key: str, expected: Any, timeout: float = 30) -> None:
    async def reached() -> bool:
        return bool(await state_of(engine, key) == expected)

    await eventually(reached, timeout=timeout, what=f"counter {key} == {expected!r}")


async def test_signal_creates_the_entity_and_adds(engine: Engine) -> None:
    assert await engine.client.read_entity("counter", "k1") is None
    await engine.client.signal_entity("counter", "k1", "add", op_input(5))
    await engine.client.signal_entity("Counter", "k1", "add", op_input(2))
    await wait_state(engine, "k1", 7)
    listed = await engine.client.list_entities("counter", fetch_state=True)
    assert [(e.name, e.key, e.state) for e in listed.entities] == [("counter", "k1", "7")]


async def test_thousand_signals_from_ten_senders_apply_exactly_once(engine: Engine) -> None:
    async def sender(first: int) -> None:
        for i in range(first, first + 100):
            await engine.client.signal_entity("counter", "hot", "add", op_input(i))

    await asyncio.gather(*(sender(n * 100) for n in range(10)))
    expected = sum(range(1000))  # distinct amounts: a lost or doubled op changes the sum
    await wait_state(engine, "hot", expected, timeout=60)
    assert engine.entities.operations_run == 1000
    # Batches, not one invocation per operation.
    assert engine.entities.batches_run < 1000


async def test_a_batch_counted_as_run_is_already_in_the_entitys_row(engine: Engine) -> None:
    """Clients read an entity's state from its Instances row, so the checkpoint writes the row
    before the batch ends (an orchestration's row is written in the background)."""
    await asyncio.gather(
        *(engine.client.signal_entity("counter", "read", "add", op_input(1)) for _ in range(300))
    )

    # Looked at every millisecond, so the row is read right after the last batch is counted.
    deadline = time.monotonic() + 60
    while engine.entities.operations_run < 300:
        assert time.monotonic() < deadline, "timed out waiting for 300 operations to run"
        await asyncio.sleep(0.001)
    assert await state_of(engine, "read") == 300


async def test_twenty_concurrent_callers_each_get_a_distinct_result(engine: Engine) -> None:
    ids = await asyncio.gather(
        *(
            start(engine, "call_counter", {"key": "shared", "op": "add", "value": 1})
            for _ in range(20)
        )
    )
    outputs = [json.loads((await finish(engine, i)).output or "null") for i in ids]
    assert sorted(o["result"] for o in outputs) == list(range(1, 21))
    assert await state_of(engine, "shared") == 20


async def test_calls_from_one_orchestration_are_answered_in_order(engine: Engine) -> None:
    await engine.client.signal_entity("counter", "seq", "add", op_input(10))
    instance = await start(engine, "call_twice", "seq")
    status = await finish(engine, instance)
    assert status.runtime_status == OrchestrationStatus.Completed
    assert json.loads(status.output or "null") == [11, 11]


async def test_failing_operation_reports_to_the_caller_and_the_entity_goes_on(
    engine: Engine,
) -> None:
    await engine.client.signal_entity("counter", "err", "add", op_input(3))
    await wait_state(engine, "err", 3)
    refused = await start(engine, "call_counter", {"key": "err", "op": "raise", "value": "no"})
    status = await finish(engine, refused)
    assert status.runtime_status == OrchestrationStatus.Completed
    assert json.loads(status.output or "null") == {"error": "counter refused: no"}
    assert await state_of(engine, "err") == 3  # raised before changing anything

    # A change made before the exception is kept, as in the SDK and the extension.
    partial = await start(
        engine, "call_counter", {"key": "err", "op": "add_then_raise", "value": 4}
    )
    status = await finish(engine, partial)
    assert json.loads(status.output or "null") == {"error": "added, then failed"}
    assert await state_of(engine, "err") == 7

    # A failing signal has no caller; later operations still run.
    await engine.client.signal_entity("counter", "err", "raise", op_input("signal"))
    await engine.client.signal_entity("counter", "err", "add", op_input(1))
    await wait_state(engine, "err", 8)


async def test_delete_then_recreate(engine: Engine) -> None:
    await engine.client.signal_entity("counter", "gone", "add", op_input(5))
    await engine.client.signal_entity("counter", "stays", "add", op_input(1))
    await wait_state(engine, "gone", 5)
    await wait_state(engine, "stays", 1)
    await engine.client.signal_entity("counter", "gone", "delete")

    async def deleted() -> bool:
        return await engine.client.read_entity("counter", "gone") is None

    await eventually(deleted, what="entity deleted")
    listed = await engine.client.list_entities(fetch_state=True)
    assert [(e.key, e.state) for e in listed.entities] == [("stays", "1")]
    row = await engine.storage.get_instance("@counter@gone")
    # The extension's EntityStatus leaves every member out at its default (EntityStatus.cs
    # 17-36): a real client's TestEntityExists (a substring test) must not see this one.
    assert row is not None and row.custom_status == "{}"
    stays = await engine.storage.get_instance("@counter@stays")
    assert stays is not None and stays.custom_status == '{"entityExists":true}'

    await engine.client.signal_entity("counter", "gone", "add", op_input(2))
    await wait_state(engine, "gone", 2)  # starts again from the initializer, not from 5


async def test_reads_while_operations_queue_up_see_only_committed_states(engine: Engine) -> None:
    await asyncio.gather(
        *(engine.client.signal_entity("counter", "busy", "add", op_input(1)) for _ in range(200))
    )
    seen: list[int] = []
    while True:
        value = await state_of(engine, "busy")
        seen.append(value or 0)
        if value == 200:
            break
        assert len(seen) < 5000, f"state stuck at {value}"
    assert seen == sorted(seen) and all(0 <= v <= 200 for v in seen)


async def test_scheduled_signal_runs_at_its_time(engine: Engine) -> None:
    due = engine.clock.now() + timedelta(seconds=3)
    await engine.client.signal_entity("counter", "later", "add", op_input(100), scheduled_time=due)
    await engine.client.signal_entity("counter", "later", "add", op_input(1))
    await wait_state(engine, "later", 1)
    assert engine.clock.now() < due, "the test machine is too slow to observe the delay"
    await wait_state(engine, "later", 101, timeout=30)
    assert engine.clock.now() >= due


async def test_unknown_entity_function_is_refused(engine: Engine) -> None:
    from durable_host.errors import FunctionNotFoundError

    with pytest.raises(FunctionNotFoundError, match="'nope' doesn't exist"):
        await engine.client.signal_entity("nope", "k", "add", op_input(1))


async def test_storage_rows_match_the_provider_format(engine: Engine, azurite: str) -> None:
    from azure.data.tables.aio import TableServiceClient

    await engine.client.signal_entity("counter", "rows", "add", op_input(4))
    await wait_state(engine, "rows", 4)
    await engine.client.signal_entity("counter", "rows", "add", op_input(3))
    await wait_state(engine, "rows", 7)

    instance_id = "@counter@rows"
    key = escape_partition_key(instance_id)
    async with TableServiceClient.from_connection_string(azurite) as service:
        history = service.get_table_client(engine.names.history_table)
        rows = [r async for r in history.query_entities(f"PartitionKey eq '{key}'")]
        instances = service.get_table_client(engine.names.instances_table)
        row = await instances.get_entity(key, "")
    by_key = {r["RowKey"]: r for r in rows}
    assert sorted(by_key) == [f"{i:016X}" for i in range(3)] + ["sentinel"]
    assert [by_key[f"{i:016X}"]["EventType"] for i in range(3)] == [
        "OrchestratorStarted",
        "ExecutionStarted",
        "OrchestratorCompleted",
    ]
    execution_id = by_key["sentinel"]["ExecutionId"]
    assert all(r["ExecutionId"] == execution_id for r in rows)
    started = by_key["0000000000000001"]
    assert started["Name"] == instance_id
    assert json.loads(started["Input"]) == {"exists": True, "state": "7", "sorter": {}}
    assert json.loads(started["OrchestrationInstance"]) == {
        "InstanceId": instance_id,
        "ExecutionId": execution_id,
    }
    assert row["Name"] == instance_id
    assert row["RuntimeStatus"] == "Running"
    assert row["ExecutionId"] == execution_id
    assert row["Input"] == started["Input"]
    assert row["CustomStatus"] == '{"entityExists":true}'
    assert row["TaskHubName"] == engine.settings.hub_name
    assert row["LastUpdatedTime"] is not None

    # The typed view agrees: a continue-as-new generation whose state is the SchedulerState.
    loaded = await engine.storage.load_history(instance_id)
    assert [type(e) for e in loaded.events] == [
        OrchestratorStarted,
        ExecutionStarted,
        OrchestratorCompleted,
    ]
    started_event = loaded.events[1]
    assert isinstance(started_event, ExecutionStarted)
    assert SchedulerState.from_json(started_event.input) == SchedulerState(True, "7")
    assert started_event.generation >= 1


async def test_a_lock_holds_other_requests_until_its_holder_releases_it(engine: Engine) -> None:
    """Issue 27 item 2: `lockedBy` is honoured as the extension's scheduler does (requests of
    others wait in `queue`, the holder's run, a `release` from the holder frees the entity:
    DurableTaskExtension.cs 922-954, 983-1012; SchedulerState.cs 79-84)."""
    from durable_host.taskhub.events import EventRaised, OrchestrationInstance

    await engine.client.signal_entity("counter", "odd", "add", op_input(1))
    await wait_state(engine, "odd", 1)
    target = OrchestrationInstance("@counter@odd", None)

    async def send(name: str, body: dict[str, Any]) -> None:
        event = EventRaised(timestamp=engine.clock.now(), name=name, input=json.dumps(body))
        await engine.router.send_to_instance(target, event)

    async def status_is(expected: dict[str, Any]) -> bool:
        row = await engine.storage.get_instance("@counter@odd")
        return row is not None and json.loads(row.custom_status or "null") == expected

    lockset = [{"name": "counter", "key": "odd"}]
    await send("op", {"id": "l1", "lockset": lockset, "pos": 0, "parent": "o", "signal": False})
    await eventually(lambda: status_is({"entityExists": True, "lockedBy": "o"}), what="locked")
    await engine.client.signal_entity("counter", "odd", "add", op_input(10))
    queued = {"entityExists": True, "queueSize": 1, "lockedBy": "o"}
    await eventually(lambda: status_is(queued), what="the client's signal queued")
    # The holder's own operation runs at once, ahead of the queue.
    add = {"op": "add", "signal": True, "input": op_input(5), "id": "s1", "parent": "o"}
    await send("op", add)
    await wait_state(engine, "odd", 6)
    await send("release", {"id": "l1", "parent": "o"})
    await wait_state(engine, "odd", 16)
    await eventually(lambda: status_is({"entityExists": True}), what="unlocked, queue empty")


async def test_state_survives_a_host_restart(engine: Engine, azurite: str, hub_name: str) -> None:
    await engine.client.signal_entity("counter", "durable", "add", op_input(40))
    await wait_state(engine, "durable", 40)
    await engine.stop()
    index = load_app(APP_DIR)
    invoker = FunctionInvoker(index)
    async with Engine(azurite, settings(hub_name), index, invoker) as second:
        # Nothing in memory: the next batch starts from the stored SchedulerState.
        await second.client.signal_entity("counter", "durable", "add", op_input(2))
        await wait_state(second, "durable", 42)
        caller = await start(second, "call_counter", {"key": "durable", "op": "get"})
        assert json.loads((await finish(second, caller)).output or "null") == {"result": 42}
    invoker.close(wait=False)


async def test_a_partition_handed_back_does_not_answer_from_stale_state(engine: Engine) -> None:
    """While this host did not own the entity's partition, another host changed the entity.

    When the partition comes back, the next call must be answered from the stored state: a
    reply from the stale cached copy would reach the caller even though the checkpoint that
    follows it fails its ETag check.
    """
    import dataclasses

    first = await start(engine, "call_counter", {"key": "moved", "op": "add", "value": 1})
    assert json.loads((await finish(engine, first)).output or "null") == {"result": 1}

    entity_id = "@counter@moved"
    partition = engine.router.partition_of(entity_id)
    await engine.orchestrations.release(partition)
    # Another host's checkpoint, written as EntityProcessor writes one: state 41.
    loaded = await engine.storage.load_history(entity_id)
    started = next(e for e in loaded.events if isinstance(e, ExecutionStarted))
    assert loaded.execution_id is not None
    state = SchedulerState(exists=True, state="41")
    await engine.storage.append_history(
        entity_id,
        loaded.execution_id,
        start_index=0,
        events=[
            OrchestratorStarted(timestamp=started.timestamp),
            dataclasses.replace(started, input=state.to_json(), generation=started.generation + 1),
            OrchestratorCompleted(timestamp=started.timestamp),
        ],
        etag=loaded.etag,
    )
    engine.orchestrations.acquire(partition)

    second = await start(engine, "call_counter", {"key": "moved", "op": "add", "value": 1})
    assert json.loads((await finish(engine, second)).output or "null") == {"result": 42}


def fail_first_history_write(engine: Engine, instance_id: str, error: Exception) -> list[str]:
    """Make the engine's first history write for `instance_id` raise `error` (storage is
    real otherwise); the returned list names the instance once it has."""
    real_append = engine.storage.append_history
    failed: list[str] = []

    async def append(target: str, *args: Any, **kwargs: Any) -> str:
        if target == instance_id and not failed:
            failed.append(target)
            raise error
        return await real_append(target, *args, **kwargs)

    # assignment: the stand-in passes the arguments through (*args, **kwargs).
    engine.storage.append_history = append  # type: ignore[method-assign, assignment]
    return failed


async def test_a_reply_that_beats_its_callers_first_checkpoint_waits_for_it(
    engine: Engine,
) -> None:
    """The caller's first episode sends its call, then its history write is lost (a crash).

    The entity answers before the caller's start message comes back. That reply must wait
    for the redone call to be in the history: the redone call carries the same request id,
    so the entity drops it as a duplicate and will never answer again.
    """
    lost = fail_first_history_write(
        engine, "early-reply", ConnectionResetError("the host died before the history write")
    )
    caller = await start(
        engine, "call_counter", {"key": "early", "op": "add", "value": 5}, "early-reply"
    )
    assert json.loads((await finish(engine, caller, timeout=60)).output or "null") == {"result": 5}
    assert lost == ["early-reply"]
    assert await state_of(engine, "early") == 5


async def test_a_failed_state_write_is_retried_before_the_next_call_runs(engine: Engine) -> None:
    """The batch's reply is already out when its state write fails (a connection reset).

    The caller, having its answer, sends its next call at once. That call must see the state
    the answered batch produced, so the write is retried in place instead of leaving the
    batch to a redelivery that the next call would overtake.
    """
    from durable_host.errors import StorageError

    failures = fail_first_history_write(
        engine, "@counter@reset", StorageError("Could not checkpoint: connection reset by peer")
    )
    caller = await start(engine, "call_twice", "reset")
    assert json.loads((await finish(engine, caller)).output or "null") == [1, 1]
    assert failures == ["@counter@reset"]


async def test_no_reply_leaves_a_host_whose_lease_is_lapsing(engine: Engine) -> None:
    """A host whose partition lease is about to lapse may already have a successor working
    from storage: it must not answer callers from its own copy. The batch goes back to the
    queue and is answered once a host holds the partition."""
    answers: list[str] = []
    real_holds = engine.partitions.holds
    real_send = engine.router.send_to_instance
    # The caller's checkpoints ask too: it lives on another partition, always held.
    entity_partition = engine.router.partition_of("@counter@lease")
    caller_id = next(
        f"caller-{n}"
        for n in range(100)
        if engine.router.partition_of(f"caller-{n}") != entity_partition
    )

    def lapsing_once(partition: int) -> bool:
        if partition != entity_partition:
            return real_holds(partition)
        answer = "held" if "lapsing" in answers else "lapsing"
        answers.append(answer)
        return answer == "held" and real_holds(partition)

    async def recorded_send(target: Any, event: Any, **options: Any) -> Any:
        sender = options.get("sender")
        if sender is not None and sender.instance_id == "@counter@lease":
            answers.append("reply")
        return await real_send(target, event, **options)

    engine.partitions.holds = lapsing_once  # type: ignore[method-assign]
    engine.router.send_to_instance = recorded_send  # type: ignore[method-assign]
    caller = await start(
        engine, "call_counter", {"key": "lease", "op": "add", "value": 5}, caller_id
    )
    assert json.loads((await finish(engine, caller)).output or "null") == {"result": 5}
    assert answers[:3] == ["lapsing", "held", "reply"]
    assert await state_of(engine, "lease") == 5
