"""The labels the replay walk gives an orchestration's entity requests (replay/entity_requests.py).

The actions are what the SDK returns for `call_entity` / `signal_entity` (tests/sample_app shows the
SDK producing them); histories are built as the engine writes them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from durable_host.engine.replay.decision import EpisodeContext
from durable_host.engine.replay.entity_requests import read_stored_request, request_message
from durable_host.engine.replay.entity_sorter import SendClock, format_ticks, parse_ticks, ticks_of
from durable_host.engine.replay.walk import replay
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=3)
ENTITY = "@counter@k"
NO_PREDECESSOR = "0001-01-01T00:00:00"


def call(operation: str, value: Any = None) -> dict[str, Any]:
    return {"actionType": 7, "instanceId": ENTITY, "operation": operation, "input": value}


def signal(operation: str, value: Any = None, fire_at: str | None = None) -> dict[str, Any]:
    action = {"actionType": 9, "instanceId": ENTITY, "operation": operation, "input": value}
    if fire_at:
        action.update(actionType=10, fireAt=fire_at)
    return action


def started(now: datetime) -> list[HistoryEvent]:
    return [
        OrchestratorStarted(timestamp=now),
        ExecutionStarted(
            timestamp=now,
            orchestration_instance=OrchestrationInstance("orch", "e1"),
            name="orch",
            input="null",
        ),
    ]


def walk(
    history: list[HistoryEvent], actions: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """The RequestMessages of the EventSent events the episode adds."""
    state = {"isDone": False, "actions": [[a] for a in actions], "output": None}
    decision = replay(EpisodeContext("orch", "e1", "orch", now), history, state, None)
    return [json.loads(e.input or "") for e in decision.new_events if isinstance(e, EventSent)]


def test_sends_in_one_episode_chain_and_stay_increasing() -> None:
    first, second = walk(started(T0), [signal("add", 1), signal("add", 2)], T0)
    assert first["Timestamp"] == format_ticks(ticks_of(T0))
    assert first["Predecessor"] == NO_PREDECESSOR
    # Same instant: one tick later, naming the first as its predecessor.
    assert parse_ticks(second["Timestamp"]) == ticks_of(T0) + 1
    assert second["Predecessor"] == first["Timestamp"]
    # Signals name their sender, as the extension's do (that is what the entity sorts by).
    assert (first["parent"], first["parentExecution"], first["signal"]) == ("orch", "e1", True)


def test_a_later_send_names_the_stored_one_as_its_predecessor() -> None:
    # The stored label is not what this code would compute (an older host wrote it): the
    # next send must name what was actually sent.
    stored_stamp = "2026-12-01T09:00:00.0000005Z"
    stored = json.dumps(
        {
            "op": "add",
            "id": "r1",
            "parent": "orch",
            "parentExecution": "e1",
            "Timestamp": stored_stamp,
        }
    )
    history = [
        *started(T0),
        EventSent(event_id=0, timestamp=T0, instance_id=ENTITY, name="op", input=stored),
        OrchestratorCompleted(timestamp=T0),
        OrchestratorStarted(timestamp=T1),
        EventRaised(timestamp=T1, name="r1", input='{"result":"1"}'),
    ]
    [get] = walk(history, [call("add", 1), call("get")], T1)
    assert get["Predecessor"] == stored_stamp
    assert get["Timestamp"] == format_ticks(ticks_of(T1))
    assert (get["op"], get["signal"], get["parent"]) == ("get", False, "orch")
    # The walk is deterministic: the same history gives the same labels.
    assert walk(history, [call("add", 1), call("get")], T1) == [get]


def test_scheduled_signals_are_not_labelled_and_do_not_break_the_chain() -> None:
    due = "2026-12-01T10:00:00.000Z"
    first, scheduled, last = walk(
        started(T0), [signal("add", 1), signal("add", 2, fire_at=due), signal("add", 3)], T0
    )
    assert scheduled["due"] == "2026-12-01T10:00:00Z"
    assert scheduled["Timestamp"] == scheduled["Predecessor"] == NO_PREDECESSOR
    assert last["Predecessor"] == first["Timestamp"]


def test_a_stored_request_gives_back_its_id_and_advances_the_clock() -> None:
    stamp = "2026-12-01T09:00:00.0000005Z"
    body = json.dumps({"id": "r7", "parent": "orch", "Timestamp": stamp})
    request_id, clock = read_stored_request(body, ENTITY, SendClock())
    assert request_id == "r7"
    assert clock.last_sent == {ENTITY.lower(): parse_ticks(stamp)}


def test_an_unreadable_stored_request_orders_nothing() -> None:
    clock = SendClock()
    assert read_stored_request("not json", ENTITY, clock) == (None, clock)
    # A scheduled signal's label is not part of the chain.
    due = json.dumps(
        {"id": "r8", "parent": "orch", "due": "x", "Timestamp": "2026-12-01T09:00:00Z"}
    )
    assert read_stored_request(due, ENTITY, clock) == ("r8", clock)


def test_a_new_request_is_the_extensions_request_message() -> None:
    clock, text = request_message(
        call("add", 5),
        ENTITY,
        "r9",
        sender=OrchestrationInstance("orch", "e1"),
        signal=False,
        now=T0,
        clock=SendClock(),
    )
    body = json.loads(text)
    assert list(body) == [
        "op",
        "signal",
        "input",
        "id",
        "parent",
        "parentExecution",
        "Timestamp",
        "Predecessor",
    ]
    assert (body["op"], body["input"], body["id"]) == ("add", "5", "r9")
    assert clock.last_sent == {ENTITY.lower(): ticks_of(T0)}
