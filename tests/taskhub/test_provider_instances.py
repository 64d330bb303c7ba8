"""Instances rows between durable_host and DurableTask.AzureStorage (issue 27, items 1 and 7):
what we write, read by the provider's rules (tests/provider_reader.py), and rows the provider
writes (tests/provider_rows.py), read by our storage, client and HTTP API."""

from __future__ import annotations

import json

from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.storage import TaskHubStorage
from tests.provider_reader import read_instance
from tests.provider_rows import (
    T0,
    get_row,
    hub_client,
    instances_row,
    put_blob,
    put_row,
    start_message_json,
)

BIG = json.dumps("€" * 40_000)  # 80 KB in UTF-16: over the provider's 60 KB property limit
BIG_OUT = json.dumps("o" * 70_000)


async def test_large_input_and_output_we_write_are_read_by_the_provider(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    # Item 1: ConvertFromAsync follows only a blob URL in Input/Output (AzureTableTrackingStore.cs
    # 476-509); the checkpoint writes that URL (1275-1293). A `""` + `InputBlobName` row reads
    # as an empty input there.
    record = InstanceRecord(
        instance_id="big/1",
        name="hello",
        runtime_status=OrchestrationStatus.Running,
        execution_id="e1",
        input=BIG,
        created_time=T0,
        last_updated_time=T0,
    )
    await hub_storage.insert_or_replace_instance(record)
    await hub_storage.merge_instance(
        "big/1", {"output": BIG + " ", "runtime_status": OrchestrationStatus.Completed}
    )
    seen = await read_instance(azurite, hub_storage.names.instances_table, "big/1")
    assert (seen.input, seen.output, seen.status) == (BIG, BIG + " ", "Completed")
    assert not any(column.endswith("BlobName") for column in seen.row)
    # And we read our own rows back.
    got = await hub_storage.get_instance("big/1")
    assert got is not None and (got.input, got.output) == (BIG, BIG + " ")


async def test_a_small_value_merged_over_a_large_one_wins(hub_storage: TaskHubStorage) -> None:
    record = InstanceRecord(
        instance_id="big2", name="hello", runtime_status=OrchestrationStatus.Running, output=BIG
    )
    await hub_storage.insert_or_replace_instance(record)
    await hub_storage.merge_instance("big2", {"output": '"small"', "custom_status": BIG})
    got = await hub_storage.get_instance("big2")
    assert got is not None and (got.output, got.custom_status) == ('"small"', BIG)


async def test_rows_we_wrote_before_urls_still_read(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    # Older durable_host rows: `""` plus `<Prop>BlobName`.
    names = hub_storage.names
    blob = "old/history--Input-1-Input.json.gz"
    await put_blob(azurite, names.large_messages_container, blob, BIG)
    row = instances_row("old", names.hub, Input="", InputBlobName=blob)
    await put_row(azurite, names.instances_table, row)
    got = await hub_storage.get_instance("old")
    assert got is not None and got.input == BIG


async def test_provider_rows_with_blob_urls_read_by_client_and_http_api(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    names = hub_storage.names
    container = names.large_messages_container
    # A checkpoint of a finished instance: Input and Output are URLs of the History rows'
    # blobs (SetInstancesTablePropertyFromHistoryProperty, AzureTableTrackingStore.cs 1275-1293;
    # blob names by GetBlobName, 1352-1386).
    input_url = await put_blob(
        azurite,
        container,
        "done/history-0000000000000001-ExecutionStarted-1A2B3C4D-Input.json.gz",
        BIG,
    )
    output_url = await put_blob(
        azurite,
        container,
        "done/history-0000000000000005-ExecutionCompleted-5E6F7A8B-Result.json.gz",
        BIG_OUT,
    )
    await put_row(
        azurite,
        names.instances_table,
        instances_row(
            "done",
            names.hub,
            Input=input_url,
            Output=output_url,
            RuntimeStatus="Completed",
            CompletedTime=T0,
        ),
    )
    # A client's Pending row whose start message went to a blob: Input is that message's URL
    # (AzureStorageOrchestrationService.cs 1784-1797; ConvertFromAsync 479-499 reads the event).
    message_url = await put_blob(
        azurite,
        container,
        "pending/message-8b3c1f2e000040008000000000000001-ExecutionStarted.json.gz",
        start_message_json("pending", "e9", "hello", BIG),
    )
    await put_row(
        azurite,
        names.instances_table,
        instances_row("pending", names.hub, Input=message_url, RuntimeStatus="Pending"),
    )
    async with hub_client(hub_storage) as (client, http):
        done = await client.get_status("done", show_input=True)
        assert done is not None and (done.input, done.output) == (BIG, BIG_OUT)
        pending = await client.get_status("pending", show_input=True)
        assert pending is not None and pending.input == BIG
        response = await http.get(
            "/runtime/webhooks/durabletask/instances/done", params={"showInput": "true"}
        )
        body = await response.json()
        assert response.status == 200
        assert (body["input"], body["output"]) == (json.loads(BIG), json.loads(BIG_OUT))
    raw = await get_row(azurite, names.instances_table, "done")
    assert raw["Input"] == input_url  # reading never rewrites the provider's row
