"""History in, decision out: event factories and one 1.x episode run purely.

The events are built as the engine stores them (tests/engine/test_provider_orchestrations.py
compares the engine's rows with the provider's); `decide` runs the orchestrator in the real
1.x SDK on the trigger payload the host builds (replay/context.py), then the host's walk
(replay/walk.py) on its answer: no storage, no queues, no event loop.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias

import azure.durable_functions as df

from durable_host.engine.replay.context import build_context_json, event_json_text
from durable_host.engine.replay.decision import Decision, EpisodeContext
from durable_host.engine.replay.walk import replay
from durable_host.functions.outcomes import split_out_of_proc_error
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
    ParentInstance,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)

INSTANCE = "abc123"
EXECUTION = "e1"
NAME = "orchestrator"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)

Orchestrator: TypeAlias = Callable[[df.DurableOrchestrationContext], Any]


def ctx(now: datetime = T0, name: str = NAME) -> EpisodeContext:
    return EpisodeContext(INSTANCE, EXECUTION, name, now)


def stored(value: Any) -> str:
    """A payload as the engine stores it: the JSON text of the value."""
    return json.dumps(value)


def started(
    value: Any = None,
    *,
    at: datetime = T0,
    name: str = NAME,
    parent: ParentInstance | None = None,
    protobuf: bool = False,
) -> list[HistoryEvent]:
    """The first episode's events: OrchestratorStarted, then ExecutionStarted with the input
    as the client sends it: the 1.x SDK's JSON text as a JSON string, a 2.x (protobuf)
    client's JSON text as it is."""
    text = json.dumps(value) if protobuf else json.dumps(json.dumps(value))
    return [
        OrchestratorStarted(timestamp=at),
        ExecutionStarted(
            timestamp=at,
            orchestration_instance=OrchestrationInstance(INSTANCE, EXECUTION),
            name=name,
            input=text,
            parent_instance=parent,
        ),
    ]


def episode(at: datetime, *events: HistoryEvent) -> list[HistoryEvent]:
    """A later episode's new events: its OrchestratorStarted, then what arrived."""
    return [OrchestratorStarted(timestamp=at), *events]


def closed(events: Sequence[HistoryEvent], decision: Decision) -> list[HistoryEvent]:
    """The history after an episode's checkpoint: its new events and OrchestratorCompleted."""
    at = decision.new_events[0].timestamp if decision.new_events else T0
    return [*events, *decision.new_events, OrchestratorCompleted(timestamp=at)]


def scheduled(seq: int, name: str, value: Any = None, at: datetime = T0) -> TaskScheduled:
    return TaskScheduled(
        event_id=seq, timestamp=at, name=name, version="", input=json.dumps([json.dumps(value)])
    )


def completed(seq: int, value: Any, at: datetime = T0) -> TaskCompleted:
    return TaskCompleted(timestamp=at, task_scheduled_id=seq, result=stored(value))


def failed(seq: int, reason: str, at: datetime = T0) -> TaskFailed:
    return TaskFailed(timestamp=at, task_scheduled_id=seq, reason=reason, details="trace")


def timer_created(seq: int, fire_at: datetime, at: datetime = T0) -> TimerCreated:
    return TimerCreated(event_id=seq, timestamp=at, fire_at=fire_at)


def timer_fired(seq: int, fire_at: datetime) -> TimerFired:
    return TimerFired(timestamp=fire_at, timer_id=seq, fire_at=fire_at)


def raised(name: str, value: Any, at: datetime = T0) -> EventRaised:
    return EventRaised(timestamp=at, name=name, input=stored(value))


def sub_created(
    seq: int, name: str, child: str, at: datetime = T0
) -> SubOrchestrationInstanceCreated:
    return SubOrchestrationInstanceCreated(
        event_id=seq, timestamp=at, name=name, version="", instance_id=child, input=None
    )


def sub_completed(seq: int, value: Any, at: datetime = T0) -> SubOrchestrationInstanceCompleted:
    return SubOrchestrationInstanceCompleted(
        timestamp=at, task_scheduled_id=seq, result=stored(value)
    )


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sdk_answer(
    orchestrator: Orchestrator, past: Sequence[HistoryEvent], new: Sequence[HistoryEvent]
) -> tuple[dict[str, Any] | None, str | None]:
    """The 1.x SDK's OrchestratorState for this episode, and its error text if it raised."""
    history = [*past, *new]
    start = next(e for e in history if isinstance(e, ExecutionStarted))
    texts = [event_json_text(event_to_json(e, with_type=False)) for e in history]
    payload = build_context_json(INSTANCE, texts, start, is_replaying=bool(past))
    handle = df.Orchestrator.create(orchestrator)
    try:
        with warnings.catch_warnings():
            # The SDK warns about an event raised before its task is awaited (as the invoker).
            warnings.filterwarnings("ignore", message="Potential duplicate Task")
            answer = handle(payload)
    except Exception as exc:
        state, message = split_out_of_proc_error(exc)
        return state, f"{type(exc).__name__}: {message}"
    return json.loads(answer), None


def decide(
    orchestrator: Orchestrator,
    past: Sequence[HistoryEvent],
    new: Sequence[HistoryEvent],
    *,
    now: datetime | None = None,
) -> Decision:
    """One 1.x episode as JsonExecutor runs it, minus the session: the SDK, then the walk."""
    state, error = sdk_answer(orchestrator, past, new)
    at = now or next(e.timestamp for e in new if isinstance(e, OrchestratorStarted))
    return replay(ctx(at), [*past, *new], state, error)
