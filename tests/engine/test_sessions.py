"""Session bookkeeping used by the dispatcher's triage (pure, no storage)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from durable_host.engine.dispatch.sessions import Session
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    OrchestrationInstance,
    OrchestratorStarted,
)

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def session_with(*events: object) -> Session:
    start = ExecutionStarted(
        timestamp=NOW, orchestration_instance=OrchestrationInstance("o", "e"), name="orch"
    )
    return Session("o", "e", [OrchestratorStarted(timestamp=NOW), start, *events])  # type: ignore[list-item]


def call(request_id: str, seq: int) -> EventSent:
    body = {"op": "add", "signal": False, "id": request_id, "parent": "o"}
    return EventSent(
        timestamp=NOW, event_id=seq, instance_id="@counter@k", name="op", input=json.dumps(body)
    )


def test_a_second_reply_to_an_entity_call_is_refused() -> None:
    replies = session_with(call("r-1", 0), call("r-2", 1)).entity_replies()
    assert replies.accept("r-1") is True
    assert replies.accept("r-1") is False  # the entity re-ran the call after a crash
    assert replies.accept("r-2") is True


def test_a_reply_already_in_history_is_refused_and_other_events_pass() -> None:
    answered = EventRaised(timestamp=NOW, name="r-1", input='{"result":"1"}')
    replies = session_with(call("r-1", 0), answered).entity_replies()
    assert replies.accept("r-1") is False
    # External events may legitimately repeat a name.
    assert replies.accept("Approval") is True
    assert replies.accept("Approval") is True
