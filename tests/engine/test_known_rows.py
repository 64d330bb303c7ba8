"""The Instances rows as this host wrote them (known_rows.py), and the waiting client that is
handed them instead of reading the row."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from durable_host.engine.client import queries
from durable_host.engine.dispatch.known_rows import KnownRows
from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from tests.engine._helpers import finish, start, stored_input

RUNNING = OrchestrationStatus.Running
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def record(instance_id: str, **values: Any) -> InstanceRecord:
    return InstanceRecord(
        instance_id=instance_id, name="hello", runtime_status=RUNNING, execution_id="e1", **values
    )


def test_a_merge_into_the_version_this_host_wrote_gives_the_row_it_made() -> None:
    known = KnownRows()
    known.wrote(record("i", input='"in"', custom_status='"a"'), "v1")
    fields = {"custom_status": None, "output": '"out"', "last_updated_time": NOW}
    row = known.merged("i", "v1", "v2", fields)
    assert row == record("i", input='"in"', output='"out"', last_updated_time=NOW)
    assert known.row("i") == row and known.etag("i", "e1") == "v2"
    assert known.etag("i", "e2") is None  # another execution's version is not this one's


def test_the_version_of_a_finished_row_is_not_handed_out() -> None:
    """An end is read before it is written over (instance_row.py's newer end)."""
    known = KnownRows()
    known.wrote(record("i"), "v1")
    known.merged("i", "v1", "v2", {"runtime_status": OrchestrationStatus.Completed})
    assert known.etag("i", "e1") is None
    assert known.row("i") is not None


def test_a_merge_into_a_version_this_host_did_not_know_forgets_the_row() -> None:
    known = KnownRows()
    known.wrote(record("i"), "v1")
    assert known.merged("i", "v0", "v2", {"output": '"x"'}) is None
    assert known.row("i") is None and known.etag("i", "e1") is None


def test_large_rows_are_kept_as_a_version_only_and_the_oldest_go_first() -> None:
    known = KnownRows(limit=2)
    known.wrote(record("big", input="x" * 10_000), "v1")
    assert known.row("big") is None and known.etag("big", "e1") == "v1"
    assert known.merged("big", "v1", "v2", {"output": '"o"'}) is None
    assert known.etag("big", "e1") == "v2"
    known.wrote(record("a"), "va")
    known.wrote(record("b"), "vb")
    assert known.etag("big", "e1") is None and known.row("a") is not None
    known.forget_where(lambda instance_id: instance_id == "a")
    assert known.row("a") is None and known.row("b") is not None


def count_reads(engine: Engine) -> list[str]:
    """The instance ids of the Instances row reads (`get_instance`) from now on."""
    reads: list[str] = []
    read = engine.storage.get_instance

    async def counted(instance_id: str) -> InstanceRecord | None:
        reads.append(instance_id)
        return await read(instance_id)

    engine.storage.get_instance = counted  # type: ignore[method-assign]
    return reads


@pytest.mark.parametrize(
    ("orchestrator", "value"),
    [
        ("chain", 1),
        ("fails", None),
        ("catches", None),
        ("status_steps", None),
        ("status_then_done", None),
        ("counter", {"n": 0, "until": 2}),
        ("parent", "ok"),
        ("big", "y" * 70_000),
    ],
)
async def test_the_waiting_client_gets_the_row_as_stored_without_reading_it(
    engine: Engine, orchestrator: str, value: Any
) -> None:
    reads = count_reads(engine)
    instance_id = await engine.client.start_new(
        orchestrator, None, stored_input(value), tags={"team": "rows"}, version="1.0"
    )
    status = await finish(engine, instance_id)
    # A row too large to keep (the 70 KB input) is read as before, at the start and the end
    # of the wait; the others not at all.
    assert len(reads) == (2 if orchestrator == "big" else 0)
    assert status == await engine.client.get_status(instance_id)
    assert status.runtime_status in (OrchestrationStatus.Completed, OrchestrationStatus.Failed)
    # Waiting again on the finished instance reads it: a row this host wrote last is not
    # taken for the end (a client elsewhere may have restarted it since).
    reads.clear()
    assert await finish(engine, instance_id) == status
    assert reads == [instance_id]


async def test_a_start_waiter_is_handed_the_first_episodes_row(engine: Engine) -> None:
    reads = count_reads(engine)
    instance_id = await start(engine, "wait_event")
    status = await engine.client.wait_for_start(instance_id, timeout=30)
    assert status is not None and status.runtime_status == RUNNING
    assert reads == []
    assert status == await engine.client.get_status(instance_id)
    await engine.client.terminate(instance_id, "done")


async def test_a_row_another_host_finished_is_read_at_the_next_poll(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row this host wrote last says Running, but another writer has ended the instance
    since: the waiter skips its first reads, and its safety-net read finds the end."""
    monkeypatch.setattr(queries, "_OWNED_POLL", 0.2)
    monkeypatch.setattr(queries, "_KNOWN_POLL", 1.0)
    instance_id = await start(engine, "wait_event")
    assert await engine.client.wait_for_start(instance_id, timeout=30) is not None
    await engine.storage.merge_instance(
        instance_id, {"runtime_status": OrchestrationStatus.Terminated, "output": '"elsewhere"'}
    )
    status = await asyncio.wait_for(engine.client.wait_for_completion(instance_id, timeout=30), 10)
    assert status is not None
    assert (status.runtime_status, status.output) == (OrchestrationStatus.Terminated, '"elsewhere"')
