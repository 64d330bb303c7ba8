"""The pure entity sorter (engine/replay/entity_sorter.py): labels, receive-in-order, its JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from durable_host.engine.replay.entity_sorter import (
    DEFAULT_REORDER_WINDOW,
    TICKS_PER_SECOND,
    MessageSorter,
    SendClock,
    SortOutcome,
    format_ticks,
    label_outgoing,
    parse_ticks,
    receive_in_order,
    ticks_of,
)

SECOND = TICKS_PER_SECOND
T0 = ticks_of(datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))


@dataclass(frozen=True)
class Msg:
    name: str
    timestamp: int
    predecessor: int = 0
    parent: str | None = "orch"
    parent_execution: str | None = "e1"
    position: int = 0


def chain(*names: str, start: int = T0, step: int = SECOND, **kw: Any) -> list[Msg]:
    """Messages one sender sends in this order, labelled as the sender labels them."""
    out: list[Msg] = []
    previous = 0
    for i, name in enumerate(names):
        stamp = start + i * step
        out.append(Msg(name, stamp, previous, **kw))
        previous = stamp
    return out


def feed(sorter: MessageSorter[Msg], *messages: Msg) -> tuple[MessageSorter[Msg], list[str]]:
    delivered: list[str] = []
    for message in messages:
        receipt = receive_in_order(sorter, message)
        sorter = receipt.sorter
        delivered += [m.name for m in receipt.deliver]
    return sorter, delivered


def test_ticks_read_and_write_newtonsoft_dates_exactly() -> None:
    text = "2026-12-01T09:00:00.1234567Z"
    assert format_ticks(parse_ticks(text)) == text
    assert format_ticks(parse_ticks("2026-12-01T09:00:00.1200000Z")) == "2026-12-01T09:00:00.12Z"
    assert format_ticks(T0) == "2026-12-01T09:00:00Z"
    # DateTime.MinValue: no predecessor; .NET writes it without a zone.
    assert parse_ticks("0001-01-01T00:00:00") == 0
    assert format_ticks(0) == "0001-01-01T00:00:00"
    assert parse_ticks("2026-12-01T10:00:00+01:00") == T0
    assert ticks_of(datetime(2026, 12, 1, 9, 0, 0, 5, tzinfo=timezone.utc)) == T0 + 50
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_ticks("yesterday")


def test_labels_chain_per_destination_and_stay_increasing() -> None:
    clock = SendClock()
    clock, first = label_outgoing(clock, "@counter@a", T0)
    clock, other = label_outgoing(clock, "@counter@b", T0)
    clock, second = label_outgoing(clock, "@Counter@A".lower(), T0)  # same instant
    assert (first.timestamp, first.predecessor) == (T0, 0)
    assert (other.timestamp, other.predecessor) == (T0, 0)
    assert (second.timestamp, second.predecessor) == (T0 + 1, T0)  # one tick later
    clock, earlier = label_outgoing(clock, "@counter@a", T0 - SECOND)  # the clock went back
    assert (earlier.timestamp, earlier.predecessor) == (T0 + 2, T0 + 1)


def test_labels_forget_destinations_beyond_the_window() -> None:
    clock, _ = label_outgoing(SendClock(), "@counter@a", T0)
    later = T0 + DEFAULT_REORDER_WINDOW + 11 * SECOND
    clock, label = label_outgoing(clock, "@counter@a", later)
    assert label.predecessor == 0 and label.timestamp == later
    assert clock.send_horizon == later - DEFAULT_REORDER_WINDOW


def test_observed_sends_continue_the_chain() -> None:
    clock = SendClock().observe("@counter@a", T0 + 5).observe("@counter@a", T0)
    _, label = label_outgoing(clock, "@counter@a", T0 + 1)
    assert (label.timestamp, label.predecessor) == (T0 + 6, T0 + 5)


def test_in_order_messages_are_delivered_at_once() -> None:
    a, b, c = chain("a", "b", "c")
    sorter, delivered = feed(MessageSorter(), a, b, c)
    assert delivered == ["a", "b", "c"]
    assert sorter.received_from["orch"].last == c.timestamp
    assert sorter.buffered_count == 0


def test_out_of_order_within_the_window_waits_for_its_predecessor() -> None:
    a, b, c = chain("a", "b", "c")
    sorter, _ = feed(MessageSorter(), a)
    receipt = receive_in_order(sorter, c)
    assert receipt.outcome is SortOutcome.BUFFERED and receipt.deliver == []
    assert receipt.sorter.buffered_count == 1
    receipt = receive_in_order(receipt.sorter, b)
    assert receipt.outcome is SortOutcome.DELIVERED
    assert [m.name for m in receipt.deliver] == ["b", "c"]
    assert receipt.sorter.buffered_count == 0


def test_the_argument_is_not_changed() -> None:
    a, _b, c = chain("a", "b", "c")
    sorter, _ = feed(MessageSorter(), a)
    before = sorter.received_from["orch"]
    receive_in_order(sorter, c)
    assert sorter.received_from["orch"] is before and before.buffered == ()


def test_duplicates_are_dropped() -> None:
    a, b = chain("a", "b")
    sorter, _ = feed(MessageSorter(), a, b)
    receipt = receive_in_order(sorter, a)
    assert receipt.outcome is SortOutcome.DUPLICATE and receipt.deliver == []
    assert receive_in_order(receipt.sorter, b).outcome is SortOutcome.DUPLICATE
    # A second copy of a waiting message replaces the first.
    c, d = chain("c", "d", start=b.timestamp + SECOND)
    d = Msg("d", d.timestamp, c.timestamp)
    sorter, _ = feed(sorter, d, d)
    assert sorter.buffered_count == 1


def test_a_predecessor_beyond_the_window_is_not_waited_for() -> None:
    a, _b = chain("a", "b")
    sorter, _ = feed(MessageSorter(), a)
    # A much later message whose predecessor (never seen) is older than the window.
    late = T0 + DEFAULT_REORDER_WINDOW + 60 * SECOND
    lost_predecessor = T0 + 30 * SECOND
    receipt = receive_in_order(sorter, Msg("late", late, lost_predecessor))
    assert receipt.outcome is SortOutcome.DELIVERED
    assert receipt.sorter.receive_horizon == late - DEFAULT_REORDER_WINDOW


def test_moving_the_horizon_releases_what_waited_too_long() -> None:
    _a, _b, c = chain("a", "b", "c")
    sorter, delivered = feed(MessageSorter(), c)  # waits for b, which never comes
    assert delivered == []
    other = Msg("x", T0 + DEFAULT_REORDER_WINDOW + 60 * SECOND, parent="other")
    sorter, delivered = feed(sorter, other)
    assert delivered == ["c", "x"]
    assert "orch" not in sorter.received_from  # silent longer than the window: forgotten


def test_messages_older_than_the_horizon_pass_through() -> None:
    sorter, _ = feed(MessageSorter(), Msg("x", T0 + DEFAULT_REORDER_WINDOW + 60 * SECOND))
    old = Msg("old", T0, T0 - SECOND)
    receipt = receive_in_order(sorter, old)
    assert receipt.outcome is SortOutcome.DELIVERED and receipt.deliver == [old]


def test_a_new_execution_of_the_sender_starts_over() -> None:
    a, _b, c = chain("a", "b", "c")
    sorter, _ = feed(MessageSorter(), a, c)  # c waits for b
    fresh = Msg("n", T0 - 10 * SECOND, 0, parent_execution="e2")  # new execution, own clock
    sorter, delivered = feed(sorter, fresh)
    assert delivered == ["c", "n"]  # what waited is released first
    assert sorter.received_from["orch"].execution_id == "e2"
    assert sorter.received_from["orch"].last == fresh.timestamp


def test_several_senders_are_sorted_independently() -> None:
    a1, a2 = chain("a1", "a2", parent="A")
    b1, b2 = chain("b1", "b2", parent="B")
    sorter, delivered = feed(MessageSorter(), a2, b1, b2, a1)
    assert delivered == ["b1", "b2", "a1", "a2"]
    # Sender ids compare case-insensitively, as the extension's dictionaries do.
    sorter, delivered = feed(sorter, Msg("a3", a2.timestamp + SECOND, a2.timestamp, parent="a"))
    assert delivered == ["a3"] and set(sorter.received_from) == {"A", "B"}


def test_client_messages_and_forwarded_locks_are_not_sorted() -> None:
    sorter = MessageSorter[Msg]()
    unsorted = (
        Msg("client", T0, parent=None),
        Msg("lock", T0, T0 + 5, position=1),
        Msg("unlabelled", 0),  # a sender that writes no Timestamp
    )
    for message in unsorted:
        receipt = receive_in_order(sorter, message)
        assert receipt.outcome is SortOutcome.DELIVERED and receipt.sorter is sorter
    off = receive_in_order(sorter, Msg("c", T0 + 5, T0 + 1), window=0)
    assert off.deliver[0].name == "c" and off.sorter is sorter


def test_json_is_the_extensions_shape() -> None:
    a, _b, c = chain("a", "b", "c")
    sorter, _ = feed(MessageSorter(), a, c)

    def encode(m: Msg) -> dict[str, Any]:
        return {
            "id": m.name,
            "Timestamp": format_ticks(m.timestamp),
            "Predecessor": format_ticks(m.predecessor),
            "parent": m.parent,
            "parentExecution": m.parent_execution,
        }

    def decode(body: dict[str, Any]) -> Msg:
        return Msg(
            body["id"],
            parse_ticks(body["Timestamp"]),
            parse_ticks(body["Predecessor"]),
            body["parent"],
            body["parentExecution"],
        )

    body = sorter.to_json(encode)
    assert body == {
        "ReceivedFromInstance": {
            "orch": {
                "Last": "2026-12-01T09:00:00Z",
                "ExecutionId": "e1",
                "Buffered": {"2026-12-01T09:00:02Z": encode(c)},
            }
        },
        # The first message moved the horizon from DateTime.MinValue to a window before it.
        "ReceiveHorizon": "2026-12-01T08:30:00Z",
    }
    assert MessageSorter.from_json(body, decode) == sorter
    assert MessageSorter.from_json(None, decode) == MessageSorter()
    assert MessageSorter().to_json(encode) == {}
    with pytest.raises(ValueError):
        MessageSorter.from_json([], decode)
