"""An episode's request joined from kept encodings is the request built whole, byte for byte,
and the kept encodings never outlive the history they were made from."""

from __future__ import annotations

from datetime import timedelta

import pytest

from durable_host.protobuf.request_bytes import ProtoHistory, encoded_orchestrator_request
from durable_host.protobuf.requests import decode_base64, encode_base64, orchestrator_request
from durable_host.taskhub import events as ev
from tests.protobuf.test_history import EVENTS, INSTANCE, NOW

WINDOW = timedelta(minutes=30)


def _started(name: str = "chain", value: str = "1") -> ev.ExecutionStarted:
    return ev.ExecutionStarted(
        timestamp=NOW, orchestration_instance=INSTANCE, name=name, input=value
    )


def _episode(task_id: int, result: str) -> list[ev.HistoryEvent]:
    return [
        ev.OrchestratorStarted(timestamp=NOW),
        ev.TaskCompleted(timestamp=NOW, task_scheduled_id=task_id, result=result),
    ]


def _check(
    kept: ProtoHistory,
    past: list[ev.HistoryEvent],
    new: list[ev.HistoryEvent],
    *,
    execution_id: str | None = "e1",
    window: timedelta | None = WINDOW,
) -> None:
    joined = encoded_orchestrator_request(
        "abc", execution_id, past, new, past_history=kept, entity_reorder_window=window
    )
    whole = orchestrator_request("abc", execution_id, past, new, entity_reorder_window=window)
    assert joined.data == whole.SerializeToString()
    assert joined.message() == whole


@pytest.mark.parametrize("window", [WINDOW, None])
@pytest.mark.parametrize("execution_id", ["e1", None])
def test_every_event_kind_joins_into_the_whole_requests_bytes(
    window: timedelta | None, execution_id: str | None
) -> None:
    kept = ProtoHistory()
    for split in range(len(EVENTS) + 1):
        _check(kept, EVENTS[:split], EVENTS[split:], execution_id=execution_id, window=window)


def test_a_growing_history_reuses_its_encodings_and_stays_exact() -> None:
    kept = ProtoHistory()
    history: list[ev.HistoryEvent] = []
    new: list[ev.HistoryEvent] = [ev.OrchestratorStarted(timestamp=NOW), _started()]
    for step in range(1, 6):
        _check(kept, history, new)
        scheduled = ev.TaskScheduled(timestamp=NOW, event_id=step, name="noop", input=str(step))
        # As a checkpoint appends them: the new events (the same objects), then the episode's.
        history.extend([*new, scheduled, ev.OrchestratorCompleted(timestamp=NOW)])
        new = _episode(step, str(step * 10))
    _check(kept, history, new)


def test_a_replaced_history_list_is_encoded_again() -> None:
    # A new list for the session's history (continue-as-new, a rewind), here as long as the
    # old one and ending in the same event object.
    kept = ProtoHistory()
    last = ev.OrchestratorCompleted(timestamp=NOW)
    first = [ev.OrchestratorStarted(timestamp=NOW), _started(value="1"), last]
    _check(kept, first, _episode(1, "a"))
    second = [ev.OrchestratorStarted(timestamp=NOW), _started(value="2"), last]
    _check(kept, second, _episode(1, "b"))


def test_an_event_replaced_in_place_is_encoded_again() -> None:
    kept = ProtoHistory()
    history: list[ev.HistoryEvent] = [ev.OrchestratorStarted(timestamp=NOW), _started()]
    _check(kept, history, _episode(1, "a"))
    history[-1] = _started(name="other")
    _check(kept, history, _episode(1, "a"))


def test_a_shortened_history_is_encoded_again() -> None:
    kept = ProtoHistory()
    history: list[ev.HistoryEvent] = [ev.OrchestratorStarted(timestamp=NOW), _started()]
    history += _episode(1, "a")
    _check(kept, history, _episode(2, "b"))
    del history[2:]
    history.append(ev.EventRaised(timestamp=NOW, name="go", input="1"))
    _check(kept, history, _episode(3, "c"))


def test_last_episodes_new_events_are_not_taken_for_other_past_events() -> None:
    # The past holds events equal in place but not the objects sent as new last time.
    kept = ProtoHistory()
    history: list[ev.HistoryEvent] = [ev.OrchestratorStarted(timestamp=NOW), _started()]
    sent = _episode(1, "sent")
    _check(kept, history, sent)
    history += _episode(1, "stored")
    _check(kept, history, _episode(2, "b"))


def test_the_joined_request_goes_through_base64_unchanged() -> None:
    joined = encoded_orchestrator_request(
        "abc", "e1", EVENTS[:2], EVENTS[2:4], past_history=ProtoHistory()
    )
    decoded = decode_base64(encode_base64(joined), "OrchestratorRequest")
    assert decoded.SerializeToString() == joined.data
