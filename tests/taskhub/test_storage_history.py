from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient

from durable_host.errors import CheckpointConflictError
from durable_host.taskhub.events import (
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
    TaskCompleted,
    TaskScheduled,
)
from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.storage import TaskHubStorage

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def first_episode(instance_id: str, execution_id: str, payload: str = '"in"') -> list[HistoryEvent]:
    return [
        OrchestratorStarted(timestamp=T0),
        ExecutionStarted(
            timestamp=T0,
            orchestration_instance=OrchestrationInstance(instance_id, execution_id),
            name="Hello",
            input=payload,
        ),
        TaskScheduled(timestamp=T0, event_id=0, name="SayHi", input=payload),
        OrchestratorCompleted(timestamp=T0),
    ]


def completions(count: int, start: int = 0) -> list[HistoryEvent]:
    return [
        TaskCompleted(timestamp=T0 + timedelta(seconds=n), task_scheduled_id=n, result=f'"r{n}"')
        for n in range(start, start + count)
    ]


def raw_rows(conn: str, storage: TaskHubStorage, instance_id: str) -> dict[str, dict[str, Any]]:
    table = TableClient.from_connection_string(conn, storage.names.history_table)
    key = escape_partition_key(instance_id).replace("'", "''")
    return {e["RowKey"]: dict(e) for e in table.query_entities(f"PartitionKey eq '{key}'")}


async def test_append_then_load_round_trips_with_the_sentinel_etag(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    events = first_episode("abc123", "exec1")
    etag = await hub_storage.append_history(
        "abc123", "exec1", start_index=0, events=events, etag=None
    )
    loaded = await hub_storage.load_history("abc123")
    assert loaded.events == events
    assert loaded.execution_id == "exec1"
    assert loaded.etag == etag

    rows = await asyncio.to_thread(raw_rows, azurite, hub_storage, "abc123")
    assert sorted(rows) == [f"{i:016X}" for i in range(4)] + ["sentinel"]
    assert rows["sentinel"]["ExecutionId"] == "exec1"
    assert rows["sentinel"]["IsCheckpointComplete"] is True
    assert rows["0000000000000002"]["EventType"] == "TaskScheduled"


async def test_stale_etag_and_second_create_conflict(hub_storage: TaskHubStorage) -> None:
    etag1 = await hub_storage.append_history(
        "i1", "e1", start_index=0, events=first_episode("i1", "e1"), etag=None
    )
    with pytest.raises(CheckpointConflictError):
        await hub_storage.append_history(
            "i1", "e1", start_index=0, events=first_episode("i1", "e1"), etag=None
        )
    etag2 = await hub_storage.append_history(
        "i1", "e1", start_index=4, events=completions(1), etag=etag1
    )
    assert etag2 != etag1
    with pytest.raises(CheckpointConflictError) as conflict:
        await hub_storage.append_history(
            "i1", "e1", start_index=5, events=completions(1, 1), etag=etag1
        )
    assert conflict.value.status in (409, 412)
    loaded = await hub_storage.load_history("i1")
    assert len(loaded.events) == 5  # the rejected batch wrote nothing
    assert loaded.etag == etag2


async def test_more_than_99_events_span_several_batches(hub_storage: TaskHubStorage) -> None:
    events = first_episode("many", "e1") + completions(246)
    etag = await hub_storage.append_history("many", "e1", start_index=0, events=events, etag=None)
    loaded = await hub_storage.load_history("many")
    assert loaded.events == events
    assert loaded.etag == etag
    more = completions(3, 246)
    etag2 = await hub_storage.append_history("many", "e1", start_index=250, events=more, etag=etag)
    assert (await hub_storage.load_history("many")).events == events + more
    assert etag2 != etag
    assert await hub_storage.delete_history("many") == 254  # 253 rows + sentinel, 3 batches
    assert (await hub_storage.load_history("many")).etag is None


async def test_large_property_goes_to_a_blob_with_a_blob_name_column(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    big = '"' + "ünïcödé ✓ " * 20_000 + '"'  # > 60 KiB in UTF-16
    instance_id = "large/one"
    events = first_episode(instance_id, "e1", payload=big)
    await hub_storage.append_history(instance_id, "e1", start_index=0, events=events, etag=None)

    rows = await asyncio.to_thread(raw_rows, azurite, hub_storage, instance_id)
    started = rows["0000000000000001"]
    assert started["Input"] == ""
    escaped = escape_partition_key(instance_id)
    pattern = (
        re.escape(escaped)
        + r"/history-0000000000000001-ExecutionStarted-[0-9A-F]{8}-Input\.json\.gz"
    )
    assert re.fullmatch(pattern, started["InputBlobName"])
    container = ContainerClient.from_connection_string(
        azurite, hub_storage.names.large_messages_container
    )
    assert await asyncio.to_thread(
        lambda: container.get_blob_client(started["InputBlobName"]).exists()
    )

    loaded = await hub_storage.load_history(instance_id)
    assert loaded.events == events

    deleted = await hub_storage.delete_history(instance_id)
    assert deleted == 5
    assert (await hub_storage.load_history(instance_id)).events == []
    names = await asyncio.to_thread(lambda: [b.name for b in container.list_blobs()])
    assert names == []


@pytest.mark.parametrize(
    "instance_id", ["a/b", "back\\slash", "hash#tag", "what?", "it's", "ünï/cødé#?\\ 🌍", "x\x01y"]
)
async def test_awkward_instance_ids_round_trip(
    hub_storage: TaskHubStorage, azurite: str, instance_id: str
) -> None:
    events = first_episode(instance_id, "e1")
    await hub_storage.append_history(instance_id, "e1", start_index=0, events=events, etag=None)
    # A neighbour whose escaped key could collide if escaping were wrong.
    await hub_storage.append_history(
        instance_id + "x",
        "e9",
        start_index=0,
        events=first_episode(instance_id + "x", "e9"),
        etag=None,
    )
    loaded = await hub_storage.load_history(instance_id)
    assert loaded.events == events
    assert loaded.execution_id == "e1"
    rows = await asyncio.to_thread(raw_rows, azurite, hub_storage, instance_id)
    assert len(rows) == 5


async def test_continue_as_new_rewrites_from_zero_and_readers_stop_at_old_rows(
    hub_storage: TaskHubStorage,
) -> None:
    old = first_episode("can", "old") + completions(4)  # rows 0..7
    etag = await hub_storage.append_history("can", "old", start_index=0, events=old, etag=None)
    new = [*first_episode("can", "new")[:2], OrchestratorCompleted(timestamp=T0)]  # rows 0..2
    etag = await hub_storage.append_history("can", "new", start_index=0, events=new, etag=etag)

    loaded = await hub_storage.load_history("can")
    assert loaded.execution_id == "new"
    assert loaded.events == new
    assert loaded.etag == etag

    explicit = await hub_storage.load_history("can", execution_id="new")
    assert explicit.events == new
    # The old execution's leftover rows 3..7 are not a history: row 0 belongs to "new".
    assert (await hub_storage.load_history("can", execution_id="old")).events == []


async def test_unknown_instance_has_empty_history(hub_storage: TaskHubStorage) -> None:
    loaded = await hub_storage.load_history("nobody-" + uuid.uuid4().hex)
    assert loaded.events == []
    assert loaded.execution_id is None
    assert loaded.etag is None


async def test_incomplete_checkpoint_flag_is_stored(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    await hub_storage.append_history(
        "half",
        "e1",
        start_index=0,
        events=first_episode("half", "e1"),
        etag=None,
        checkpoint_complete=False,
    )
    rows = await asyncio.to_thread(raw_rows, azurite, hub_storage, "half")
    assert rows["sentinel"]["IsCheckpointComplete"] is False
    assert "CheckpointCompletedTimestamp" not in rows["sentinel"]
