"""Per-sender ordering of entity requests: the labels a sender writes, the sorter an entity keeps.

Queue messages can arrive out of order (a redelivery after a crash reappears only when its
visibility timeout ends) and more than once. The extension and DTFx (`MessageSorter`, see
docs/task-hub-layout.md §6) give every request an orchestration sends to an entity a
`Timestamp`, increasing per destination, and a `Predecessor` (the Timestamp of the previous
request from the same sender to the same entity). The entity delivers a request only once its
predecessor has been delivered, holds it back until then (within the reorder window), and drops
one at or before the last delivered Timestamp (a duplicate).

Everything here is pure: times are .NET ticks (100 ns since 0001-01-01, what a .NET DateTime
holds, so labels written by the extension compare exactly), and each function returns a new
state instead of changing its argument.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "DEFAULT_REORDER_WINDOW",
    "MessageSorter",
    "Receipt",
    "ReceiveBuffer",
    "SortOutcome",
    "format_ticks",
    "label_outgoing",
    "parse_ticks",
    "receive_in_order",
    "ticks_of",
]

TICKS_PER_SECOND = 10_000_000
# The extension's `entityMessageReorderWindowInMinutes` default.
DEFAULT_REORDER_WINDOW = 30 * 60 * TICKS_PER_SECOND
# Both sides move their horizon only when it lags by this much more than the window, so the
# clean-up does not run for every message (the value DTFx uses).
_MIN_INTERVAL_BETWEEN_COLLECTIONS = 10 * TICKS_PER_SECOND

_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)
_TICKS_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d{1,7}))?(?P<tz>Z|z|[+-]\d{2}:\d{2})?"
)


# --------------------------------------------------------------------------- ticks


def ticks_of(value: datetime) -> int:
    """The .NET ticks of an aware datetime (Python keeps microseconds: a multiple of 10)."""
    return (value.astimezone(timezone.utc) - _EPOCH) // timedelta(microseconds=1) * 10


def parse_ticks(text: str) -> int:
    """Ticks of an ISO date as Newtonsoft writes a DateTime; a text without offset is UTC."""
    match = _TICKS_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date such as '2025-01-01T00:00:00.1234567Z'")
    tz = match["tz"]
    offset = "+00:00" if tz in (None, "Z", "z") else tz
    whole = datetime.fromisoformat(f"{match['date']}T{match['time']}{offset}")
    fraction = int((match["frac"] or "").ljust(7, "0"))
    return ticks_of(whole) + fraction


def format_ticks(ticks: int) -> str:
    """Newtonsoft's ISO form: trailing fractional zeros dropped, `Z` for a UTC time.

    Zero is `DateTime.MinValue`, which .NET writes without a zone ("no predecessor")."""
    if ticks <= 0:
        return "0001-01-01T00:00:00"
    whole = _EPOCH + timedelta(seconds=ticks // TICKS_PER_SECOND)
    text = (
        f"{whole.year:04d}-{whole.month:02d}-{whole.day:02d}"
        f"T{whole.hour:02d}:{whole.minute:02d}:{whole.second:02d}"
    )
    fraction = f"{ticks % TICKS_PER_SECOND:07d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Label:
    timestamp: int
    predecessor: int


@dataclass(frozen=True)
class SendClock:
    """The sender's side: the last Timestamp sent to each destination (case-insensitive)."""

    last_sent: Mapping[str, int] = field(default_factory=dict)
    send_horizon: int = 0

    def observe(self, destination: str, timestamp: int) -> SendClock:
        """A send already made (read back from history) with the label it carried."""
        key = destination.lower()
        if timestamp <= self.last_sent.get(key, 0):
            return self
        return replace(self, last_sent={**self.last_sent, key: timestamp})


def label_outgoing(
    clock: SendClock, destination: str, now: int, window: int = DEFAULT_REORDER_WINDOW
) -> tuple[SendClock, Label]:
    """Timestamp and Predecessor for the next request to `destination` at time `now`.

    Timestamps stay increasing per destination even if `now` does not: a send at or before
    the last one gets the last one plus one tick, as in .NET. Destinations not sent to within
    the window are forgotten, so their next request has no predecessor."""
    last_sent = dict(clock.last_sent)
    horizon = clock.send_horizon
    if horizon + window + _MIN_INTERVAL_BETWEEN_COLLECTIONS < now:
        horizon = now - window
        last_sent = {k: v for k, v in last_sent.items() if v >= horizon}
    key = destination.lower()
    predecessor = last_sent.get(key, 0)
    timestamp = now if now > predecessor else predecessor + 1
    last_sent[key] = timestamp
    return SendClock(last_sent, horizon), Label(timestamp, predecessor)


# --------------------------------------------------------------------------- receiving


class Sortable(Protocol):
    """What the sorter reads of a request message."""

    @property
    def parent(self) -> str | None: ...
    @property
    def parent_execution(self) -> str | None: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def predecessor(self) -> int: ...
    @property
    def position(self) -> int: ...


M = TypeVar("M", bound=Sortable)


@dataclass(frozen=True)
class ReceiveBuffer(Generic[M]):
    """One sender: the Timestamp last delivered (0: none) and what waits for its predecessor."""

    last: int = 0
    execution_id: str | None = None
    buffered: tuple[M, ...] = ()  # ascending Timestamp


@dataclass(frozen=True)
class MessageSorter(Generic[M]):
    """An entity's receive side (plus the send side the extension keeps for entities that
    signal others, carried through unchanged). Keys are sender instance ids."""

    received_from: Mapping[str, ReceiveBuffer[M]] = field(default_factory=dict)
    receive_horizon: int = 0
    last_sent: Mapping[str, int] = field(default_factory=dict)
    send_horizon: int = 0

    @property
    def buffered_count(self) -> int:
        return sum(len(b.buffered) for b in self.received_from.values())

    def to_json(self, encode: Callable[[M], Any]) -> dict[str, Any]:
        """The extension's JSON members (empty and zero ones left out, as it does)."""
        body: dict[str, Any] = {}
        if self.last_sent:
            body["LastSentToInstance"] = {k: format_ticks(v) for k, v in self.last_sent.items()}
        if self.received_from:
            body["ReceivedFromInstance"] = {
                sender: _buffer_json(buffer, encode)
                for sender, buffer in self.received_from.items()
            }
        if self.receive_horizon:
            body["ReceiveHorizon"] = format_ticks(self.receive_horizon)
        if self.send_horizon:
            body["SendHorizon"] = format_ticks(self.send_horizon)
        return body

    @classmethod
    def from_json(cls, body: Any, decode: Callable[[Any], M]) -> MessageSorter[M]:
        """Read the extension's JSON; ValueError if it is not a sorter."""
        if body is None:
            return cls()
        if not isinstance(body, dict):
            raise ValueError("the sorter must be a JSON object")
        received = {
            sender: _buffer_from_json(buffer, decode)
            for sender, buffer in (body.get("ReceivedFromInstance") or {}).items()
        }
        return cls(
            received_from=received,
            receive_horizon=_optional_ticks(body.get("ReceiveHorizon")),
            last_sent={
                k: parse_ticks(v) for k, v in (body.get("LastSentToInstance") or {}).items()
            },
            send_horizon=_optional_ticks(body.get("SendHorizon")),
        )


class SortOutcome(enum.Enum):
    """What became of the message handed to `receive_in_order`."""

    DELIVERED = "delivered"  # in order (or not sorted at all): deliver it now
    BUFFERED = "buffered"  # its predecessor has not been delivered: keep it in the state
    DUPLICATE = "duplicate"  # at or before the sender's last delivered Timestamp: drop it


@dataclass(frozen=True)
class Receipt(Generic[M]):
    sorter: MessageSorter[M]
    outcome: SortOutcome
    deliver: list[M]  # in order; may include earlier buffered messages the message released


def receive_in_order(
    sorter: MessageSorter[M], message: M, window: int = DEFAULT_REORDER_WINDOW
) -> Receipt[M]:
    """Pass one request through the entity's sorter.

    Requests from clients (no parent) and forwarded lock requests are not sorted, nor (unlike
    .NET, which would take it for a duplicate) one without a Timestamp. A request older than
    the window passes; one whose predecessor is in the window and not yet delivered waits; a
    new execution of the sender releases what waited and starts over."""
    if window <= 0 or message.parent is None or message.position > 0 or message.timestamp <= 0:
        return Receipt(sorter, SortOutcome.DELIVERED, [message])
    buffers = dict(sorter.received_from)
    horizon = sorter.receive_horizon
    deliver: list[M] = []
    if horizon + window + _MIN_INTERVAL_BETWEEN_COLLECTIONS < message.timestamp:
        horizon = message.timestamp - window
        deliver.extend(_advance_horizon(buffers, horizon))
    if message.timestamp < horizon:
        deliver.append(message)
        return Receipt(
            replace(sorter, received_from=buffers, receive_horizon=horizon),
            SortOutcome.DELIVERED,
            deliver,
        )
    key = _find(buffers, message.parent)
    buffer = buffers.get(key)
    if buffer is None:
        buffer = ReceiveBuffer(execution_id=message.parent_execution)
    elif buffer.execution_id != message.parent_execution:
        deliver.extend(buffer.buffered)
        buffer = ReceiveBuffer(execution_id=message.parent_execution)
    if message.timestamp <= buffer.last:
        outcome = SortOutcome.DUPLICATE
    elif message.predecessor > buffer.last and message.predecessor >= horizon:
        outcome = SortOutcome.BUFFERED
        buffer = replace(buffer, buffered=_insert(buffer.buffered, message))
    else:
        outcome = SortOutcome.DELIVERED
        deliver.append(message)
        buffer = replace(buffer, last=_last(message.timestamp, horizon))
        buffer, released = _release(buffer, horizon)
        deliver.extend(released)
    buffers[key] = buffer
    new = replace(sorter, received_from=buffers, receive_horizon=horizon)
    return Receipt(new, outcome, deliver)


def _advance_horizon(buffers: dict[str, ReceiveBuffer[M]], horizon: int) -> list[M]:
    """Forget senders silent for longer than the window and release what waited for a
    predecessor that is now beyond it (changes `buffers`, the caller's copy)."""
    released_all: list[M] = []
    for sender, buffer in list(buffers.items()):
        if buffer.last < horizon:
            buffer = replace(buffer, last=0)
        buffer, released = _release(buffer, horizon)
        released_all.extend(released)
        if buffer.last == 0 and not buffer.buffered:
            del buffers[sender]
        else:
            buffers[sender] = buffer
    return released_all


def _release(buffer: ReceiveBuffer[M], horizon: int) -> tuple[ReceiveBuffer[M], list[M]]:
    """Deliver buffered messages from the front while each one's predecessor is delivered."""
    released: list[M] = []
    last = buffer.last
    waiting = list(buffer.buffered)
    while waiting and (waiting[0].predecessor <= last or waiting[0].predecessor < horizon):
        message = waiting.pop(0)
        released.append(message)
        last = _last(message.timestamp, horizon)
    if not released:
        return buffer, released
    return replace(buffer, last=last, buffered=tuple(waiting)), released


def _last(timestamp: int, horizon: int) -> int:
    return timestamp if timestamp >= horizon else 0


def _insert(buffered: tuple[M, ...], message: M) -> tuple[M, ...]:
    """Keyed by Timestamp as in the extension: a second copy replaces the first."""
    kept = [m for m in buffered if m.timestamp != message.timestamp]
    kept.append(message)
    return tuple(sorted(kept, key=lambda m: m.timestamp))


def _find(buffers: Mapping[str, ReceiveBuffer[M]], sender: str) -> str:
    """The key under which `sender` is kept (instance ids compare case-insensitively)."""
    if sender in buffers:
        return sender
    folded = sender.lower()
    return next((k for k in buffers if k.lower() == folded), sender)


def _optional_ticks(value: Any) -> int:
    return parse_ticks(value) if value else 0


def _buffer_json(buffer: ReceiveBuffer[M], encode: Callable[[M], Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"Last": format_ticks(buffer.last)}
    if buffer.execution_id is not None:
        body["ExecutionId"] = buffer.execution_id
    if buffer.buffered:
        body["Buffered"] = {format_ticks(m.timestamp): encode(m) for m in buffer.buffered}
    return body


def _buffer_from_json(body: Any, decode: Callable[[Any], M]) -> ReceiveBuffer[M]:
    if not isinstance(body, dict):
        raise ValueError("a receive buffer must be a JSON object")
    waiting = [decode(m) for m in (body.get("Buffered") or {}).values()]
    return ReceiveBuffer(
        last=_optional_ticks(body.get("Last")),
        execution_id=body.get("ExecutionId"),
        buffered=tuple(sorted(waiting, key=lambda m: m.timestamp)),
    )
