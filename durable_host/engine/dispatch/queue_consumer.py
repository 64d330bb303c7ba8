"""What every dispatcher does with a queue: poll it, settle what it received, park poison.

The orchestration dispatcher (one loop per control-queue partition) and the activity
dispatcher (the work-item queue) share this base, as the provider's control and work-item
queues share one queue class and one back-off polling helper:

- polling: an empty receive doubles the wait before the next (up to the configured
  maximum polling interval); a message, or a wake-up from this host's own sends, makes the
  next receive brisk again;
- settling: a message is deleted once its effects are stored, or abandoned (made visible
  again after a delay that doubles with each delivery, capped at ten minutes); either way a
  message handed over while its send was still under way (an EarlyMessage) is first
  resolved to its stored copy, so no caller has to remember to;
- poison: a message that cannot be read, or whose processing keeps failing, is moved to
  `<hub>-poison` after a bounded number of deliveries instead of blocking its queue forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from durable_host.engine.dispatch.abandon import Abandoner, storage_unavailable
from durable_host.engine.dispatch.router import stored_message
from durable_host.engine.time.clock import sleep_or_wake
from durable_host.errors import CheckpointConflictError
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

# Abandoned messages stay hidden 2^dequeue_count seconds, capped, as the provider abandons them.
MAX_ABANDON_SECONDS = 600.0
# Deliveries of a message whose processing keeps failing before it is parked as poison.
POISON_DEQUEUE_COUNT = 20
# A body that does not decode may still be read by another host (a newer version sharing the
# hub), so it gets a few tries too, but fewer: on this host it will never decode.
POISON_UNDECODABLE_DEQUEUE_COUNT = 3
# The shortest wait between receives; an idle queue doubles it up to the maximum interval.
BRISK_POLL_SECONDS = 0.05


def arrival_order(msg: ReceivedMessage) -> tuple[datetime, int]:
    """Sort key: when the queue stored it, then the sender's sequence number for ties."""
    inserted = msg.insertion_time or datetime.min
    if inserted.tzinfo is not None:
        inserted = inserted.replace(tzinfo=None)
    seq = msg.data.sequence_number if msg.data is not None else 0
    return inserted, seq


def abandon_delay(msg: ReceivedMessage) -> float:
    """How long an abandoned message stays hidden: doubling with each delivery, capped."""
    return float(min(2 ** max(msg.dequeue_count, 0), MAX_ABANDON_SECONDS))


def unreadable_reason(msg: ReceivedMessage) -> str | None:
    """Why a received message carries no TaskMessage, or None when it does."""
    if msg.data is not None and msg.data.task_message is not None:
        return None
    return msg.decode_error or "message has no TaskMessage"


async def delete_settled(storage: TaskHubStorage, messages: list[ReceivedMessage]) -> None:
    """Delete messages whose effects are stored, each as stored in its queue."""

    async def delete(msg: ReceivedMessage) -> None:
        await storage.delete_message(await stored_message(msg))

    if messages:
        await asyncio.gather(*(delete(m) for m in messages))


class BackoffPoller:
    """The wait between receives of one queue: brisk while messages flow, longer while idle."""

    def __init__(self, wake: asyncio.Event, max_interval: float) -> None:
        self._wake = wake
        self._max = max_interval
        self._wait = BRISK_POLL_SECONDS

    def reset(self) -> None:
        """Messages came: the next receive follows at once."""
        self._wait = BRISK_POLL_SECONDS

    async def idle(self) -> None:
        """The queue was empty: wait (or until woken), and wait longer next time."""
        woken = await sleep_or_wake(self._wake, self._wait)
        # Woken for a message due now (a send of this host, a timer on a control queue): poll
        # briskly again, since the queue may make it visible a moment after our clock says so.
        self._wait = BRISK_POLL_SECONDS if woken else min(self._wait * 2, self._max)

    async def failed(self) -> None:
        """The receive failed: give storage a moment before trying again."""
        await sleep_or_wake(self._wake, min(self._wait * 4, self._max))


@dataclass(frozen=True)
class QueueSettings:
    # How long a received message stays hidden from other receivers.
    visibility_timeout: float = 300.0
    # The longest wait between two receives of an idle queue (maxQueuePollingInterval).
    max_poll_interval: float = 30.0


class QueueConsumer:
    """The base of the dispatchers: one receive loop per queue, and settling its messages."""

    def __init__(
        self, storage: TaskHubStorage, queue: QueueSettings, logger: logging.Logger
    ) -> None:
        self._storage = storage
        self._visibility = queue.visibility_timeout
        self._max_poll = queue.max_poll_interval
        self._abandoner = Abandoner(storage, visibility_timeout=queue.visibility_timeout)
        self._log = logger

    # -- polling -------------------------------------------------------------------------------

    async def _poll(
        self,
        queue: str,
        receive: Callable[[], Awaitable[list[ReceivedMessage]]],
        take: Callable[[list[ReceivedMessage]], Awaitable[None]],
        *,
        wake: asyncio.Event,
        stop: asyncio.Event,
    ) -> None:
        """Receive from one queue until `stop`, handing each non-empty batch to `take`.

        Before each receive `_wait_for_room` may hold the loop (back-pressure); `_on_idle`
        runs after each empty receive. `wake` is set when a message for this queue is due now
        (this host sent it, or a timer came due).
        """
        poller = BackoffPoller(wake, self._max_poll)
        while not stop.is_set():
            try:
                if not await self._wait_for_room(wake):
                    continue
                messages = await receive()
            except Exception:
                self._log.exception("Receiving from %s failed; retrying", queue)
                await poller.failed()
                continue
            if not messages:
                self._on_idle()
                await poller.idle()
                continue
            poller.reset()
            if stop.is_set():
                # Received while this host let the queue go (a receive held up by a storage
                # stall): the queue's next owner may be serving these instances already.
                for msg in messages:
                    await self._abandon(msg, 0)
                return
            await take(messages)

    async def _wait_for_room(self, wake: asyncio.Event) -> bool:
        """Whether to receive now; False after waiting a little for room to free up."""
        return True

    def _on_idle(self) -> None:
        """Housekeeping for a quiet moment (an empty receive)."""

    # -- settling ------------------------------------------------------------------------------

    async def _delete(self, messages: list[ReceivedMessage]) -> None:
        """Remove messages whose effects are stored."""
        await delete_settled(self._storage, messages)

    async def _abandon(self, msg: ReceivedMessage, delay: float) -> None:
        """Make a message visible again after `delay` seconds (retried through an outage)."""
        try:
            stored = await stored_message(msg)
        except Exception as exc:  # never stored: nothing to abandon
            self._log.debug("Message %s was never stored: %s", msg.message_id, exc)
            return
        await self._abandoner.abandon(stored, delay)

    async def _poison(self, msg: ReceivedMessage, reason: str) -> None:
        """Park a message in the poison queue, where `durable-host poison` lists it."""
        self._log.error(
            "Poison message %s in %s moved to %s: %s",
            msg.message_id,
            msg.queue,
            self._storage.names.poison_queue,
            reason,
        )
        await self._storage.move_to_poison(await stored_message(msg), reason)

    async def _abandon_failed(
        self, messages: list[ReceivedMessage], error: Exception, what: str
    ) -> None:
        """After `what` (processing `messages`) failed. A checkpoint that lost to another
        writer's is retried at once (the next try reads what that writer stored), and so is
        one storage did not answer; any other failure backs off, and parks messages that keep
        failing."""
        for msg in messages:
            if isinstance(error, CheckpointConflictError) or storage_unavailable(error):
                # An outage is not the message's fault: no back-off once storage is back, and
                # no parking either, since its dequeue count may have grown while it waited
                # (held for a suspended instance, a long timer hidden again).
                await self._abandon(msg, 0)
            else:
                why = (
                    f"{what} failed {msg.dequeue_count} times; "
                    f"last error: {type(error).__name__}: {error}"
                )
                await self._abandon_or_poison(msg, abandon_delay(msg), why)

    async def _abandon_later(self, msg: ReceivedMessage, reason: str) -> None:
        """Not yet: abandon it with the back-off of `abandon_delay` (`reason` says why)."""
        why = f"{reason} {msg.dequeue_count} times"
        await self._abandon_or_poison(msg, abandon_delay(msg), why)

    async def _abandon_or_poison(self, msg: ReceivedMessage, delay: float, why: str) -> None:
        """Abandon the message for `delay` seconds, or park it once it has come back
        POISON_DEQUEUE_COUNT times (`why`: what keeps bringing it back)."""
        if msg.dequeue_count >= POISON_DEQUEUE_COUNT:
            await self._poison(msg, why)
        else:
            await self._abandon(msg, delay)

    async def _settle_unreadable(self, msg: ReceivedMessage) -> bool:
        """False for a readable message; else retried a few times (another host may read
        it), then parked as poison, and True."""
        reason = unreadable_reason(msg)
        if reason is None:
            return False
        if msg.dequeue_count < POISON_UNDECODABLE_DEQUEUE_COUNT:
            self._log.warning(
                "Message %s in %s cannot be read (attempt %d): %s",
                msg.message_id,
                msg.queue,
                msg.dequeue_count,
                reason,
            )
            await self._abandon(msg, abandon_delay(msg))
        else:
            await self._poison(msg, reason)
        return True

    async def _stop_abandoning(self) -> None:
        """Stop retrying abandons storage did not take: those messages reappear when their
        visibility runs out."""
        await self._abandoner.close()
