from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from azure.data.tables import TableClient

from durable_host.errors import CheckpointConflictError, StorageError
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.storage import TaskHubStorage

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def record(instance_id: str, **changes: object) -> InstanceRecord:
    fields: dict[str, Any] = {
        "instance_id": instance_id,
        "name": "Hello",
        "runtime_status": OrchestrationStatus.Pending,
        "execution_id": "e1",
        "input": '"World"',
        "created_time": T0,
        "last_updated_time": T0,
        "generation": 1,
        "tags": {"team": "a"},
    }
    fields.update(changes)
    return InstanceRecord(**fields)


def raw_row(conn: str, storage: TaskHubStorage, instance_id: str) -> dict[str, Any]:
    table = TableClient.from_connection_string(conn, storage.names.instances_table)
    return dict(table.get_entity(escape_partition_key(instance_id), ""))


async def test_insert_get_and_merge(hub_storage: TaskHubStorage, azurite: str) -> None:
    assert await hub_storage.get_instance("i/1") is None
    original = record("i/1")
    etag = await hub_storage.insert_or_replace_instance(original)
    assert etag
    assert await hub_storage.get_instance("i/1") == original

    await hub_storage.merge_instance(
        "i/1",
        {
            "runtime_status": OrchestrationStatus.Completed,
            "output": '"done"',
            "completed_time": T0,
            "custom_status": None,
        },
    )
    merged = await hub_storage.get_instance("i/1")
    assert merged is not None
    assert merged.runtime_status is OrchestrationStatus.Completed
    assert merged.output == '"done"'
    assert merged.input == '"World"'  # untouched by the merge
    assert merged.custom_status is None
    row = await asyncio.to_thread(raw_row, azurite, hub_storage, "i/1")
    assert row["RuntimeStatus"] == "Completed"
    assert row["CustomStatus"] == "null"
    assert row["PartitionKey"] == "i^01"


async def test_replace_with_stale_etag_conflicts(hub_storage: TaskHubStorage) -> None:
    etag = await hub_storage.insert_or_replace_instance(record("r1"))
    found = await hub_storage.get_instance_with_etag("r1")
    assert found is not None and found[1] == etag
    newer = await hub_storage.insert_or_replace_instance(record("r1", generation=2), etag=etag)
    with pytest.raises(CheckpointConflictError):
        await hub_storage.insert_or_replace_instance(record("r1", generation=3), etag=etag)
    current = await hub_storage.get_instance_with_etag("r1")
    assert current is not None
    assert current[0].generation == 2 and current[1] == newer


async def test_large_input_output_and_custom_status_use_blobs(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    big = json.dumps("€" * 40_000)  # 80 KB in UTF-16
    await hub_storage.insert_or_replace_instance(record("big", input=big))
    await hub_storage.merge_instance("big", {"output": big + " ", "custom_status": big})
    row = await asyncio.to_thread(raw_row, azurite, hub_storage, "big")
    # The blob's URL in the column itself, as the provider writes it (docs/task-hub-layout.md §4).
    prefix = hub_storage.names.large_messages_container + "/big/history--"
    assert prefix + "Input-" in row["Input"] and row["Input"].startswith("http")
    assert row["Output"].endswith("-Output.json.gz") and prefix in row["Output"]
    assert row["CustomStatus"].endswith("-CustomStatus.json.gz")
    assert not [column for column in row if column.endswith("BlobName")]
    got = await hub_storage.get_instance("big")
    assert got is not None
    assert (got.input, got.output, got.custom_status) == (big, big + " ", big)

    # A later small value replaces the URL.
    await hub_storage.merge_instance("big", {"output": '"small"'})
    got = await hub_storage.get_instance("big")
    assert got is not None and got.output == '"small"'


async def test_query_pages_with_an_opaque_token(hub_storage: TaskHubStorage) -> None:
    await asyncio.gather(
        *(
            hub_storage.insert_or_replace_instance(
                record(
                    f"q{n:02d}",
                    runtime_status=(
                        OrchestrationStatus.Running if n % 2 else OrchestrationStatus.Completed
                    ),
                )
            )
            for n in range(12)
        )
    )
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = await hub_storage.query_instances(None, top=5, continuation_token=token)
        pages += 1
        assert len(page) <= 5
        seen += [r.instance_id for r in page]
        if token is None:
            break
        assert isinstance(token, str)
    assert sorted(seen) == [f"q{n:02d}" for n in range(12)]
    assert pages >= 3

    running, _ = await hub_storage.query_instances(
        "RuntimeStatus eq 'Running'", top=100, continuation_token=None
    )
    assert sorted(r.instance_id for r in running) == [f"q{n:02d}" for n in range(1, 12, 2)]


async def test_bad_continuation_token_is_a_clear_error(hub_storage: TaskHubStorage) -> None:
    with pytest.raises(StorageError, match="continuation token"):
        await hub_storage.query_instances(None, top=5, continuation_token="%%%not-a-token")


async def test_delete_instance(hub_storage: TaskHubStorage) -> None:
    await hub_storage.insert_or_replace_instance(record("gone"))
    await hub_storage.delete_instance("gone")
    assert await hub_storage.get_instance("gone") is None
    await hub_storage.delete_instance("gone")  # deleting twice is not an error


@pytest.mark.parametrize("thin", [True, False], ids=["thin-client", "sdk"])
async def test_an_insert_whose_answer_was_lost_is_retried(
    azurite: str, hub_name: str, thin: bool
) -> None:
    """A connection reset after the POST went out: neither azure-core nor the thin client
    repeats a POST, so the store does; a repeat that finds the row reports the conflict an
    existing row gives."""
    from azure.core.exceptions import ServiceResponseError

    from durable_host.taskhub.large_payloads import LargePayloads
    from durable_host.taskhub.names import TaskHubNames
    from durable_host.taskhub.storage_clients import StorageClients
    from durable_host.taskhub.storage_instances import InstanceStore
    from durable_host.taskhub.transports import HubTable

    names = TaskHubNames(hub_name, 1)
    hub_storage = TaskHubStorage(azurite, names, thin_client=thin)
    await hub_storage.create_if_not_exists()
    clients = StorageClients.connect(azurite, retry_total=3, thin_client=thin)
    assert (clients.rest is not None) == thin
    table = clients.hub_table(names.instances_table)
    calls: list[str] = []

    class ResetAfterFirstInsert:
        """The transport the choice made, whose first insert lands but loses its answer."""

        def __getattr__(self, name: str) -> Any:
            return getattr(table.rows, name)

        async def insert(self, *args: Any) -> str:
            calls.append("create")
            result = await table.rows.insert(*args)
            if len(calls) == 1:
                raise ServiceResponseError("Connection reset by peer")
            return result

    payloads = LargePayloads(clients.blobs, names.large_messages_container)
    store = InstanceStore(HubTable(table.client, ResetAfterFirstInsert()), payloads)
    with pytest.raises(CheckpointConflictError):
        await store.insert(record("reset"))
    assert calls == ["create", "create"]
    stored = await hub_storage.get_instance("reset")
    assert stored is not None and stored.runtime_status == OrchestrationStatus.Pending
    assert await store.insert(record("fresh"))
    await hub_storage.delete_task_hub()
    await hub_storage.close()
    await clients.close()
