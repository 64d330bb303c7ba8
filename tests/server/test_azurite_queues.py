"""Azurite's queue store answers the same with the lookup patch (durable_host/server/patches,
applied by `npm ci`; see docs/azurite-queues.md): messages are found from the queueName and
messageId indices, and the sweep of expired messages that runs before every get, peek, update
and delete skips a queue none of whose messages can have expired yet (a per-queue lower bound
on the expiry times, lowered by every send).

Each test mixes queues on one account, as a task hub does (control queues, work items).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.queue.aio import QueueClient, QueueServiceClient

DEADLINE_SECONDS = 20.0


@pytest.fixture
async def queues(azurite: str) -> AsyncIterator[tuple[QueueClient, QueueClient]]:
    async with QueueServiceClient.from_connection_string(azurite) as service:
        names = [f"q{uuid.uuid4().hex[:12]}" for _ in range(2)]
        clients = [await service.create_queue(name) for name in names]
        try:
            yield clients[0], clients[1]
        finally:
            for name in names:
                await service.delete_queue(name)


async def _peeked(queue: QueueClient) -> list[str]:
    return [message.content for message in await queue.peek_messages(max_messages=32)]


async def _wait_until_gone(queue: QueueClient, content: str) -> list[str]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while content in (peeked := await _peeked(queue)):
        assert time.monotonic() < deadline, f"{content!r} was still in the queue after its TTL"
        await asyncio.sleep(0.1)
    return peeked


@pytest.mark.parametrize("scanned_before_send", [True, False])
async def test_an_expired_message_vanishes_whether_the_queue_was_swept_before_or_after_its_send(
    queues: tuple[QueueClient, QueueClient], scanned_before_send: bool
) -> None:
    queue, other = queues
    await queue.send_message("stays")  # the default TTL: 7 days
    await other.send_message("elsewhere", time_to_live=-1)
    if scanned_before_send:
        # The peek sweeps the queue and remembers its earliest expiry (7 days away); the send
        # of the short-lived message must lower it.
        assert await _peeked(queue) == ["stays"]
    short = await queue.send_message("short", time_to_live=1)
    if not scanned_before_send:
        assert await _peeked(queue) == ["stays", "short"]

    assert await _wait_until_gone(queue, "short") == ["stays"]
    with pytest.raises(ResourceNotFoundError):
        await queue.delete_message(short.id, short.pop_receipt)
    assert [m.content async for m in queue.receive_messages(max_messages=32)] == ["stays"]
    assert await _peeked(other) == ["elsewhere"]


async def test_messages_are_received_in_order_and_deleted_by_id_within_their_own_queue(
    queues: tuple[QueueClient, QueueClient],
) -> None:
    queue, other = queues
    sent = []
    for i in range(40):
        sent.append(await queue.send_message(f"m{i:02d}", time_to_live=-1))
        await other.send_message(f"o{i:02d}", time_to_live=3600)
    received = [m async for m in queue.receive_messages(messages_per_page=32, max_messages=32)]
    assert [m.content for m in received] == [f"m{i:02d}" for i in range(32)]
    assert {m.id for m in received} == {m.id for m in sent[:32]}

    # Another queue's message id is not found here, a stale pop receipt is refused.
    theirs = await other.receive_message()
    assert theirs is not None
    with pytest.raises(ResourceNotFoundError):
        await queue.delete_message(theirs.id, theirs.pop_receipt)
    with pytest.raises(HttpResponseError) as stale:
        await queue.delete_message(received[0].id, sent[0].pop_receipt)
    assert stale.value.status_code == 400
    for message in received:
        await queue.delete_message(message)
    with pytest.raises(ResourceNotFoundError):
        await queue.delete_message(received[0])

    assert await _peeked(queue) == [f"m{i:02d}" for i in range(32, 40)]
    assert len(await _peeked(other)) == 32
    first = await queue.receive_message()
    assert first is not None and first.content == "m32"
    await queue.update_message(first, content="changed", visibility_timeout=0)
    assert await _peeked(queue) == [*(f"m{i:02d}" for i in range(33, 40)), "changed"]
