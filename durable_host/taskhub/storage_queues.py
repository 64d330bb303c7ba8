"""Control and work-item queue I/O: raw UTF-8 JSON bodies, large-message blobs, poison queue.

Bodies are written as raw JSON, as DurableTask.AzureStorage 2.x does; the
queue clients keep the SDK's default no-op encode/decode policy
(TextBase64EncodePolicy would write 1.x-style base64). `queue_messages.decode_message`
still accepts base64 bodies written by older providers.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache

from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from durable_host.errors import MessageFormatError, StorageError
from durable_host.taskhub.events import MessageData
from durable_host.taskhub.large_payloads import MAX_MESSAGE_BYTES, LargePayloads, message_blob_name
from durable_host.taskhub.queue_messages import decode_message, encode_message
from durable_host.taskhub.storage_errors import storage_errors
from durable_host.taskhub.transports import QueueTransport

__all__ = ["MAX_QUEUE_DELAY", "QueueStore", "ReceivedMessage", "SentMessage"]

# Queue visibility timeouts are capped at 7 days; keep a margin for clock skew.
# Longer timers are the caller's job (chained timers), as in Durable Functions.
MAX_QUEUE_DELAY = 7 * 24 * 3600 - 60
# -1 = never expire; the service default (7 days) would silently drop long-waiting messages.
_NO_EXPIRY = -1
_NULL_GUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class SentMessage:
    """A message this host sent: with the receipt, it can delete it without receiving it."""

    queue: str
    message_id: str
    pop_receipt: str
    data: MessageData


@dataclass(frozen=True)
class ReceivedMessage:
    """A received (now invisible) message. `data` is None when the body could not be decoded.

    `body` is the raw queue text (the stub, for a large message), kept for the poison queue.
    """

    queue: str
    message_id: str
    pop_receipt: str
    dequeue_count: int
    insertion_time: datetime | None
    data: MessageData | None
    body: str
    decode_error: str | None = None


def _seconds(delay: float) -> int | None:
    if delay <= 0:
        return None
    # Round up: a timer must never become visible before it is due.
    return min(math.ceil(delay), MAX_QUEUE_DELAY)


class QueueStore:
    """Queue operations of one task hub over one shared QueueServiceClient."""

    def __init__(
        self,
        service: QueueServiceClient,
        transport: QueueTransport,
        payloads: LargePayloads,
        poison_queue: str,
    ):
        # The hot-path operations; the SDK's clients below serve the poison queue and counts.
        self._messages = transport
        self._payloads = payloads
        self._poison_queue = poison_queue
        self._clients = cache(service.get_queue_client)

    def client(self, queue: str) -> QueueClient:
        return self._clients(queue)

    # ------------------------------------------------------------------ send

    async def send(self, queue: str, msg: MessageData, *, delay: float = 0.0) -> SentMessage:
        body = encode_message(msg)
        if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
            body = await self._offload(msg, body)
        with storage_errors(f"send a message to queue {queue}"):
            sent = await self._messages.send(
                queue, body, visibility_timeout=_seconds(delay), time_to_live=_NO_EXPIRY
            )
        return SentMessage(queue, sent.id, sent.pop_receipt or "", msg)

    async def _offload(self, msg: MessageData, body: str) -> str:
        if msg.task_message is None:
            raise MessageFormatError(
                f"Message {msg.activity_id} is over {MAX_MESSAGE_BYTES} bytes but has no "
                "TaskMessage to name its large-message blob after."
            )
        name = message_blob_name(
            msg.task_message.orchestration_instance.instance_id,
            msg.activity_id,
            msg.task_message.event.event_type.dotnet_name,
        )
        await self._payloads.upload(name, body)
        return encode_message(
            MessageData(activity_id=_NULL_GUID, task_message=None, compressed_blob_name=name)
        )

    # ------------------------------------------------------------------ receive

    async def receive(
        self, queue: str, *, max_messages: int, visibility_timeout: float
    ) -> list[ReceivedMessage]:
        count = max(1, min(32, max_messages))
        timeout = max(1, math.ceil(visibility_timeout))
        with storage_errors(f"receive messages from queue {queue}"):
            raw = await self._messages.receive(
                queue, max_messages=count, visibility_timeout=timeout
            )
        if not raw:
            return []
        return list(await asyncio.gather(*(self._decode(queue, m) for m in raw)))

    async def _decode(self, queue: str, message: QueueMessage) -> ReceivedMessage:
        body = message.content if isinstance(message.content, str) else str(message.content)
        data: MessageData | None = None
        error: str | None = None
        try:
            decoded = decode_message(body)
            if decoded.compressed_blob_name:
                blob = decoded.compressed_blob_name
                decoded = decode_message(await self._payloads.download(blob))
            if decoded.task_message is None:
                raise MessageFormatError("the message carries no TaskMessage")
            data = decoded
        except StorageError as exc:
            if exc.status != 404:
                raise
            error = f"its large-message blob is missing: {exc}"
        except Exception as exc:  # any decode failure makes a poison message, never a crash
            error = f"{type(exc).__name__}: {exc}"
        return ReceivedMessage(
            queue=queue,
            message_id=message.id,
            pop_receipt=message.pop_receipt or "",
            dequeue_count=message.dequeue_count or 0,
            insertion_time=message.inserted_on,
            data=data,
            body=body,
            decode_error=error,
        )

    # ------------------------------------------------------------------ settle

    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None:
        with storage_errors(f"delete message {message_id} from queue {queue}"):
            await self._messages.delete(queue, message_id, pop_receipt)

    async def update_visibility(
        self, queue: str, message_id: str, pop_receipt: str, seconds: float
    ) -> str:
        """Make the message visible again after `seconds` (0 = now); returns the new receipt."""
        timeout = min(max(0, math.ceil(seconds)), MAX_QUEUE_DELAY)
        with storage_errors(f"update message {message_id} in queue {queue}"):
            return await self._messages.update_visibility(queue, message_id, pop_receipt, timeout)

    async def move_to_poison(self, msg: ReceivedMessage, reason: str) -> None:
        """Park the raw body with the reason in the poison queue, then delete the original."""
        record = {
            "Reason": reason,
            "Queue": msg.queue,
            "MessageId": msg.message_id,
            "DequeueCount": msg.dequeue_count,
            "InsertionTime": msg.insertion_time.isoformat() if msg.insertion_time else None,
            "PoisonedAt": datetime.now(timezone.utc).isoformat(),
            "Body": msg.body,
            "BodyBlobName": None,
        }
        text = json.dumps(record, ensure_ascii=False)
        if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
            # JSON escaping can push a near-limit body over the queue limit.
            name = f"poison/{msg.queue}-{msg.message_id}.txt.gz"
            await self._payloads.upload(name, msg.body)
            record["Body"], record["BodyBlobName"] = None, name
            text = json.dumps(record, ensure_ascii=False)
        with storage_errors(f"send a message to poison queue {self._poison_queue}"):
            await self.client(self._poison_queue).send_message(text, time_to_live=_NO_EXPIRY)
        await self.delete(msg.queue, msg.message_id, msg.pop_receipt)

    async def approximate_count(self, queue: str) -> int:
        with storage_errors(f"read properties of queue {queue}"):
            props = await self.client(queue).get_queue_properties()
        return int(props.approximate_message_count or 0)
