"""Sending messages to the right queue, and waking this host's loops when it sends to itself."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from durable_host.engine.time.clock import Clock
from durable_host.engine.time.held_messages import HeldMessages
from durable_host.taskhub.events import (
    HistoryEvent,
    MessageData,
    OrchestrationInstance,
    TaskMessage,
)
from durable_host.taskhub.names import partition_index
from durable_host.taskhub.storage import ReceivedMessage, SentMessage, TaskHubStorage

# The provider caps nothing, but Azure Storage rejects visibility over 7 days; a timer due later
# is received early and re-hidden (see OrchestrationDispatcher).
MAX_DELAY_SECONDS = 6 * 24 * 3600.0

_NO_SENDER = OrchestrationInstance("", "")

LocalDelivery = Callable[[ReceivedMessage], None]


@dataclass(frozen=True)
class _LocalControl:
    """How a control queue this host processes takes the messages this host sends to it."""

    deliver: LocalDelivery
    # Hidden this long once sent, as if its dispatcher had received it.
    hidden_for: float
    # Back-pressure: while this says False, sends go through the queue (visible) instead of
    # into the dispatcher's memory, which stays bounded.
    accepts: Callable[[], bool]


class MessageRouter:
    def __init__(
        self,
        storage: TaskHubStorage,
        partition_count: int,
        clock: Clock,
        held: HeldMessages | None = None,
    ) -> None:
        self._storage = storage
        self._partition_count = partition_count
        self._clock = clock
        self._sequence = itertools.count(1)
        self.control_wakeups = [asyncio.Event() for _ in range(partition_count)]
        self.work_item_wakeup = asyncio.Event()
        self._timer_handles: set[asyncio.TimerHandle] = set()
        # Messages this host sends to queues it processes itself are sent invisible and handed
        # straight to the local dispatcher with their receipt: no receive round trip, and a
        # crash still lets them reappear once the visibility timeout passes.
        # Each is hidden for its dispatcher's visibility timeout, as if that dispatcher had
        # received it, so a crashed host's work reappears as configured.
        self._local_control: dict[int, _LocalControl] = {}
        self._local_work_items: tuple[LocalDelivery, float] | None = None
        # Sends under way (including deliveries deferred by the caller): the engine is not
        # idle while a message is between storage and a dispatcher.
        self.in_flight = 0
        # On virtual time, delayed messages are stored hidden and held here until due.
        self._held = held

    def deliver_control_locally(
        self,
        partition: int,
        deliver: LocalDelivery | None,
        *,
        accepts: Callable[[], bool] = lambda: True,
        visibility_timeout: float = 300.0,
    ) -> None:
        """Hand the messages this host sends to the partition's control queue to `deliver`
        while `accepts` says so (None: send them all through the queue)."""
        if deliver is None:
            self._local_control.pop(partition, None)
        else:
            self._local_control[partition] = _LocalControl(deliver, visibility_timeout, accepts)

    def deliver_work_items_locally(
        self, deliver: LocalDelivery | None, *, visibility_timeout: float = 300.0
    ) -> None:
        self._local_work_items = None if deliver is None else (deliver, visibility_timeout)

    def partition_of(self, instance_id: str) -> int:
        return partition_index(instance_id, self._partition_count)

    def envelope(
        self,
        target: OrchestrationInstance,
        event: HistoryEvent,
        *,
        sender: OrchestrationInstance | None = None,
        episode: int | None = None,
    ) -> MessageData:
        return MessageData(
            activity_id=str(uuid.uuid4()),
            task_message=TaskMessage(event=event, orchestration_instance=target),
            sequence_number=next(self._sequence),
            episode=episode,
            sender=sender or _NO_SENDER,
        )

    async def send_to_instance(
        self,
        target: OrchestrationInstance,
        event: HistoryEvent,
        *,
        visible_at: datetime | None = None,
        sender: OrchestrationInstance | None = None,
        episode: int | None = None,
        defer_local: bool = False,
    ) -> Callable[[], None]:
        """Send; returns a function that hands the message to the local dispatcher when
        `defer_local` (call it once the caller's own follow-up writes are done), else a no-op."""
        partition = self.partition_of(target.instance_id)
        msg = self.envelope(target, event, sender=sender, episode=episode)
        self.in_flight += 1
        deferred = False
        try:
            if self._held is not None and self._held.should_hold(visible_at):
                sent = await self._storage.send_control(partition, msg, delay=MAX_DELAY_SECONDS)
                assert visible_at is not None
                self._held.hold(visible_at, partition, _as_received(sent))
                return _nothing
            delay = self._delay(visible_at)
            local = self._local_control.get(partition)
            if local is not None and delay <= 0 and local.accepts():
                deliver, hidden_for = local.deliver, local.hidden_for
                sent = await self._storage.send_control(partition, msg, delay=hidden_for)
                received = _as_received(sent)
                if defer_local:
                    deferred = True
                    return self._hand_over(deliver, received)
                deliver(received)
                return _nothing
            await self._storage.send_control(partition, msg, delay=delay)
            self._wake_later(self.control_wakeups[partition], delay)
            return _nothing
        finally:
            if not deferred:
                self.in_flight -= 1

    async def send_result(
        self, target: OrchestrationInstance, event: HistoryEvent
    ) -> asyncio.Future[SentMessage] | None:
        """Send an activity result. When its instance is processed here, the orchestration
        gets it at once, before the send completes; the returned future resolves when it is
        stored, and the caller must await it before deleting the work item."""
        partition = self.partition_of(target.instance_id)
        local = self._local_control.get(partition)
        if local is None or not local.accepts():
            await self.send_to_instance(target, event)
            return None
        deliver, hidden_for = local.deliver, local.hidden_for
        msg = self.envelope(target, event)
        self.in_flight += 1
        try:
            stored: asyncio.Future[SentMessage] = asyncio.ensure_future(
                self._storage.send_control(partition, msg, delay=hidden_for)
            )
            deliver(
                EarlyMessage(
                    queue=self._storage.names.control_queue(partition),
                    message_id="",
                    pop_receipt="",
                    dequeue_count=1,
                    insertion_time=datetime.now(timezone.utc),
                    data=msg,
                    body="",
                    stored=stored,
                )
            )
        finally:
            self.in_flight -= 1
        return stored

    def _hand_over(self, deliver: LocalDelivery, received: ReceivedMessage) -> Callable[[], None]:
        done = False

        def hand_over() -> None:
            nonlocal done
            if not done:
                done = True
                self.in_flight -= 1
                deliver(received)

        return hand_over

    def release_due_timers(self) -> int:
        """Hand every held message that virtual time has reached to its dispatcher."""
        if self._held is None:
            return 0
        released = 0
        for partition, received in self._held.pop_due():
            local = self._local_control.get(partition)
            if local is not None:
                local.deliver(received)
            else:
                # Not ours to process: make it visible in the queue for its owner.
                asyncio.get_running_loop().create_task(self._abandon_held(received))
            released += 1
        return released

    async def _abandon_held(self, received: ReceivedMessage) -> None:
        await self._storage.abandon_message(received, delay=0)

    async def send_work_item(
        self,
        target: OrchestrationInstance,
        event: HistoryEvent,
        *,
        sender: OrchestrationInstance | None = None,
        episode: int | None = None,
        defer_local: bool = False,
    ) -> Callable[[], None]:
        """Send; returns a function that hands the work item to the local activity dispatcher
        when `defer_local` (as `send_to_instance`), else a no-op."""
        msg = self.envelope(target, event, sender=sender, episode=episode)
        local = self._local_work_items
        self.in_flight += 1
        deferred = False
        try:
            if local is not None:
                deliver, hidden_for = local
                sent = await self._storage.send_work_item(msg, delay=hidden_for)
                if defer_local:
                    deferred = True
                    return self._hand_over(deliver, _as_received(sent))
                deliver(_as_received(sent))
                return _nothing
            await self._storage.send_work_item(msg)
            self.work_item_wakeup.set()
            return _nothing
        finally:
            if not deferred:
                self.in_flight -= 1

    def _delay(self, visible_at: datetime | None) -> float:
        if visible_at is None:
            return 0.0
        return min(self._clock.seconds_until(visible_at), MAX_DELAY_SECONDS)

    def _wake_later(self, event: asyncio.Event, delay: float) -> None:
        if delay <= 0:
            event.set()
            return
        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay, self._fire, event)
        self._timer_handles.add(handle)

    def _fire(self, event: asyncio.Event) -> None:
        event.set()
        self._timer_handles = {
            h
            for h in self._timer_handles
            if not h.cancelled() and h.when() > asyncio.get_running_loop().time()
        }

    def close(self) -> None:
        for handle in self._timer_handles:
            handle.cancel()
        self._timer_handles.clear()


@dataclass(frozen=True)
class EarlyMessage(ReceivedMessage):
    """A message handed to the local dispatcher while its send is still under way.

    Processing may begin at once (its effects are checkpointed to history, and a copy that
    a crash makes reappear is dropped as a duplicate); only settling it (delete, abandon)
    waits for the stored message. See `stored_message`.
    """

    stored: asyncio.Future[SentMessage] | None = None


async def stored_message(msg: ReceivedMessage) -> ReceivedMessage:
    """The message as stored in its queue (waits for an EarlyMessage's send to finish)."""
    if isinstance(msg, EarlyMessage) and msg.stored is not None:
        sent = await msg.stored
        return ReceivedMessage(
            queue=sent.queue,
            message_id=sent.message_id,
            pop_receipt=sent.pop_receipt,
            dequeue_count=msg.dequeue_count,
            insertion_time=msg.insertion_time,
            data=msg.data,
            body=msg.body,
        )
    return msg


def _nothing() -> None:
    pass


def _as_received(sent: SentMessage) -> ReceivedMessage:
    return ReceivedMessage(
        queue=sent.queue,
        message_id=sent.message_id,
        pop_receipt=sent.pop_receipt,
        dequeue_count=1,
        insertion_time=datetime.now(timezone.utc),
        data=sent.data,
        body="",
    )
