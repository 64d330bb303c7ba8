"""The management client's reads the dashboard added: a history slice, and the list filters."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from durable_host.engine.client.api import InstanceQuery
from durable_host.engine.client.engine_client import EngineClient
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.storage import TaskHubStorage
from tests.dashboard.written_hub import write_completed_chain

pytestmark = pytest.mark.azurite


def _client(storage: TaskHubStorage) -> EngineClient:
    return EngineClient.standalone(storage)


async def test_a_history_slice_reads_its_events_and_knows_the_length(
    hub_storage: TaskHubStorage,
) -> None:
    total = await write_completed_chain(hub_storage, "long", activities=40)  # 84 events
    client = _client(hub_storage)
    whole = await client.get_status("long", show_history=True)
    assert whole is not None and whole.history is not None and len(whole.history) == total

    for first, count in ((0, 10), (37, 20), (80, 10), (84, 5)):
        part = await client.get_history_slice("long", first, count)
        assert part is not None and part.total == total
        assert part.events == whole.history[first : first + count]
    assert await client.get_history_slice("missing", 0, 10) is None


async def test_the_list_filters_by_name_prefix_and_leaves_entities_out(
    hub_storage: TaskHubStorage,
) -> None:
    await write_completed_chain(hub_storage, "0-digit-first", activities=1)
    await write_completed_chain(hub_storage, "z-last", activities=1)
    client = _client(hub_storage)
    # An entity's row, as the entity engine writes it.
    await hub_storage.merge_instance(
        "@counter@k",
        {
            "name": "counter",
            "input": "{}",
            "runtime_status": OrchestrationStatus.Running,
            "created_time": datetime.now(timezone.utc),
        },
    )

    async def ids(query: InstanceQuery) -> list[str]:
        page = await client.list_instances(query)
        return sorted(s.instance_id for s in page.instances)

    assert "@counter@k" in await ids(InstanceQuery())
    only = InstanceQuery(orchestrations_only=True)
    assert await ids(only) == ["0-digit-first", "z-last"]
    assert await ids(InstanceQuery(name_prefix="cha", orchestrations_only=True)) == [
        "0-digit-first",
        "z-last",
    ]
    assert await ids(InstanceQuery(name_prefix="chb")) == []
