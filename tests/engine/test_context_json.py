"""The trigger payload put together from per-event texts is the text json.dumps gives for the
whole payload (the SDK receives the same bytes as when the payload was encoded at once)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from durable_host.engine.dispatch.effects import EpisodeEffects, HistoryWrite
from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.replay.context import (
    build_context_json,
    event_json_text,
    payload_members,
)
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
    ParentInstance,
    TaskCompleted,
    TaskScheduled,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
TEXT = st.text(max_size=12)  # any Unicode: quotes, backslashes, controls, surrogates' neighbours


def whole_payload(
    instance_id: str,
    history: list[dict[str, Any]],
    started: ExecutionStarted,
    *,
    is_replaying: bool,
) -> str:
    """The payload encoded at once, as before the per-event texts (the oracle)."""
    members = payload_members(instance_id, started, is_replaying=is_replaying)
    return json.dumps({"history": history, **members}, ensure_ascii=False)


@st.composite
def histories(draw: st.DrawFn) -> tuple[ExecutionStarted, list[Any]]:
    parent = draw(
        st.none()
        | st.builds(lambda i: ParentInstance("p", None, OrchestrationInstance(i, "pe"), 3), TEXT)
    )
    value = draw(st.none() | st.integers() | st.floats(allow_nan=False) | TEXT | st.lists(TEXT))
    started = ExecutionStarted(
        timestamp=T0,
        orchestration_instance=OrchestrationInstance(draw(TEXT), "e"),
        name=draw(TEXT),
        input=draw(st.none() | TEXT | st.just(json.dumps(value))),
        parent_instance=parent,
    )
    events: list[Any] = [OrchestratorStarted(timestamp=T0), started]
    for step in range(draw(st.integers(0, 6))):
        at = T0 + timedelta(seconds=step, microseconds=draw(st.integers(0, 999_999)))
        events.append(TaskScheduled(timestamp=at, event_id=step, name=draw(TEXT), input=draw(TEXT)))
        events.append(OrchestratorCompleted(timestamp=at))
        events.append(OrchestratorStarted(timestamp=at))
        if draw(st.booleans()):
            events.append(EventRaised(timestamp=at, name=draw(TEXT), input=draw(st.none() | TEXT)))
        events.append(TaskCompleted(timestamp=at, task_scheduled_id=step, result=draw(TEXT)))
    return started, events


@settings(max_examples=200, deadline=None)
@given(history=histories(), played=st.integers(0, 40), is_replaying=st.booleans())
def test_the_payload_from_per_event_texts_is_the_payload_encoded_at_once(
    history: tuple[ExecutionStarted, list[Any]], played: int, is_replaying: bool
) -> None:
    started, events = history
    session = Session("i", "e", events[:played])
    new_events = events[played:]
    texts = session.played_json() + [
        event_json_text(event_to_json(e, with_type=False)) for e in new_events
    ]
    objects = [json.loads(text) for text in session.played_json()] + [
        event_to_json(e, with_type=False) for e in new_events
    ]
    expected = whole_payload("i", objects, started, is_replaying=is_replaying)
    assert build_context_json("i", texts, started, is_replaying=is_replaying) == expected


def test_each_event_is_encoded_once_and_played_but_orchestrator_started() -> None:
    started = ExecutionStarted(
        timestamp=T0, orchestration_instance=OrchestrationInstance("i", "e"), name="o"
    )
    session = Session("i", "e", [OrchestratorStarted(timestamp=T0), started])
    first = session.played_json()
    session.apply(stored([TaskScheduled(timestamp=T0, event_id=0, name="a")]), "etag-1")
    again = session.played_json()
    assert again[:2] == first and all(a is b for a, b in zip(first, again, strict=False))
    assert [json.loads(text).get("IsPlayed") for text in again] == [False, True, True]
    session.begin_generation("e2")  # a new execution: encoded afresh
    session.apply(stored([OrchestratorStarted(timestamp=T0)]), "etag-2")
    assert session.played_json() == [
        event_json_text(event_to_json(session.history[0], with_type=False))
    ]


def stored(events: list[HistoryEvent]) -> EpisodeEffects:
    """A checkpoint's effects that append `events` to the history (nothing else)."""
    return EpisodeEffects(
        outbound=[],
        events=events,
        history_write=HistoryWrite.APPEND,
        episode=1,
        row_fields={},
        terminal=False,
    )
