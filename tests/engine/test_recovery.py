"""Recovery: hosts that die or stall mid-checkpoint, lost and late writes, racing clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

import pytest

from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionIndex, FunctionInvoker
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
    TaskCompleted,
    TaskScheduled,
)
from tests.engine._helpers import (
    COMPLETED,
    drop_hub,
    eventually,
    finish,
    history,
    history_has,
    kinds,
    output,
    queues_drained,
    settings,
    start,
    stored_input,
)


@pytest.fixture
async def make_engine(
    azurite: str, hub_name: str, app_index: FunctionIndex
) -> AsyncIterator[Callable[..., Engine]]:
    """Engines (not started) on the test's hub, with settings overrides; all stopped, and the
    hub dropped, afterwards."""
    made: list[tuple[Engine, FunctionInvoker]] = []

    def make(**overrides: Any) -> Engine:
        invoker = FunctionInvoker(app_index)
        engine = Engine(azurite, settings(hub_name, **overrides), app_index, invoker)
        made.append((engine, invoker))
        return engine

    yield make
    for engine, invoker in made:
        await engine.stop()
        invoker.close(wait=False)
    await drop_hub(azurite, hub_name)


async def _crash(engine: Engine) -> None:
    """Stop like a killed process: running activities never report back."""
    for task in list(engine.activities._running):
        task.cancel()
    await engine.stop()


async def test_new_host_completes_an_orchestration_after_a_crash(
    azurite: str, hub_name: str, app_index: FunctionIndex, app_module: ModuleType
) -> None:
    # A short work-item visibility, so the abandoned activity reappears within seconds.
    config = settings(hub_name, work_item_queue_visibility_timeout=2.0)
    first_invoker = FunctionInvoker(app_index)
    first = Engine(azurite, config, app_index, first_invoker)
    second_invoker = FunctionInvoker(app_index)
    second = Engine(azurite, config, app_index, second_invoker)
    try:
        await first.start()
        instance_id = await start(first, "gated_chain", "crash")
        await eventually(
            lambda: _true_if("crash" in app_module.ENTERED), what="the activity in flight"
        )
        await _crash(first)
        record = await second.storage.get_instance(instance_id)
        assert record is not None and record.runtime_status.name == "Running"

        app_module.gate("crash").set()  # the re-run on the new host passes straight through
        await second.start()
        status = await finish(second, instance_id)

        assert status.runtime_status == COMPLETED
        assert output(status) == ["passed crash", 42]
        events = await history(second, instance_id)
        assert [e.event_id for e in events if isinstance(e, TaskScheduled)] == [0, 1]
        assert [e.task_scheduled_id for e in events if isinstance(e, TaskCompleted)] == [0, 1]
        await queues_drained(second)
    finally:
        app_module.release_all_gates()
        await second.stop()
        first_invoker.close(wait=False)
        second_invoker.close(wait=False)
        await drop_hub(azurite, hub_name)


async def test_graceful_restart_while_waiting_for_an_event(
    azurite: str, hub_name: str, app_index: FunctionIndex
) -> None:
    import json

    config = settings(hub_name)
    invoker = FunctionInvoker(app_index)
    first = Engine(azurite, config, app_index, invoker)
    second = Engine(azurite, config, app_index, invoker)
    try:
        await first.start()
        instance_id = await start(first, "echo_then_wait", "x")
        await eventually(
            lambda: _has_completed_task(first, instance_id), what="the wait for the event"
        )
        await first.stop()
        await second.start()
        await second.client.raise_event(instance_id, "Go", json.dumps("after restart"))
        status = await finish(second, instance_id)
        assert status.runtime_status == COMPLETED
        assert output(status) == ["x", "after restart"]
        await queues_drained(second)
    finally:
        await second.stop()
        invoker.close(wait=False)
        await drop_hub(azurite, hub_name)


async def test_a_lost_instances_row_write_is_repaired_from_the_history(
    make_engine: Callable[..., Engine],
) -> None:
    """The crash window between an episode's history write and its Instances merge.

    The merge fails as if the process died there: the row stays Pending and the consumed
    ExecutionStarted stays in its queue. When it comes back it is a duplicate, and the engine
    must still bring the row up to Running, or a client waiting for Running waits forever.
    """
    import json

    from durable_host.taskhub.events import OrchestrationStatus

    engine = make_engine(control_queue_visibility_timeout=2.0)
    real_merge = engine.storage.merge_instance
    lost: list[str] = []

    async def merge_lost_once(instance_id: str, fields: dict[str, object], **options: Any) -> str:
        if not lost and fields.get("runtime_status") == OrchestrationStatus.Running:
            lost.append(instance_id)
            raise ConnectionResetError("the host died before the Instances merge")
        return await real_merge(instance_id, fields, **options)

    engine.storage.merge_instance = merge_lost_once  # type: ignore[method-assign]
    await engine.start()
    instance_id = await start(engine, "wait_event", None)
    await eventually(lambda: _true_if(bool(lost)), what="the lost Instances merge")
    assert await history_has(engine, instance_id, OrchestratorCompleted)

    async def running() -> bool:
        record = await engine.storage.get_instance(instance_id)
        return record is not None and record.runtime_status == OrchestrationStatus.Running

    await eventually(running, what="the row repaired to Running", timeout=20)
    await engine.client.raise_event(instance_id, "Go", json.dumps("late"))
    status = await finish(engine, instance_id)
    assert status.runtime_status == COMPLETED
    assert kinds(await history(engine, instance_id)).count("ExecutionStarted") == 1
    await queues_drained(engine)


async def _has_completed_task(engine: Engine, instance_id: str) -> bool:
    return any(isinstance(e, TaskCompleted) for e in await history(engine, instance_id))


async def _true_if(value: bool) -> bool:
    await asyncio.sleep(0)
    return value


async def test_two_starts_of_one_instance_in_one_batch_run_it_once(
    make_engine: Callable[..., Engine],
) -> None:
    """A parent that redoes a lost checkpoint sends its child's start again, with a new
    execution id; when both starts are received together, only the first one runs."""
    from datetime import datetime, timezone

    from durable_host.taskhub.events import (
        ExecutionCompleted,
        ExecutionStarted,
        OrchestrationInstance,
    )

    engine = make_engine()
    await engine.storage.create_if_not_exists()
    for execution_id in ("first", "second"):
        target = OrchestrationInstance("twice-started", execution_id)
        start_event = ExecutionStarted(
            timestamp=datetime.now(timezone.utc),
            orchestration_instance=target,
            name="chain",
            version="",
            input=stored_input(3),
        )
        await engine.router.send_to_instance(target, start_event)
    await engine.start()
    await eventually(
        lambda: history_has(engine, "twice-started", ExecutionCompleted),
        what="the instance to finish (no client wrote a Pending row)",
    )
    status = await finish(engine, "twice-started")
    assert status.runtime_status == COMPLETED
    events = await history(engine, "twice-started")
    started = [e for e in events if isinstance(e, ExecutionStarted)]
    assert [e.orchestration_instance.execution_id for e in started] == ["first"]
    await queues_drained(engine)


async def test_a_clients_pending_row_never_overwrites_a_running_one(
    make_engine: Callable[..., Engine], azurite: str, hub_name: str
) -> None:
    """A client outside the host sends the start, then writes the Pending row. A worker can
    run the start in between and write Running first; the late Pending row must not win, or
    a client waiting for Running (to raise its event) waits forever."""
    import json

    from durable_host.engine.client.engine_client import EngineClient
    from durable_host.taskhub.events import OrchestrationStatus
    from durable_host.taskhub.names import TaskHubNames
    from durable_host.taskhub.storage import TaskHubStorage

    engine = make_engine()
    config = engine.settings
    outside = TaskHubStorage(azurite, TaskHubNames(hub_name, config.partition_count))
    client = EngineClient.standalone(outside)

    def after_the_worker(write: Any) -> Any:
        """The client's row write, held until the worker has written Running."""

        async def held(record: Any, **options: Any) -> str:
            async def worker_wrote_running() -> bool:
                row = await engine.storage.get_instance(record.instance_id)
                return row is not None and row.runtime_status == OrchestrationStatus.Running

            await eventually(worker_wrote_running, what="the worker's Running row")
            return str(await write(record, **options))

        return held

    outside.insert_instance = after_the_worker(outside.insert_instance)  # type: ignore[method-assign]
    outside.insert_or_replace_instance = after_the_worker(  # type: ignore[method-assign]
        outside.insert_or_replace_instance
    )
    try:
        await engine.start()
        await client.start_new("wait_event", "raced", stored_input(None))
        row = await engine.storage.get_instance("raced")
        assert row is not None and row.runtime_status == OrchestrationStatus.Running
        await client.raise_event("raced", "Go", json.dumps("after the race"))
        status = await finish(engine, "raced")
        assert status.runtime_status == COMPLETED
        assert output(status) == "after the race"
    finally:
        await outside.close()


async def test_a_late_status_write_does_not_undo_a_newer_owners_end(
    make_engine: Callable[..., Engine],
) -> None:
    """A host's Instances write can land late (queued behind a storage stall while its lease
    lapsed), after the partition's next owner finished the instance. The late write must not
    put the row back to Running: nothing would ever correct it."""
    engine = make_engine()
    await engine.start()
    instance_id = await _running_and_settled(engine, "two_events")
    await _their_end_then_an_event(engine, instance_id)
    await _assert_row_says_theirs(engine, instance_id)


async def test_a_new_owners_first_status_write_does_not_undo_an_end(
    make_engine: Callable[..., Engine],
) -> None:
    """A host that has just taken a partition over has no ETag of the instance's row yet.
    Its first write used to be unconditional, so when it landed late (after the host after it
    finished the instance) the row said Running for good, with ExecutionCompleted in the
    history: sub-orchestration parents in a loaded 3-host crash run."""
    before = make_engine()
    await before.start()
    instance_id = await _running_and_settled(before, "two_events")
    await before.stop()
    # The partition's new owner starts from storage: no session, no row ETag.
    owner = make_engine()
    await owner.start()
    await _their_end_then_an_event(owner, instance_id)
    await _assert_row_says_theirs(owner, instance_id)


async def _running_and_settled(engine: Engine, orchestrator: str) -> str:
    from durable_host.taskhub.events import OrchestrationStatus

    instance_id = await start(engine, orchestrator, None)

    async def running() -> bool:
        row = await engine.storage.get_instance(instance_id)
        return row is not None and row.runtime_status == OrchestrationStatus.Running

    await eventually(running, what="the instance to run")
    await eventually(lambda: _settled(engine), what="the checkpoint to settle")
    return instance_id


async def _their_end_then_an_event(engine: Engine, instance_id: str) -> None:
    """Another host's final write lands while `engine` still has the instance; then an event
    raised before that write (a client checks the row first) runs an episode here."""
    import json
    from datetime import datetime, timezone

    from durable_host.taskhub.events import (
        EventRaised,
        OrchestrationInstance,
        OrchestrationStatus,
    )

    await engine.storage.merge_instance(
        instance_id, {"runtime_status": OrchestrationStatus.Completed, "output": '"theirs"'}
    )
    await engine.router.send_to_instance(
        OrchestrationInstance(instance_id, ""),
        EventRaised(timestamp=datetime.now(timezone.utc), name="X", input=json.dumps(1)),
    )
    await eventually(
        lambda: _raised_in_history(engine, instance_id), what="this host's next episode"
    )
    await eventually(lambda: _settled(engine), what="the checkpoint to settle")


async def _assert_row_says_theirs(engine: Engine, instance_id: str) -> None:
    from durable_host.taskhub.events import OrchestrationStatus

    row = await engine.storage.get_instance(instance_id)
    assert row is not None and row.runtime_status == OrchestrationStatus.Completed
    assert row.output == '"theirs"'


async def _settled(engine: Engine) -> bool:
    """No episode running or waiting, and every Instances write done."""
    return engine.is_idle(settled=True)


async def _raised_in_history(engine: Engine, instance_id: str) -> bool:
    from durable_host.taskhub.events import EventRaised

    return await history_has(engine, instance_id, EventRaised)


async def test_a_final_row_write_that_keeps_conflicting_is_repaired_later(
    make_engine: Callable[..., Engine],
) -> None:
    """The final episode's row write conflicts each time (other writers keep changing the row).
    It used to give up with a warning and delete the episode's messages, so the row said
    Running for good; now its messages stay queued and their redelivery repairs the row."""
    import json

    from durable_host.errors import CheckpointConflictError
    from durable_host.taskhub.events import OrchestrationStatus

    engine = make_engine(control_queue_visibility_timeout=2.0)
    real_merge = engine.storage.merge_instance
    conflicts: list[str] = []

    async def final_write_conflicts(
        instance_id: str, fields: dict[str, object], **options: Any
    ) -> str:
        final = fields.get("runtime_status") == OrchestrationStatus.Completed
        if final and options.get("etag") is not None and len(conflicts) < 4:
            conflicts.append(instance_id)
            raise CheckpointConflictError("another writer changed the row")
        return await real_merge(instance_id, fields, **options)

    engine.storage.merge_instance = final_write_conflicts  # type: ignore[method-assign]
    await engine.start()
    instance_id = await _running_and_settled(engine, "wait_event")
    await engine.client.raise_event(instance_id, "Go", json.dumps("done"))
    status = await finish(engine, instance_id)
    assert status.runtime_status == COMPLETED
    assert len(conflicts) == 4
    await queues_drained(engine)


async def test_a_result_that_beats_a_late_first_history_write_waits_for_it(
    make_engine: Callable[..., Engine],
) -> None:
    """Host A's first episode sends the activity, then its history write stays in flight (A
    was killed or stalled). The result reaches the next owner, which has read no history yet;
    then A's write lands. The start message now comes back as a duplicate of that history, so
    nothing sends the activity again: a dropped result is lost for good (the crash run's
    c-0040-s1), a deferred one is taken once the history is there."""
    instance_id = "late-first-write"
    engine = make_engine()
    dispatcher = engine.orchestrations
    real_append = engine.storage.append_history
    real_triage = dispatcher._triage
    in_flight: list[tuple[Any, ...]] = []
    landed = asyncio.Event()

    async def append(target: str, *args: Any, **kwargs: Any) -> str:
        if target == instance_id and not landed.is_set():
            if not in_flight:
                in_flight.append((args, kwargs))
            raise ConnectionResetError("host A holds this instance's first history write")
        return await real_append(target, *args, **kwargs)

    async def triage(session: Any, batch: list[Any]) -> Any:
        events = [m.data.task_message.event for m in batch]
        result_first = (
            session.instance_id == instance_id
            and not session.history
            and any(isinstance(e, TaskCompleted) for e in events)
            and not any(isinstance(e, ExecutionStarted) for e in events)
        )
        verdict = await real_triage(session, batch)
        if result_first and not landed.is_set():
            args, kwargs = in_flight[0]
            await real_append(instance_id, *args, **kwargs)  # A's write lands just after
            landed.set()
            # The start comes back to a host that reads the landed history (a third owner,
            # or this one once its idle session is evicted), not to this empty session.
            dispatcher.forget_session(instance_id)
        return verdict

    # assignment: the stand-in passes the arguments through (*args, **kwargs).
    engine.storage.append_history = append  # type: ignore[method-assign, assignment]
    dispatcher._triage = triage  # type: ignore[method-assign]
    await engine.start()
    await start(engine, "chain", 3, instance_id)
    await eventually(lambda: _true_if(landed.is_set()), what="the result ahead of the history")

    status = await finish(engine, instance_id)
    assert status.runtime_status == COMPLETED
    assert output(status) == 24
    events = await history(engine, instance_id)
    assert kinds(events).count("ExecutionStarted") == 1
    assert [e.event_id for e in events if isinstance(e, TaskScheduled)] == [0, 1, 2]
    await queues_drained(engine)


async def test_messages_received_after_a_queue_is_let_go_are_given_back(
    make_engine: Callable[..., Engine],
) -> None:
    """A receive held up by a storage stall can return after the host let the queue go (its
    lease was lost): those messages belong to the queue's next owner, so they go back to the
    queue unprocessed. Processing them here ran a stale start over a child that the new owner
    had completed (bench/crash_runs.py, docs/reliability.md)."""
    engine = make_engine(partition_renew_interval=1.0)
    await engine.start()
    instance_id = "received-late"
    partition = engine.router.partition_of(instance_id)
    receive = engine.storage.receive_control
    entered, go = asyncio.Event(), asyncio.Event()

    async def stalled_receive(queue_partition: int, **options: Any) -> Any:
        if queue_partition == partition and not go.is_set():
            entered.set()
            await go.wait()
        return await receive(queue_partition, **options)

    # assignment: the stand-in passes the arguments through (*args, **kwargs).
    engine.storage.receive_control = stalled_receive  # type: ignore[method-assign, assignment]
    await asyncio.wait_for(entered.wait(), timeout=10)
    release = asyncio.create_task(engine.orchestrations.release(partition))

    async def released() -> bool:
        return partition not in engine.orchestrations.owned_partitions

    await eventually(released, what="the release to begin")
    await start(engine, "chain", 1, instance_id)  # into the queue: no longer delivered locally
    go.set()
    await asyncio.wait_for(release, timeout=30)

    assert await history(engine, instance_id) == [], "processed after the queue was let go"
    # Given back, not lost: the partition's next owner (this engine again) runs it.
    assert output(await finish(engine, instance_id)) == 8


async def test_an_episode_whose_lease_lapsed_while_it_ran_writes_nothing(
    make_engine: Callable[..., Engine],
) -> None:
    """An episode held up by a storage stall can outlive this host's lease: the partition's
    next owner may run the same messages meanwhile, and the instance may even be purged, so
    a first checkpoint from here would bring it back. The soak found that (bench/soak.py,
    seed 7: a purged instance Completed again, its activities run twice). The episode is
    given up instead and its messages are left to the partition's next owner."""
    engine = make_engine(partition_lease_duration=4.0, partition_renew_interval=1.0)
    await engine.start()
    instance_id = "lease-lapsed"
    partition = engine.router.partition_of(instance_id)
    storage = engine.storage
    load, renew = storage.load_history, storage.replace_partition_lease
    loading, go_load, go_renew = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def stalled_load(loaded_id: str, *args: Any, **options: Any) -> Any:
        if loaded_id == instance_id and not go_load.is_set():
            loading.set()
            await go_load.wait()
        return await load(loaded_id, *args, **options)

    async def stalled_renew(*args: Any, **options: Any) -> Any:
        await go_renew.wait()  # a storage stall: leases are neither renewed nor claimed
        return await renew(*args, **options)

    # assignment: the stand-in passes the arguments through (*args, **kwargs).
    storage.load_history = stalled_load  # type: ignore[method-assign, assignment]
    await start(engine, "chain", 1, instance_id)
    await asyncio.wait_for(loading.wait(), timeout=10)
    storage.replace_partition_lease = stalled_renew  # type: ignore[method-assign]

    async def let_go() -> bool:
        return partition not in engine.orchestrations.owned_partitions

    await eventually(let_go, what="the lapsing lease's queue to be let go")
    go_load.set()
    await eventually(lambda: _true_if(engine.orchestrations.is_idle()), what="the episode's end")
    assert await history(engine, instance_id) == [], "checkpointed after the lease lapsed"

    go_renew.set()
    # Left to the partition's next owner (this engine again, once it claims the lease).
    assert output(await finish(engine, instance_id)) == 8


async def test_a_duplicate_for_an_instance_purged_elsewhere_does_not_bring_its_row_back(
    make_engine: Callable[..., Engine],
) -> None:
    """Another host purges an instance whose completed history this host still holds in
    memory; a duplicate message for it then arrives here. It is dropped as a duplicate, and
    the row repair must not write the row again from the cached copy: the soak found a
    purged instance listed Completed with no history (bench/soak.py, seed 1)."""
    engine = make_engine()
    await engine.start()
    instance_id = await start(engine, "chain", 1)
    status = await finish(engine, instance_id)
    assert status.runtime_status == COMPLETED
    # The purge of another host: storage only, this host's cached session stays.
    await engine.storage.delete_history(instance_id)
    await engine.storage.delete_instance(instance_id)
    again = TaskCompleted(timestamp=engine.clock.now(), task_scheduled_id=0, result="2")
    target = OrchestrationInstance(instance_id, status.execution_id or "")
    await engine.router.send_to_instance(target, again)
    await queues_drained(engine)
    assert await engine.storage.get_instance(instance_id) is None, "the purged row came back"


async def test_a_message_for_a_newer_execution_than_the_cached_one_reloads_the_history(
    make_engine: Callable[..., Engine],
) -> None:
    """Another host wrote a newer execution (a continue-as-new it ran) while this host still
    holds the older one in its session cache. A message for the newer execution must not be
    dropped as stale against that copy: the history is read again first. The soak found an
    instance stuck for ever that way (bench/soak.py, seed 7: its new generation's activity
    result was dropped)."""
    engine = make_engine()
    await engine.start()
    instance_id = await start(engine, "wait_event", None)
    await eventually(lambda: history_has(engine, instance_id, OrchestratorCompleted), what="wait")
    stored = await engine.storage.load_history(instance_id)
    # The newer generation, as another host's continue-as-new writes it.
    newer = "e2-written-elsewhere"
    now = engine.clock.now()
    events = [
        OrchestratorStarted(timestamp=now),
        ExecutionStarted(
            timestamp=now,
            orchestration_instance=OrchestrationInstance(instance_id, newer),
            name="wait_event",
            input=stored_input(None),
            generation=1,
        ),
        OrchestratorCompleted(timestamp=now),
    ]
    await engine.storage.append_history(
        instance_id, newer, start_index=0, events=events, etag=stored.etag
    )
    event = EventRaised(timestamp=now, name="Go", input=json.dumps("for the newer one"))
    await engine.router.send_to_instance(OrchestrationInstance(instance_id, newer), event)
    status = await finish(engine, instance_id)
    assert (status.execution_id, output(status)) == (newer, "for the newer one")


def _lose_the_final_row_write(engine: Engine, lost: list[str]) -> None:
    """The final episode's Instances merge fails once, as if the host died right after its
    history write (the crash window of fix 14's neighbours, docs/reliability.md)."""
    from durable_host.taskhub.events import OrchestrationStatus

    real_merge = engine.storage.merge_instance

    async def merge(instance_id: str, fields: dict[str, object], **options: Any) -> str:
        if not lost and fields.get("runtime_status") == OrchestrationStatus.Completed:
            lost.append(instance_id)
            raise ConnectionResetError("the host died before the Instances merge")
        return await real_merge(instance_id, fields, **options)

    engine.storage.merge_instance = merge  # type: ignore[method-assign]


async def test_a_repaired_final_row_has_the_last_episodes_custom_status(
    make_engine: Callable[..., Engine],
) -> None:
    """The last episode sets a new custom status and its row write is lost; the redelivered
    messages are duplicates and the row repair writes Completed. The custom status is only
    in the row, so the repair kept the one of the episode before: the soak found a finished
    instance with an earlier custom status (bench/soak.py, seed 1, s-002079)."""
    engine = make_engine(control_queue_visibility_timeout=2.0)
    lost: list[str] = []
    _lose_the_final_row_write(engine, lost)
    await engine.start()
    instance_id = await start(engine, "status_then_done", None)
    status = await finish(engine, instance_id)
    assert lost == [instance_id], "the final row write was not the lost one"
    assert (status.runtime_status, output(status)) == (COMPLETED, "done")
    assert json.loads(status.custom_status or "null") == {"done": 2}
    await queues_drained(engine)


async def test_a_new_host_repairs_the_final_row_with_the_last_custom_status(
    make_engine: Callable[..., Engine],
) -> None:
    """As above, but the host that lost the write stops, so the repair is made by another
    one with no copy of the instance: it decides the last episode again to learn its
    custom status."""
    first = make_engine(control_queue_visibility_timeout=2.0)
    lost: list[str] = []
    _lose_the_final_row_write(first, lost)
    await first.start()
    instance_id = await start(first, "status_then_done", None)
    await eventually(lambda: _true_if(bool(lost)), what="the lost final row write")
    assert await history_has(first, instance_id, OrchestratorCompleted)
    record = await first.storage.get_instance(instance_id)
    assert record is not None and json.loads(record.custom_status or "null") == {"step": 1}
    await _crash(first)

    second = make_engine(control_queue_visibility_timeout=2.0)
    await second.start()
    status = await finish(second, instance_id)
    assert (status.runtime_status, output(status)) == (COMPLETED, "done")
    assert json.loads(status.custom_status or "null") == {"done": 2}
    await queues_drained(second)
