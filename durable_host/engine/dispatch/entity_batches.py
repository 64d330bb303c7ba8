"""Taking a batch of an entity's queue messages apart: what runs now, what waits, what goes.

Messages are taken in arrival order. An operation (`op` EventRaised) due later is abandoned
until its due time; lock releases and `continue` messages are noted for the entity's queue
(entity_queue.py); anything else (a malformed request, a non-entity event) is consumed with
a log line. Every other request goes through the entity's sorter
(replay/entity_sorter.py), which may hold it back until the request its sender sent before
it arrives, drop it as a copy of one already delivered, or deliver it together with the
requests that waited for it (from this batch or from the stored state). Scheduled signals
are not sorted, as in the extension. A delivered request whose id the entity already
applied is dropped too: that check catches what the sorter cannot (client signals, and
requests from senders written before requests were labelled).

The messages of every request that went through the sorter are consumed, but the caller
deletes them only after the checkpoint that stores the sorter (and what it holds back).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import datetime

from durable_host.engine.dispatch.entity_state import (
    CONTINUE_EVENT,
    RELEASE_EVENT,
    EntitySorter,
    OperationRequest,
    is_operation_event,
    parse_operation_time,
)
from durable_host.engine.dispatch.queue_consumer import arrival_order
from durable_host.engine.dispatch.router import MAX_DELAY_SECONDS
from durable_host.engine.replay.entity_sorter import SortOutcome, receive_in_order
from durable_host.engine.time.clock import Clock
from durable_host.taskhub.events import EventRaised, HistoryEvent
from durable_host.taskhub.storage import ReceivedMessage

__all__ = ["SortedBatch", "sort_batch"]

log = logging.getLogger("durable_host.entities")


@dataclass
class SortedBatch:
    """What runs now (with its message, or None for a request an earlier batch held back),
    what is deleted after the checkpoint, what waits for its due time (with the delay), and
    the sorter as it stands after this batch."""

    sorter: EntitySorter
    operations: list[tuple[ReceivedMessage | None, OperationRequest]] = field(default_factory=list)
    consumed: list[ReceivedMessage] = field(default_factory=list)
    later: list[tuple[ReceivedMessage, float]] = field(default_factory=list)
    batch_ids: set[str] = field(default_factory=set)
    # Lock releases: (requests delivered before it, the releasing orchestration), and whether
    # a `continue` message ended a suspension (entity_queue.py).
    releases: list[tuple[int, str]] = field(default_factory=list)
    resumed: bool = False


def sort_batch(
    instance_id: str,
    batch: list[ReceivedMessage],
    *,
    sorter: EntitySorter,
    applied: Set[str],
    clock: Clock,
    reorder_window: int,
) -> SortedBatch:
    """Take `batch` apart for the entity `instance_id`, whose stored sorter is `sorter` and
    which has already applied the request ids in `applied`; `reorder_window` in ticks."""
    out = SortedBatch(sorter=sorter)
    now = clock.now()
    for msg in sorted(batch, key=arrival_order):
        request = _read_operation(instance_id, msg, now, clock, out)
        if request is None:
            continue
        out.consumed.append(msg)
        if request.scheduled or _is_scheduled(msg):
            _admit(instance_id, applied, out, msg, request)
            continue
        receipt = receive_in_order(out.sorter, request, reorder_window)
        out.sorter = receipt.sorter
        if receipt.outcome is not SortOutcome.DELIVERED:
            log.info(
                "Entity %s: operation %s from %s is %s (%s)",
                instance_id,
                request.request_id,
                request.parent,
                receipt.outcome.value,
                "a copy of one already delivered"
                if receipt.outcome is SortOutcome.DUPLICATE
                else "held back until the request sent before it arrives",
            )
        for delivered in receipt.deliver:
            _admit(instance_id, applied, out, msg if delivered is request else None, delivered)
    return out


def _read_operation(
    instance_id: str, msg: ReceivedMessage, now: datetime, clock: Clock, out: SortedBatch
) -> OperationRequest | None:
    """The operation request a message carries; None when the message was dealt with here
    (consumed, or abandoned until its due time)."""
    event = msg.data.task_message.event if msg.data and msg.data.task_message else None
    if isinstance(event, EventRaised) and event.name in (RELEASE_EVENT, CONTINUE_EVENT):
        _read_control(event, out)
        out.consumed.append(msg)
        return None
    if not isinstance(event, EventRaised) or not is_operation_event(event.name):
        _log_ignored(instance_id, event)
        out.consumed.append(msg)
        return None
    due = _due_time(event.name)
    if due is not None and due > now:
        wait = min(clock.seconds_until(due), MAX_DELAY_SECONDS)
        if wait > 0:
            out.later.append((msg, wait))
            return None
    try:
        request = OperationRequest.from_json(event.input)
    except ValueError as exc:
        log.error(
            "Entity %s: dropping a malformed operation message %s: %s",
            instance_id,
            msg.message_id,
            exc,
        )
        out.consumed.append(msg)
        return None
    return request


def _read_control(event: EventRaised, out: SortedBatch) -> None:
    """A lock release (ReleaseMessage: `parent`, `id`) or a `continue` after a suspension."""
    if event.name == CONTINUE_EVENT:
        out.resumed = True
        return
    try:
        body = json.loads(event.input or "")
    except ValueError:
        body = None
    parent = body.get("parent") if isinstance(body, dict) else None
    if isinstance(parent, str):
        out.releases.append((len(out.operations), parent))


def _admit(
    instance_id: str,
    applied: Set[str],
    out: SortedBatch,
    msg: ReceivedMessage | None,
    request: OperationRequest,
) -> None:
    """Run a delivered request in this batch unless its id was already applied."""
    if request.request_id in applied or request.request_id in out.batch_ids:
        log.info(
            "Entity %s: operation %s was already applied; dropping the duplicate",
            instance_id,
            request.request_id,
        )
        return
    out.batch_ids.add(request.request_id)
    out.operations.append((msg, request))


def _log_ignored(instance_id: str, event: HistoryEvent | None) -> None:
    what = event.event_type.dotnet_name if event is not None else "an undecodable message"
    name = getattr(event, "name", None)
    log.info(
        "Entity %s: ignoring %s%s (only entity operations are processed)",
        instance_id,
        what,
        f" '{name}'" if name else "",
    )


def _due_time(event_name: str) -> datetime | None:
    try:
        return parse_operation_time(event_name)
    except ValueError:
        log.warning("Entity operation name %r has an unreadable time; running it now", event_name)
        return None


def _is_scheduled(msg: ReceivedMessage) -> bool:
    event = msg.data.task_message.event if msg.data and msg.data.task_message else None
    return isinstance(event, EventRaised) and event.name != "op"
