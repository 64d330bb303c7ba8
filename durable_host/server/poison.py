"""The `<hub>-poison` queue: list, replay and delete the messages the engine moved aside.

The engine parks a message it cannot process (undecodable, or failing again and again)
as a JSON record: `Reason`, `Queue`, `MessageId`, `DequeueCount`, `InsertionTime`,
`PoisonedAt`, and the untouched original text in `Body` (or, when the record would be
over the queue's size limit, in the large-messages blob named by `BodyBlobName`).
Replay sends that text back to the queue it came from, unchanged, and deletes the record.

Queues only let a reader see all messages by receiving them, so every operation receives
the whole poison queue for a short while and makes what it keeps visible again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from durable_host.errors import DurableHostError
from durable_host.server.app_hub import HubLocation, app_task_hub
from durable_host.taskhub.large_payloads import LargePayloads
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage_errors import storage_errors

__all__ = ["HubLocation", "PoisonError", "PoisonQueue", "PoisonRecord", "app_task_hub"]

# Long enough for one CLI command to finish; short enough that a crashed command's hold ends soon.
_HOLD_SECONDS = 30
# Poison records never expire, as the messages they came from.
_NO_EXPIRY = -1


class PoisonError(DurableHostError):
    """A poison record cannot be found or replayed."""


@dataclass(frozen=True)
class PoisonRecord:
    """One parked message. `id` is the poison queue's own message id (what the CLI takes)."""

    id: str
    reason: str
    queue: str
    message_id: str
    dequeue_count: int
    insertion_time: str | None
    poisoned_at: str | None
    body: str | None
    body_blob_name: str | None

    @classmethod
    def parse(cls, poison_id: str, text: str) -> PoisonRecord:
        """Read a record; text that is not one is kept whole as the body, with no queue."""
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(
                poison_id, "not a durable_host poison record", "", "", 0, None, None, text, None
            )
        count = data.get("DequeueCount")
        return cls(
            id=poison_id,
            reason=str(data.get("Reason") or ""),
            queue=str(data.get("Queue") or ""),
            message_id=str(data.get("MessageId") or ""),
            dequeue_count=count if isinstance(count, int) else 0,
            insertion_time=_text_or_none(data.get("InsertionTime")),
            poisoned_at=_text_or_none(data.get("PoisonedAt")),
            body=_text_or_none(data.get("Body")),
            body_blob_name=_text_or_none(data.get("BodyBlobName")),
        )

    def summary(self) -> dict[str, Any]:
        """The record as the CLI prints it (body cut to a preview)."""
        body = self.body if self.body is not None else f"<in blob {self.body_blob_name}>"
        return {
            "id": self.id,
            "queue": self.queue,
            "messageId": self.message_id,
            "dequeueCount": self.dequeue_count,
            "poisonedAt": self.poisoned_at,
            "reason": self.reason,
            "body": body if len(body) <= 200 else body[:200] + "...",
        }


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class _Held:
    record: PoisonRecord
    pop_receipt: str


class PoisonQueue:
    """The poison queue of one task hub. Use `async with`, or call `close()`."""

    def __init__(self, connection_string: str, names: TaskHubNames) -> None:
        self.names = names
        self._queues = QueueServiceClient.from_connection_string(connection_string)
        self._blobs = BlobServiceClient.from_connection_string(connection_string)
        self._payloads = LargePayloads(self._blobs, names.large_messages_container)

    def __repr__(self) -> str:
        # Never the connection string: it carries the account key.
        return f"PoisonQueue(hub={self.names.hub!r})"

    async def __aenter__(self) -> PoisonQueue:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._queues.close()
        await self._blobs.close()

    def _client(self, queue: str) -> QueueClient:
        return self._queues.get_queue_client(queue)

    # ------------------------------------------------------------------ operations

    async def list_records(self) -> list[PoisonRecord]:
        held = await self._hold_all()
        await self._release(held)
        return [h.record for h in held]

    async def _hold_chosen(self, ids: Iterable[str] | None) -> list[_Held]:
        """Hold every record, release all but the chosen ones; none held if an id is unknown."""
        held = await self._hold_all()
        wanted = None if ids is None else list(ids)
        error = _missing(held, wanted)
        if error is not None:
            await self._release(held)
            raise error
        chosen, others = _choose(held, wanted)
        await self._release(others)
        return chosen

    async def replay(self, ids: Iterable[str] | None = None) -> list[PoisonRecord]:
        """Send the chosen records' bodies back to their queues (None: every record)."""
        chosen = await self._hold_chosen(ids)
        done: list[PoisonRecord] = []
        try:
            for item in chosen:
                await self._send_back(item.record)
                await self._delete(item)
                done.append(item.record)
        finally:
            await self._release([h for h in chosen if h.record not in done])
        return done

    async def delete(self, ids: Iterable[str] | None = None) -> list[PoisonRecord]:
        """Delete the chosen records for good (None: every record)."""
        chosen = await self._hold_chosen(ids)
        for item in chosen:
            await self._delete(item)
        return [h.record for h in chosen]

    # ------------------------------------------------------------------ pieces

    async def _hold_all(self) -> list[_Held]:
        """Receive every record (they stay invisible for `_HOLD_SECONDS`)."""
        queue = self.names.poison_queue
        client = self._client(queue)
        held: list[_Held] = []
        with storage_errors(f"receive messages from queue {queue}"):
            try:
                while True:
                    page: list[QueueMessage] = [
                        m
                        async for m in client.receive_messages(
                            messages_per_page=32, max_messages=32, visibility_timeout=_HOLD_SECONDS
                        )
                    ]
                    if not page:
                        break
                    for message in page:
                        text = message.content if isinstance(message.content, str) else ""
                        record = PoisonRecord.parse(message.id, text)
                        held.append(_Held(record, message.pop_receipt or ""))
            except ResourceNotFoundError:
                raise PoisonError(
                    f"Task hub '{self.names.hub}' has no poison queue ({queue}). Check the hub "
                    "name (host.json extensions.durableTask.hubName) and the storage connection; "
                    "the queue is created when a host first starts on the hub."
                ) from None
        return held

    async def _release(self, held: Iterable[_Held]) -> None:
        queue = self.names.poison_queue
        for item in held:
            with storage_errors(f"update message {item.record.id} in queue {queue}"):
                await self._client(queue).update_message(
                    item.record.id, item.pop_receipt, visibility_timeout=0
                )

    async def _delete(self, item: _Held) -> None:
        queue = self.names.poison_queue
        with storage_errors(f"delete message {item.record.id} from queue {queue}"):
            await self._client(queue).delete_message(item.record.id, item.pop_receipt)

    async def _send_back(self, record: PoisonRecord) -> None:
        hub_queues = {*self.names.control_queues, self.names.work_item_queue}
        if record.queue not in hub_queues:
            raise PoisonError(
                f"Poison record {record.id} names queue {record.queue!r}, which is not a control "
                f"or work-item queue of task hub '{self.names.hub}'; it cannot be replayed. "
                "Inspect it with `poison list` and delete it with `poison delete --id`."
            )
        body = record.body
        if body is None and record.body_blob_name is not None:
            body = await self._payloads.download(record.body_blob_name)
        if body is None:
            raise PoisonError(f"Poison record {record.id} has no body to replay.")
        with storage_errors(f"send a message to queue {record.queue}"):
            await self._client(record.queue).send_message(body, time_to_live=_NO_EXPIRY)


def _choose(held: list[_Held], ids: Iterable[str] | None) -> tuple[list[_Held], list[_Held]]:
    if ids is None:
        return held, []
    wanted = set(ids)
    return (
        [h for h in held if h.record.id in wanted],
        [h for h in held if h.record.id not in wanted],
    )


def _missing(held: list[_Held], ids: Iterable[str] | None) -> PoisonError | None:
    if ids is None:
        return None
    unknown = sorted(set(ids) - {h.record.id for h in held})
    if not unknown:
        return None
    return PoisonError(
        f"No poison record with id {', '.join(unknown)}; "
        "`python -m durable_host poison list` shows the ids."
    )
