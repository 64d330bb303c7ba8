"""InstanceRowWriter on a real task hub: each case of its one ETag policy."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from durable_host.engine.dispatch.instance_row import InstanceRowWriter, entity_row_fields
from durable_host.engine.dispatch.sessions import Session
from durable_host.errors import CheckpointConflictError
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
)
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.storage import TaskHubStorage

HUB = "RowHub"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
RUNNING = OrchestrationStatus.Running
PENDING = OrchestrationStatus.Pending
COMPLETED = OrchestrationStatus.Completed
FAILED = OrchestrationStatus.Failed


def started(instance_id: str, execution_id: str) -> ExecutionStarted:
    return ExecutionStarted(
        timestamp=NOW,
        orchestration_instance=OrchestrationInstance(instance_id, execution_id),
        name="hello",
        input='"in"',
    )


def first_episode(instance_id: str, execution_id: str) -> list[HistoryEvent]:
    return [
        OrchestratorStarted(timestamp=NOW),
        started(instance_id, execution_id),
        OrchestratorCompleted(timestamp=NOW),
    ]


def finished(status: OrchestrationStatus, result: str) -> list[HistoryEvent]:
    return [
        OrchestratorStarted(timestamp=NOW),
        ExecutionCompleted(timestamp=NOW, orchestration_status=status, result=result),
        OrchestratorCompleted(timestamp=NOW),
    ]


def session_after(instance_id: str, history: list[HistoryEvent]) -> Session:
    start = next(e for e in history if isinstance(e, ExecutionStarted))
    execution = start.orchestration_instance.execution_id
    return Session(instance_id=instance_id, execution_id=execution, history=list(history))


def running_fields(writer: InstanceRowWriter, session: Session) -> dict[str, Any]:
    assert session.started is not None
    return writer.episode_fields(
        session, session.started, session.history, None, '"busy"', NOW, suspended=False
    )


def completed_fields(writer: InstanceRowWriter, session: Session, output: str) -> dict[str, Any]:
    from durable_host.engine.replay.decision import Completion

    assert session.started is not None
    return writer.episode_fields(
        session, session.started, [], Completion(COMPLETED, output), None, NOW, suspended=False
    )


async def pending_row(storage: TaskHubStorage, instance_id: str, execution_id: str) -> None:
    await InstanceRowWriter(storage, HUB).write_pending(
        started(instance_id, execution_id), read_etag=None
    )


async def row(storage: TaskHubStorage, instance_id: str) -> InstanceRecord:
    record = await storage.get_instance(instance_id)
    assert record is not None
    return record


async def etag_of(storage: TaskHubStorage, instance_id: str) -> str:
    found = await storage.get_instance_with_etag(instance_id)
    assert found is not None
    return found[1]


# -- the owner ------------------------------------------------------------------------------------


async def test_an_owners_first_write_inserts_the_row(hub_storage: TaskHubStorage) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    session = session_after("fresh", first_episode("fresh", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    record = await row(hub_storage, "fresh")
    assert (record.runtime_status, record.execution_id, record.name) == (RUNNING, "e1", "hello")
    assert (record.input, record.custom_status, record.task_hub_name) == ('"in"', '"busy"', HUB)
    assert session.row_etag == await etag_of(hub_storage, "fresh")


async def test_an_owners_next_write_is_guarded_by_the_etag_it_wrote(
    hub_storage: TaskHubStorage,
) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    session = session_after("guarded", first_episode("guarded", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    first = session.row_etag
    merges: list[str | None] = []
    real_merge = hub_storage.merge_instance

    async def recorded(instance_id: str, fields: dict[str, Any], **options: Any) -> str:
        merges.append(options.get("etag"))
        return await real_merge(instance_id, fields, **options)

    hub_storage.merge_instance = recorded  # type: ignore[method-assign]
    await writer.write_owned(session, completed_fields(writer, session, '"done"'))
    assert merges == [first]
    assert session.row_etag != first
    record = await row(hub_storage, "guarded")
    assert (record.runtime_status, record.output) == (COMPLETED, '"done"')


async def test_a_finished_row_of_the_same_execution_is_left_alone(
    hub_storage: TaskHubStorage,
) -> None:
    """Another owner finished the instance after this session's last write: this session's
    Running write (it saw less history) must not put the row back."""
    writer = InstanceRowWriter(hub_storage, HUB)
    session = session_after("theirs", first_episode("theirs", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    await hub_storage.merge_instance("theirs", {"runtime_status": COMPLETED, "output": '"them"'})
    await writer.write_owned(session, running_fields(writer, session))
    record = await row(hub_storage, "theirs")
    assert (record.runtime_status, record.output) == (COMPLETED, '"them"')
    # A write that finishes the execution itself is written over it.
    await writer.write_owned(session, completed_fields(writer, session, '"mine"'))
    assert (await row(hub_storage, "theirs")).output == '"mine"'


async def test_a_new_owner_without_an_etag_leaves_a_finished_row_alone(
    hub_storage: TaskHubStorage,
) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    before = session_after("moved", first_episode("moved", "e1"))
    await writer.write_owned(before, running_fields(writer, before))
    await writer.write_owned(before, completed_fields(writer, before, '"end"'))
    late = session_after("moved", first_episode("moved", "e1"))
    assert late.row_etag is None
    await writer.write_owned(late, running_fields(writer, late))
    assert (await row(hub_storage, "moved")).runtime_status == COMPLETED


async def test_a_clients_pending_row_is_written_over(hub_storage: TaskHubStorage) -> None:
    """A client's Pending row (a rewind) changed the row since this session's write: the
    owner's next write goes over it."""
    writer = InstanceRowWriter(hub_storage, HUB)
    session = session_after("rewinding", first_episode("rewinding", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    written = session.row_etag
    assert written is not None
    assert await writer.mark_rewinding("rewinding", read_etag=written)
    assert (await row(hub_storage, "rewinding")).runtime_status == PENDING
    await writer.write_owned(session, running_fields(writer, session))
    record = await row(hub_storage, "rewinding")
    assert (record.runtime_status, record.execution_id) == (RUNNING, "e1")
    assert session.row_etag == await etag_of(hub_storage, "rewinding") != written


async def test_a_starts_first_episode_merges_into_the_pending_row_this_writer_wrote(
    hub_storage: TaskHubStorage,
) -> None:
    """No read of the row: the Pending row's ETag from the client's insert guards the merge."""
    writer = InstanceRowWriter(hub_storage, HUB)
    assert await writer.write_pending(started("local", "e1"), read_etag=None)
    pending = await etag_of(hub_storage, "local")
    reads: list[str] = []
    real_read = hub_storage.get_instance_with_etag

    async def recorded(instance_id: str) -> Any:
        reads.append(instance_id)
        return await real_read(instance_id)

    hub_storage.get_instance_with_etag = recorded  # type: ignore[method-assign]
    session = session_after("local", first_episode("local", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    assert reads == []
    record = await row(hub_storage, "local")
    assert (record.runtime_status, record.execution_id, record.custom_status) == (
        RUNNING,
        "e1",
        '"busy"',
    )
    assert session.row_etag == await etag_of(hub_storage, "local") != pending


async def test_a_pending_row_changed_since_the_client_wrote_it_is_read_first(
    hub_storage: TaskHubStorage,
) -> None:
    """The Pending row's ETag is stale (another host finished this execution meanwhile): the
    merge fails on it, and the row as read now decides, as for any first write."""
    writer = InstanceRowWriter(hub_storage, HUB)
    assert await writer.write_pending(started("stale", "e1"), read_etag=None)
    await hub_storage.merge_instance("stale", {"runtime_status": COMPLETED, "output": '"them"'})
    session = session_after("stale", first_episode("stale", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    record = await row(hub_storage, "stale")
    assert (record.runtime_status, record.output) == (COMPLETED, '"them"')
    # A Pending row of another execution (a restart) is not taken for this session's.
    assert await writer.write_pending(started("other", "e2"), read_etag=None)
    late = session_after("other", first_episode("other", "e1"))
    await writer.write_owned(late, running_fields(writer, late))
    assert (await row(hub_storage, "other")).execution_id == "e1"


async def test_a_row_that_keeps_changing_raises_after_three_reads(
    hub_storage: TaskHubStorage,
) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    session = session_after("busy", first_episode("busy", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    real_merge = hub_storage.merge_instance
    conditional: list[str] = []

    async def someone_writes_first(instance_id: str, fields: dict[str, Any], **options: Any) -> str:
        if options.get("etag") is not None:
            conditional.append(instance_id)
            await real_merge(instance_id, {"custom_status": f'"other {len(conditional)}"'})
        return await real_merge(instance_id, fields, **options)

    hub_storage.merge_instance = someone_writes_first  # type: ignore[method-assign]
    with pytest.raises(CheckpointConflictError, match="kept changing"):
        await writer.write_owned(session, completed_fields(writer, session, '"x"'))
    assert len(conditional) == 4  # the session's ETag, then three fresh reads
    assert (await row(hub_storage, "busy")).runtime_status == RUNNING


async def test_repair_brings_the_row_up_to_the_history(hub_storage: TaskHubStorage) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    history = first_episode("behind", "e1") + finished(COMPLETED, '"out"')
    await pending_row(hub_storage, "behind", "e1")
    await hub_storage.merge_instance("behind", {"custom_status": '"kept"'})
    session = session_after("behind", history)
    await writer.repair(session, NOW)
    record = await row(hub_storage, "behind")
    assert (record.runtime_status, record.output, record.execution_id) == (
        COMPLETED,
        '"out"',
        "e1",
    )
    assert record.custom_status == '"kept"'  # not in the history: left as the row has it
    assert record.completed_time == NOW


@pytest.mark.parametrize("decided", ['{"done": 2}', None])
async def test_repair_writes_the_last_episodes_custom_status(
    hub_storage: TaskHubStorage, decided: str | None
) -> None:
    """What the last episode set, decided again (fix 16), even none: its own row write would
    have written that over the earlier episode's."""
    writer = InstanceRowWriter(hub_storage, HUB)
    history = first_episode("told", "e1") + finished(COMPLETED, '"out"')
    await pending_row(hub_storage, "told", "e1")
    await hub_storage.merge_instance("told", {"custom_status": '{"step": 1}'})

    async def last_custom_status() -> str | None:
        return decided

    await writer.repair(session_after("told", history), NOW, last_custom_status)
    record = await row(hub_storage, "told")
    assert (record.runtime_status, record.custom_status) == (COMPLETED, decided)


async def test_repair_keeps_the_rows_custom_status_when_the_episode_cannot_be_decided(
    hub_storage: TaskHubStorage,
) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    history = first_episode("mute", "e1") + finished(COMPLETED, '"out"')
    await pending_row(hub_storage, "mute", "e1")
    await hub_storage.merge_instance("mute", {"custom_status": '{"step": 1}'})

    async def unreachable() -> str | None:
        raise ConnectionError("the orchestrator's worker is gone")

    await writer.repair(session_after("mute", history), NOW, unreachable)
    record = await row(hub_storage, "mute")
    assert (record.runtime_status, record.custom_status) == (COMPLETED, '{"step": 1}')


async def test_repair_writes_nothing_when_the_row_agrees(hub_storage: TaskHubStorage) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    session = session_after("agrees", first_episode("agrees", "e1"))
    await writer.write_owned(session, running_fields(writer, session))
    etag = await etag_of(hub_storage, "agrees")
    await writer.repair(session_after("agrees", first_episode("agrees", "e1")), NOW)
    assert await etag_of(hub_storage, "agrees") == etag


async def test_repair_of_a_missing_row_inserts_it(hub_storage: TaskHubStorage) -> None:
    """The history is stored (a crash came before the first row write): the row is written."""
    writer = InstanceRowWriter(hub_storage, HUB)
    events = first_episode("lost", "e1")
    await hub_storage.append_history("lost", "e1", start_index=0, events=events, etag=None)
    await writer.repair(session_after("lost", events), NOW)
    record = await row(hub_storage, "lost")
    assert (record.runtime_status, record.name, record.input) == (RUNNING, "hello", '"in"')


async def test_repair_of_a_purged_instance_writes_no_row(hub_storage: TaskHubStorage) -> None:
    """Neither row nor history (purged by another host): the cached copy is not written back."""
    writer = InstanceRowWriter(hub_storage, HUB)
    await writer.repair(session_after("purged", first_episode("purged", "e1")), NOW)
    assert await hub_storage.get_instance("purged") is None


async def test_repair_does_not_undo_a_newer_owners_end(hub_storage: TaskHubStorage) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    await pending_row(hub_storage, "ahead", "e1")
    await hub_storage.merge_instance("ahead", {"runtime_status": FAILED})
    await writer.repair(session_after("ahead", first_episode("ahead", "e1")), NOW)
    assert (await row(hub_storage, "ahead")).runtime_status == FAILED


async def test_an_entitys_row_follows_each_stored_batch(hub_storage: TaskHubStorage) -> None:
    """Merged without a condition: the batch's ETag-guarded history write decided the owner."""
    writer = InstanceRowWriter(hub_storage, HUB)
    for execution, state in (("b1", '{"v":1}'), ("b2", '{"v":2}')):
        batch = ExecutionStarted(
            timestamp=NOW,
            orchestration_instance=OrchestrationInstance("@counter@k", execution),
            name="@counter@k",
            input=state,
            generation=int(execution[1:]) - 1,
        )
        await writer.write_entity("@counter@k", entity_row_fields(batch, '"status"'))
    record = await row(hub_storage, "@counter@k")
    assert (record.runtime_status, record.execution_id, record.input) == (RUNNING, "b2", '{"v":2}')
    assert (record.name, record.generation, record.custom_status) == ("@counter@k", 1, '"status"')


# -- a client -------------------------------------------------------------------------------------


async def test_a_clients_pending_row_is_inserted_or_replaces_the_row_it_read(
    hub_storage: TaskHubStorage,
) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    assert await writer.write_pending(started("new", "e1"), read_etag=None)
    record = await row(hub_storage, "new")
    assert (record.runtime_status, record.execution_id, record.name) == (PENDING, "e1", "hello")
    assert (record.input, record.created_time, record.task_hub_name) == ('"in"', NOW, HUB)
    await hub_storage.merge_instance("new", {"runtime_status": COMPLETED})
    read = await etag_of(hub_storage, "new")
    assert await writer.write_pending(started("new", "e2"), read_etag=read)
    record = await row(hub_storage, "new")
    assert (record.runtime_status, record.execution_id) == (PENDING, "e2")


async def test_a_clients_pending_row_yields_to_a_workers_row(hub_storage: TaskHubStorage) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    worker = session_after("raced", first_episode("raced", "e1"))
    await writer.write_owned(worker, running_fields(writer, worker))
    assert not await writer.write_pending(started("raced", "e1"), read_etag=None)
    assert (await row(hub_storage, "raced")).runtime_status == RUNNING
    # A restart that read the finished row, then a worker ran the new start first.
    await hub_storage.merge_instance("raced", {"runtime_status": COMPLETED})
    read = await etag_of(hub_storage, "raced")
    await hub_storage.merge_instance("raced", {"runtime_status": RUNNING, "execution_id": "e2"})
    assert not await writer.write_pending(started("raced", "e2"), read_etag=read)
    assert (await row(hub_storage, "raced")).runtime_status == RUNNING


async def test_rewind_sets_the_failed_row_it_read_to_pending(hub_storage: TaskHubStorage) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    await pending_row(hub_storage, "failed", "e1")
    await hub_storage.merge_instance("failed", {"runtime_status": FAILED, "output": '"boom"'})
    read = await etag_of(hub_storage, "failed")
    assert await writer.mark_rewinding("failed", read_etag=read)
    record = await row(hub_storage, "failed")
    assert (record.runtime_status, record.output) == (PENDING, '"boom"')


async def test_rewind_yields_to_a_worker_that_ran_it_first(hub_storage: TaskHubStorage) -> None:
    writer = InstanceRowWriter(hub_storage, HUB)
    await pending_row(hub_storage, "rewound", "e1")
    await hub_storage.merge_instance("rewound", {"runtime_status": FAILED})
    read = await etag_of(hub_storage, "rewound")
    worker = session_after("rewound", first_episode("rewound", "e1"))
    worker.wrote_row(read)
    await writer.write_owned(worker, running_fields(writer, worker))
    assert not await writer.mark_rewinding("rewound", read_etag=read)
    assert (await row(hub_storage, "rewound")).runtime_status == RUNNING
