"""An episode's `OrchestratorRequest` as bytes, joined from encodings kept with the session.

Protobuf writes a repeated message field as one (tag, length, bytes) entry per element, and
the generated messages write their fields in field-number order. So the request's bytes are
its instance and execution ids, then one entry per past event, then one per new event, then
the entity parameters, each part serialized on its own and joined: the bytes
`orchestrator_request(...).SerializeToString()` gives (tests/protobuf/test_request_bytes.py).

`ProtoHistory` keeps the past events' entries, each event encoded once per execution (a new
event's encoding is kept for the next episode, when it is past), so an episode encodes only
its new events instead of building every past event into a fresh message and serializing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from durable_host.protobuf.history import event_to_proto
from durable_host.protobuf.messages import messages, string_value
from durable_host.taskhub.events import HistoryEvent

__all__ = ["EncodedRequest", "ProtoHistory", "encoded_orchestrator_request"]

_LENGTH_DELIMITED = 2


@dataclass(frozen=True)
class EncodedRequest:
    """A request already serialized: what a trigger receives (base64) or a stream carries."""

    data: bytes
    message_type: str = "OrchestratorRequest"

    def message(self) -> Any:
        """The request parsed, for a caller that needs the message itself (the sidecar's
        WorkItem)."""
        return getattr(messages(), self.message_type).FromString(self.data)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: str) -> bytes:
    number = messages().OrchestratorRequest.DESCRIPTOR.fields_by_name[field].number
    return _varint(number << 3 | _LENGTH_DELIMITED)


class ProtoHistory:
    """The `pastEvents` entries of a growing history, each event encoded once.

    The session's history list is only appended to during an execution; the next execution
    or a rewind replaces the list. A list other than the one encoded, one shorter than what
    was encoded, or one holding another event where the last encoded one was, is encoded
    again from its start."""

    def __init__(self) -> None:
        self._of: Sequence[HistoryEvent] | None = None
        self._count = 0
        self._last: HistoryEvent | None = None
        self._entries = bytearray()
        # The last episode's new events and their encodings: past in the next episode. The
        # event is kept beside its bytes, so its id cannot be another object's.
        self._fresh: dict[int, tuple[HistoryEvent, bytes]] = {}
        self._past_tag = _tag("pastEvents")
        self._new_tag = _tag("newEvents")

    def past_entries(self, history: Sequence[HistoryEvent]) -> bytearray:
        """The entries of every event of `history`, in order."""
        if (
            self._of is not history
            or self._count > len(history)
            or (self._count and history[self._count - 1] is not self._last)
        ):
            self._of, self._count, self._last, self._entries = history, 0, None, bytearray()
        for event in history[self._count :]:
            self._entries += self._entry(self._past_tag, self._encoded(event))
        if history:
            self._count, self._last = len(history), history[-1]
        self._fresh = {}
        return self._entries

    def new_entries(self, events: Sequence[HistoryEvent]) -> bytes:
        """The `newEvents` entries of `events`, their encodings kept for the next episode."""
        parts = []
        for event in events:
            data = self._encoded(event)
            self._fresh[id(event)] = (event, data)
            parts.append(self._entry(self._new_tag, data))
        return b"".join(parts)

    def _encoded(self, event: HistoryEvent) -> bytes:
        kept = self._fresh.get(id(event))
        if kept is not None:
            return kept[1]
        data: bytes = event_to_proto(event).SerializeToString()
        return data

    @staticmethod
    def _entry(tag: bytes, data: bytes) -> bytes:
        return tag + _varint(len(data)) + data


def encoded_orchestrator_request(
    instance_id: str,
    execution_id: str | None,
    past_events: Sequence[HistoryEvent],
    new_events: Sequence[HistoryEvent],
    *,
    past_history: ProtoHistory,
    entity_reorder_window: timedelta | None = None,
) -> EncodedRequest:
    """`orchestrator_request(...)`'s bytes, the past events' entries from `past_history`."""
    pb = messages()
    head = pb.OrchestratorRequest(instanceId=instance_id, executionId=string_value(execution_id))
    tail = pb.OrchestratorRequest()
    if entity_reorder_window is not None:
        tail.entityParameters.entityMessageReorderWindow.FromTimedelta(entity_reorder_window)
    past = past_history.past_entries(past_events)
    new = past_history.new_entries(new_events)
    return EncodedRequest(b"".join((head.SerializeToString(), past, new, tail.SerializeToString())))
