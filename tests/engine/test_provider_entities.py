"""Entities between durable_host and the extension (issue 27, items 2 and 3): entity state as
the extension and DurableTask.Core store it (tests/provider_rows.py), continued by our engine,
client and HTTP API; the state we store, read by their rules (tests/provider_reader.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import pytest

from durable_host.engine.runtime import Engine
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from tests.engine._helpers import ENTITY_APP_DIR, eventually, running_engine
from tests.provider_reader import (
    core_scheduler_state,
    extension_scheduler_state,
    read_instance,
    test_entity_exists,
)
from tests.provider_rows import event_raised_message, hub_client, send_raw, write_entity


def request(request_id: str, value: int, parent: str | None = None) -> dict[str, Any]:
    """A signal's RequestMessage as the extension stores it in a queue (RequestMessage.cs:
    `op`, `signal`, `input` as JSON text, `id`, `parent`; Timestamp/Predecessor labels)."""
    return {
        "op": "add",
        "signal": True,
        "input": json.dumps(json.dumps(value)),
        "id": request_id,
        "parent": parent,
        "Timestamp": "2026-01-02T03:04:05.0000000Z",
        "Predecessor": "0001-01-01T00:00:00.0000000",
    }


@pytest.fixture
async def storage(azurite: str, hub_name: str) -> AsyncIterator[TaskHubStorage]:
    # The provider's half is written first; the engine starts on the hub afterwards.
    async with TaskHubStorage(azurite, TaskHubNames(hub_name, 4)) as hub:
        await hub.create_if_not_exists()
        yield hub


async def counter(engine: Engine, key: str) -> object:
    found = await engine.client.read_entity("counter", key)
    return None if found is None or found.state is None else json.loads(found.state)


async def reaches(engine: Engine, key: str, value: object) -> None:
    async def done() -> bool:
        return await counter(engine, key) == value

    await eventually(done, timeout=30, what=f"counter {key} == {value!r}")


async def test_a_batch_the_extension_cut_short_runs_its_queue_here(
    storage: TaskHubStorage, azurite: str, hub_name: str
) -> None:
    # The extension stopped a batch early (shutdown, timeout, the 3-minute limit): the rest went
    # to `queue`, the entity is `suspended`, and a `continue` message is on its way
    # (TaskEntityShim.cs 357-374, 265-272; DurableEntityContext.cs 744-749).
    instance = "@counter@cut"
    state = {
        "exists": True,
        "state": "5",
        "queue": [request("11111111-0000-4000-8000-000000000001", 2), request("r2", 3)],
        "suspended": True,
        "sorter": {},
    }
    started = datetime.now(timezone.utc)
    await write_entity(
        azurite,
        storage,
        instance,
        json.dumps(state),
        '{"entityExists":true,"queueSize":2}',
        started=started,
    )
    await send_raw(azurite, storage, instance, event_raised_message(instance, "continue", None))
    async with running_engine(azurite, hub_name, ENTITY_APP_DIR) as engine:
        await reaches(engine, "cut", 10)
        row = await read_instance(azurite, storage.names.instances_table, instance)
        stored = extension_scheduler_state(row.input or "")
        assert (stored.exists, stored.state, stored.queue, stored.suspended) == (
            True,
            "10",
            [],
            False,
        )


async def test_core_format_entity_is_read_and_continued(
    storage: TaskHubStorage, azurite: str, hub_name: str
) -> None:
    # DurableTask.Core's SchedulerState has no `exists` (Entities/StateFormat/SchedulerState.cs
    # 24-58; the format of isolated and gRPC workers, OutOfProcMiddleware.cs 293-299) and its
    # EntityStatus leaves zero and null members out (EntityStatus.cs 43-56).
    instance = "@counter@core"
    await write_entity(azurite, storage, instance, '{"state":"5"}', '{"entityExists":true}')
    async with hub_client(storage) as (client, http):
        found = await client.read_entity("counter", "core")
        assert found is not None and found.state == "5"
        listed = await client.list_entities("counter", fetch_state=True)
        assert [(e.key, e.state) for e in listed.entities] == [("core", "5")]
        response = await http.get("/runtime/webhooks/durabletask/entities/counter/core")
        assert response.status == 200 and await response.json() == 5
    async with running_engine(azurite, hub_name, ENTITY_APP_DIR) as engine:
        await engine.client.signal_entity("counter", "core", "add", json.dumps(json.dumps(1)))
        await reaches(engine, "core", 6)
        row = await read_instance(azurite, storage.names.instances_table, instance)
        for reader in (core_scheduler_state, extension_scheduler_state):
            seen = reader(row.input or "")
            assert (seen.exists, seen.state) == (True, "6")


async def test_requests_wait_behind_the_extensions_lock(
    storage: TaskHubStorage, azurite: str, hub_name: str
) -> None:
    # Locked by an orchestration (SchedulerState.cs 35-36); others' requests wait in the queue
    # until the holder's `release` (DurableTaskExtension.cs 922-954, SchedulerState.cs 79-84).
    instance = "@counter@locked"
    state = {"exists": True, "state": "5", "lockedBy": "orch1", "sorter": {}}
    await write_entity(
        azurite, storage, instance, json.dumps(state), '{"entityExists":true,"lockedBy":"orch1"}'
    )
    async with running_engine(azurite, hub_name, ENTITY_APP_DIR) as engine:
        await engine.client.signal_entity("counter", "locked", "add", json.dumps(json.dumps(1)))

        async def queued() -> bool:
            row = await read_instance(azurite, storage.names.instances_table, instance)
            seen = extension_scheduler_state(row.input or "")
            return len(seen.queue) == 1 and seen.locked_by == "orch1"

        await eventually(queued, what="the signal queued behind the lock")
        assert await counter(engine, "locked") == 5
        release = json.dumps({"parent": "orch1", "id": "22222222-0000-4000-8000-000000000002"})
        await send_raw(
            azurite, storage, instance, event_raised_message(instance, "release", release)
        )
        await reaches(engine, "locked", 6)


async def test_a_deleted_entity_does_not_look_alive_to_real_clients(
    storage: TaskHubStorage, azurite: str, hub_name: str
) -> None:
    # Item 3: Core's entity queries without state test CustomStatus for the text
    # `entityExists` (EntityStatus.cs 35-38); both writers leave the member out when false.
    async with running_engine(azurite, hub_name, ENTITY_APP_DIR) as engine:
        await engine.client.signal_entity("counter", "gone", "add", json.dumps(json.dumps(1)))
        await reaches(engine, "gone", 1)
        row = await read_instance(azurite, storage.names.instances_table, "@counter@gone")
        assert test_entity_exists(row.custom_status or "")
        await engine.client.signal_entity("counter", "gone", "delete")

        async def deleted() -> bool:
            row = await read_instance(azurite, storage.names.instances_table, "@counter@gone")
            return not extension_scheduler_state(row.input or "").exists

        await eventually(deleted, what="the entity deleted")
        row = await read_instance(azurite, storage.names.instances_table, "@counter@gone")
        assert not test_entity_exists(row.custom_status or "")
        assert not core_scheduler_state(row.input or "").exists
