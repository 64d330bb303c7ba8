"""The thin REST client against the SDK path, on Azurite: the same operations through both
give the same results, the same ETag/pop-receipt behaviour and the same storage errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.blob import (
    AccountSasPermissions,
    ResourceTypes,
    generate_account_sas,
)

from durable_host.errors import CheckpointConflictError, StorageError
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.large_payloads import MAX_MESSAGE_BYTES
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.rest_client import Service, StorageAccount
from durable_host.taskhub.storage import TaskHubStorage
from tests.taskhub.test_storage_history import completions, first_episode
from tests.taskhub.test_storage_instances import record
from tests.taskhub.test_storage_queues import start_message

Pair = tuple[TaskHubStorage, TaskHubStorage]


@pytest.fixture
async def pair(azurite: str, hub_name: str) -> AsyncIterator[Pair]:
    """(thin client, SDK) on one created task hub."""
    names = TaskHubNames(hub_name, partition_count=2)
    thin = TaskHubStorage(azurite, names, thin_client=True)
    sdk = TaskHubStorage(azurite, names, thin_client=False)
    assert thin.uses_thin_client and not sdk.uses_thin_client
    await sdk.create_if_not_exists()
    try:
        yield thin, sdk
    finally:
        await sdk.delete_task_hub()
        await asyncio.gather(thin.close(), sdk.close())


def both_ways(pair: Pair) -> list[tuple[TaskHubStorage, TaskHubStorage]]:
    thin, sdk = pair
    return [(thin, sdk), (sdk, thin)]


async def caught(call: Awaitable[object]) -> StorageError:
    with pytest.raises(StorageError) as error:
        await call
    return error.value


def same_error(thin: StorageError, sdk: StorageError) -> None:
    assert type(thin) is type(sdk)
    assert (thin.status, thin.pop_receipt_mismatch, thin.lease_lost) == (
        sdk.status,
        sdk.pop_receipt_mismatch,
        sdk.lease_lost,
    )
    # The tables SDK does not read the OData error body of a single-entity request, so its
    # code is None where the thin client names the service's.
    assert thin.code == sdk.code or (sdk.code is None and thin.code)


# ---------------------------------------------------------------------------- connection strings


def test_a_connection_without_key_or_sas_keeps_the_sdk_path() -> None:
    identity = "QueueEndpoint=https://a.queue.core.windows.net;AccountName=a"
    assert StorageAccount.parse(identity) is None
    assert StorageAccount.parse("UseDevelopmentStorage=true") is None


def test_an_account_key_names_every_endpoint() -> None:
    account = StorageAccount.parse(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"
    )
    assert account is not None
    assert account.key == b"key"
    assert account.endpoints[Service.TABLE] == "https://acct.table.core.windows.net"
    assert "a2V5" not in repr(account) and "key" not in repr(account)


@pytest.mark.parametrize("thin", [True, False], ids=["thin-client", "sdk"])
async def test_every_store_gets_the_transport_chosen_once(azurite: str, thin: bool) -> None:
    """The choice is made in StorageClients alone: all of a connection's stores go one way,
    and the hub's tables share one table transport."""
    from durable_host.taskhub.storage_clients import StorageClients

    clients = StorageClients.connect(azurite, retry_total=0, thin_client=thin)
    try:
        history, instances = clients.hub_table("aHistory"), clients.hub_table("aInstances")
        chosen = [clients.queue_transport(), history.rows, clients.blob_transport("c")]
        modules = {type(transport).__module__.rsplit(".", 1)[-1] for transport in chosen}
        expected = {"rest_queues", "rest_tables", "rest_blobs"} if thin else {"sdk_transports"}
        assert modules == expected
        assert instances.rows is history.rows and instances.name == "aInstances"
    finally:
        await clients.close()


# ---------------------------------------------------------------------------- queues


async def test_messages_sent_one_way_are_received_alike_the_other(pair: Pair) -> None:
    for writer, reader in both_ways(pair):
        msg = start_message(payload="\"a <b> & 'c' é\"")
        sent = await writer.send_control(0, msg)
        [got] = await reader.receive_control(0)
        assert (got.message_id, got.data, got.dequeue_count) == (sent.message_id, msg, 1)
        assert got.insertion_time is not None and got.insertion_time.tzinfo is not None
        renewed = await writer.renew_message(got, visibility_timeout=300)
        assert renewed != got.pop_receipt
        await reader.delete_message(replace(got, pop_receipt=renewed))
        assert await reader.peek_count(got.queue) == 0


async def test_both_paths_receive_a_message_with_the_same_fields(pair: Pair) -> None:
    thin, sdk = pair
    await sdk.send_work_item(start_message())
    [first] = await thin.receive_work_items(visibility_timeout=1)
    await sdk.abandon_message(first, delay=0)
    [second] = await sdk.receive_work_items()
    assert second.message_id == first.message_id
    assert (second.dequeue_count, second.body, second.data) == (2, first.body, first.data)
    assert second.insertion_time == first.insertion_time


async def test_a_stale_pop_receipt_fails_alike(pair: Pair) -> None:
    thin, sdk = pair
    await sdk.send_control(1, start_message())
    [got] = await sdk.receive_control(1)
    await sdk.renew_message(got, visibility_timeout=300)
    from_thin = await caught(thin.delete_message(got))
    from_sdk = await caught(sdk.delete_message(got))
    same_error(from_thin, from_sdk)
    assert from_thin.pop_receipt_mismatch
    same_error(
        await caught(thin.renew_message(got, visibility_timeout=5)),
        await caught(sdk.renew_message(got, visibility_timeout=5)),
    )


async def test_a_large_message_goes_through_a_blob_both_ways(pair: Pair) -> None:
    for writer, reader in both_ways(pair):
        msg = start_message(payload='"' + "x" * MAX_MESSAGE_BYTES + '"')
        await writer.send_work_item(msg)
        [got] = await reader.receive_work_items()
        assert got.data == msg and got.decode_error is None
        await reader.delete_message(got)


# ---------------------------------------------------------------------------- instances


async def test_instance_rows_read_back_the_same_through_both(pair: Pair) -> None:
    thin, sdk = pair
    big = '"' + "y" * 40_000 + '"'  # over the property limit: offloaded to a blob
    for n, (writer, reader) in enumerate(both_ways(pair)):
        iid = f"i'{n}/é"
        etag = await writer.insert_instance(record(iid, input=big))
        via_thin, via_sdk = (
            await thin.get_instance_with_etag(iid),
            await sdk.get_instance_with_etag(iid),
        )
        assert via_thin == via_sdk
        assert via_thin is not None and via_thin[1] == etag and via_thin[0].input == big
        merged = await writer.merge_instance(
            iid, {"runtime_status": OrchestrationStatus.Running, "custom_status": None}, etag=etag
        )
        after = await reader.get_instance_with_etag(iid)
        assert after == await writer.get_instance_with_etag(iid)
        assert after is not None and after[1] == merged
        assert after[0] == replace(
            via_thin[0],
            runtime_status=OrchestrationStatus.Running,
            custom_status=after[0].custom_status,
        )
    assert await thin.get_instance("nobody") is None and await sdk.get_instance("nobody") is None


async def test_instance_conflicts_fail_alike(pair: Pair) -> None:
    thin, sdk = pair
    etag = await sdk.insert_instance(record("c1"))
    same_error(
        await caught(thin.insert_instance(record("c1"))),
        await caught(sdk.insert_instance(record("c1"))),
    )
    await sdk.merge_instance("c1", {"runtime_status": OrchestrationStatus.Running})
    stale = {"runtime_status": OrchestrationStatus.Completed}
    from_thin = await caught(thin.merge_instance("c1", stale, etag=etag))
    same_error(from_thin, await caught(sdk.merge_instance("c1", stale, etag=etag)))
    assert isinstance(from_thin, CheckpointConflictError) and from_thin.status == 412
    same_error(
        await caught(thin.insert_or_replace_instance(record("c1"), etag=etag)),
        await caught(sdk.insert_or_replace_instance(record("c1"), etag=etag)),
    )
    same_error(
        await caught(thin.merge_instance("gone", stale, etag=etag)),
        await caught(sdk.merge_instance("gone", stale, etag=etag)),
    )


# ---------------------------------------------------------------------------- history


async def test_checkpoints_written_one_way_load_the_other(pair: Pair) -> None:
    for n, (writer, reader) in enumerate(both_ways(pair)):
        iid = f"h{n}"
        events = first_episode(iid, "x1", payload='"' + "z" * 40_000 + '"')
        etag = await writer.append_history(iid, "x1", start_index=0, events=events, etag=None)
        etag = await writer.append_history(
            iid, "x1", start_index=len(events), events=completions(2), etag=etag
        )
        loaded = await reader.load_history(iid)
        assert loaded.events == [*events, *completions(2)]
        assert (loaded.execution_id, loaded.etag) == ("x1", etag)


async def test_checkpoint_conflicts_fail_alike(pair: Pair) -> None:
    thin, sdk = pair
    events = first_episode("k", "x1")
    first = await sdk.append_history("k", "x1", start_index=0, events=events, etag=None)
    # A second creation of the sentinel, then a write against a moved sentinel.
    again = {"start_index": 0, "events": events, "etag": None}
    same_error(
        await caught(thin.append_history("k", "x1", **again)),  # type: ignore[arg-type]
        await caught(sdk.append_history("k", "x1", **again)),  # type: ignore[arg-type]
    )
    await sdk.append_history("k", "x1", start_index=4, events=completions(1), etag=first)
    stale = {"start_index": 4, "events": completions(1), "etag": first}
    from_thin = await caught(thin.append_history("k", "x1", **stale))  # type: ignore[arg-type]
    same_error(from_thin, await caught(sdk.append_history("k", "x1", **stale)))  # type: ignore[arg-type]
    assert isinstance(from_thin, CheckpointConflictError)


# ---------------------------------------------------------------------------- authorization, reach


async def test_an_account_sas_connection_uses_the_thin_client(
    pair: Pair, azurite: str, hub_name: str
) -> None:
    account = StorageAccount.parse(azurite)
    assert account is not None and account.key is not None
    import base64

    sas = generate_account_sas(
        account.name,
        base64.b64encode(account.key).decode(),
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(
            read=True,
            write=True,
            delete=True,
            list=True,
            add=True,
            create=True,
            update=True,
            process=True,
        ),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
        services="bqt",  # blob, queue and table: Services has no table
    )
    endpoints = ";".join(f"{s.value.capitalize()}Endpoint={account.endpoints[s]}" for s in Service)
    sas_storage = TaskHubStorage(
        f"{endpoints};SharedAccessSignature={sas}",
        TaskHubNames(hub_name, partition_count=2),
        thin_client=True,
    )
    _, sdk = pair
    try:
        assert sas_storage.uses_thin_client
        msg = start_message()
        await sas_storage.send_control(0, msg)
        [got] = await sdk.receive_control(0)
        assert got.data == msg
        etag = await sas_storage.insert_instance(record("s1"))
        assert (await sdk.get_instance_with_etag("s1")) == (record("s1"), etag)
        events = first_episode("s1", "x1")
        await sas_storage.append_history("s1", "x1", start_index=0, events=events, etag=None)
        assert (await sdk.load_history("s1")).events == events
    finally:
        await sas_storage.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_endpoint_fails_alike(hub_name: str) -> None:
    port = _closed_port()
    key = "a2V5"
    connection = ";".join(
        [f"AccountName=acct;AccountKey={key}"]
        + [f"{s}Endpoint=http://127.0.0.1:{port}/acct" for s in ("Blob", "Queue", "Table")]
    )
    names = TaskHubNames(hub_name, partition_count=1)
    errors = []
    for thin in (True, False):
        async with TaskHubStorage(connection, names, retry_total=0, thin_client=thin) as storage:
            errors.append(await caught(storage.send_work_item(start_message())))
            errors.append(await caught(storage.get_instance("x")))
    for error in errors:
        assert "unreachable" in str(error) and error.status is None


async def test_a_history_longer_than_a_page_loads_whole_through_both(pair: Pair) -> None:
    thin, sdk = pair
    # The table service answers at most 1,000 entities a page: the rest needs its token.
    events = [*first_episode("long", "x1"), *completions(1_000)]
    etag = await thin.append_history("long", "x1", start_index=0, events=events, etag=None)
    via_thin, via_sdk = await thin.load_history("long"), await sdk.load_history("long")
    assert via_thin == via_sdk
    assert via_thin.events == events and via_thin.etag == etag
