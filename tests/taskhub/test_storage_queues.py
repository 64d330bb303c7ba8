from __future__ import annotations

import asyncio
import base64
import gzip
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from durable_host.errors import StorageError
from durable_host.taskhub.events import (
    ExecutionStarted,
    MessageData,
    OrchestrationInstance,
    TaskMessage,
)
from durable_host.taskhub.queue_messages import encode_message
from durable_host.taskhub.storage import MAX_QUEUE_DELAY, TaskHubStorage


def start_message(instance_id: str = "abc123", payload: str = '"World"') -> MessageData:
    instance = OrchestrationInstance(instance_id, uuid.uuid4().hex)
    event = ExecutionStarted(
        timestamp=datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc),
        orchestration_instance=instance,
        name="Hello",
        input=payload,
    )
    return MessageData(
        activity_id=str(uuid.uuid4()),
        task_message=TaskMessage(event=event, orchestration_instance=instance),
        sequence_number=7,
    )


def raw_queue(conn: str, name: str) -> QueueClient:
    return QueueClient.from_connection_string(conn, name)


async def test_send_writes_raw_json_and_receive_decodes_it(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    msg = start_message()
    sent = await hub_storage.send_control(1, msg)
    assert sent.queue == hub_storage.names.control_queue(1)
    assert sent.pop_receipt

    peeked = await asyncio.to_thread(raw_queue(azurite, sent.queue).peek_messages)
    assert len(peeked) == 1
    body = peeked[0].content
    assert body.startswith('{"$type":"DurableTask.AzureStorage.MessageData"')  # not base64
    assert json.loads(body)["TaskMessage"]["Event"]["Name"] == "Hello"

    received = await hub_storage.receive_control(1)
    assert len(received) == 1
    got = received[0]
    assert got.data == msg
    assert got.decode_error is None
    assert got.message_id == sent.message_id
    assert got.dequeue_count == 1
    assert got.insertion_time is not None
    await hub_storage.delete_message(got)
    assert await hub_storage.peek_count(sent.queue) == 0


async def test_base64_bodies_from_older_providers_are_accepted(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    msg = start_message()
    body = base64.b64encode(encode_message(msg).encode("utf-8")).decode("ascii")
    queue = hub_storage.names.work_item_queue
    await asyncio.to_thread(raw_queue(azurite, queue).send_message, body)
    [got] = await hub_storage.receive_work_items(max_messages=5)
    assert got.data == msg


async def test_sent_receipt_deletes_an_invisible_message(hub_storage: TaskHubStorage) -> None:
    sent = await hub_storage.send_work_item(start_message(), delay=60)
    assert await hub_storage.receive_work_items(max_messages=32) == []
    await hub_storage.delete_message(sent)
    assert await hub_storage.peek_count(sent.queue) == 0


async def test_delay_beyond_the_queue_limit_is_clamped(hub_storage: TaskHubStorage) -> None:
    sent = await hub_storage.send_control(0, start_message(), delay=30 * 24 * 3600)
    assert MAX_QUEUE_DELAY < 7 * 24 * 3600
    assert await hub_storage.peek_count(sent.queue) == 1
    assert await hub_storage.receive_control(0) == []


async def test_abandon_makes_the_message_visible_again(hub_storage: TaskHubStorage) -> None:
    await hub_storage.send_control(2, start_message())
    [first] = await hub_storage.receive_control(2, visibility_timeout=300)
    assert await hub_storage.receive_control(2) == []
    new_receipt = await hub_storage.abandon_message(first, delay=timedelta(0))
    assert new_receipt and new_receipt != first.pop_receipt
    [second] = await hub_storage.receive_control(2)
    assert second.message_id == first.message_id
    assert second.dequeue_count == 2


async def test_renew_returns_a_receipt_that_deletes(hub_storage: TaskHubStorage) -> None:
    await hub_storage.send_work_item(start_message())
    [got] = await hub_storage.receive_work_items(max_messages=1, visibility_timeout=5)
    receipt = await hub_storage.renew_message(got, visibility_timeout=600)
    with pytest.raises(StorageError) as stale:
        await hub_storage.delete_message(got)  # the old receipt no longer matches
    assert stale.value.pop_receipt_mismatch
    assert stale.value.status in (400, 404)
    await hub_storage._queues.delete(got.queue, got.message_id, receipt)
    assert await hub_storage.peek_count(got.queue) == 0


async def test_receive_takes_at_most_max_messages(hub_storage: TaskHubStorage) -> None:
    await asyncio.gather(*(hub_storage.send_control(3, start_message(f"i{n}")) for n in range(5)))
    batch = await hub_storage.receive_control(3, max_messages=3)
    assert len(batch) == 3
    rest = await hub_storage.receive_control(3, max_messages=32)
    assert len(rest) == 2
    ids = {m.data.task_message.orchestration_instance.instance_id for m in batch + rest}  # type: ignore[union-attr]
    assert ids == {f"i{n}" for n in range(5)}


async def test_large_message_goes_through_a_gzipped_blob(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    payload = json.dumps("Grüße, 世界 🌍 " * 80_000, ensure_ascii=False)  # ~1 MB of unicode
    instance_id = "big/one#1"
    msg = start_message(instance_id, payload)
    sent = await hub_storage.send_control(0, msg)
    assert sent.data == msg

    [peeked] = await asyncio.to_thread(raw_queue(azurite, sent.queue).peek_messages)
    stub = json.loads(peeked.content)
    expected = f"{instance_id}/message-{msg.activity_id.replace('-', '')}-ExecutionStarted.json.gz"
    assert stub["CompressedBlobName"] == expected
    assert stub["TaskMessage"] is None
    assert len(peeked.content) < 1000

    container = BlobServiceClient.from_connection_string(azurite).get_container_client(
        hub_storage.names.large_messages_container
    )
    blob = await asyncio.to_thread(lambda: container.download_blob(expected).readall())
    assert json.loads(gzip.decompress(blob))["TaskMessage"]["Event"]["Input"] == payload

    [got] = await hub_storage.receive_control(0)
    assert got.data == msg
    assert got.data is not None and got.data.task_message is not None
    assert got.data.task_message.event.input == payload  # type: ignore[attr-defined]


async def test_garbage_body_is_reported_and_moved_to_poison(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    queue = hub_storage.names.control_queue(1)
    await asyncio.to_thread(raw_queue(azurite, queue).send_message, "{not json")
    await hub_storage.send_control(1, start_message())
    received = await hub_storage.receive_control(1)
    assert len(received) == 2
    bad = [m for m in received if m.data is None]
    good = [m for m in received if m.data is not None]
    assert len(bad) == 1 and len(good) == 1
    assert bad[0].decode_error
    assert bad[0].body == "{not json"

    await hub_storage.move_to_poison(bad[0], "undecodable body")
    lengths = await hub_storage.queue_lengths()
    assert lengths[hub_storage.names.poison_queue] == 1
    assert lengths[queue] == 1  # only the good one, still invisible
    [parked] = await asyncio.to_thread(
        raw_queue(azurite, hub_storage.names.poison_queue).peek_messages
    )
    record = json.loads(parked.content)
    assert record["Reason"] == "undecodable body"
    assert record["Body"] == "{not json"
    assert record["Queue"] == queue


async def test_missing_large_message_blob_is_a_decode_error(
    hub_storage: TaskHubStorage, azurite: str
) -> None:
    stub = MessageData(
        activity_id="00000000-0000-0000-0000-000000000000",
        task_message=None,
        compressed_blob_name="gone/message-x-ExecutionStarted.json.gz",
    )
    queue = hub_storage.names.work_item_queue
    await asyncio.to_thread(raw_queue(azurite, queue).send_message, encode_message(stub))
    [got] = await hub_storage.receive_work_items(max_messages=1)
    assert got.data is None
    assert got.decode_error and "missing" in got.decode_error
