"""The 1.x protocol: orchestrators get the SDK's JSON context and answer with their actions
(the host walks them against the history: engine/replay/walk.py), entities a JSON batch,
activities their input from TaskScheduled's one-element array (docs/protocol.md §1-§3).

An orchestrator still blocked on tasks the new events do not complete is decided without
running it (replay/blocked_episodes.py): the SDK would answer with the same state.
"""

from __future__ import annotations

import json

from durable_host.engine.dispatch.entity_state import build_batch_json, parse_entity_result
from durable_host.engine.dispatch.episode import log_host_failure
from durable_host.engine.dispatch.executors import (
    ActivityResult,
    ActivityWorkItem,
    EntityBatch,
    EntityOutcome,
    Episode,
    failed_batch,
)
from durable_host.engine.replay.blocked_episodes import replay_while_blocked
from durable_host.engine.replay.context import build_context_json, event_json_text
from durable_host.engine.replay.decision import Decision
from durable_host.engine.replay.walk import replay
from durable_host.functions import FunctionInvoker
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import TaskScheduled

__all__ = ["JsonExecutor", "first_input"]


class JsonExecutor:
    """Runs 1.x orchestrators, entities and activities through `invoker`."""

    def __init__(self, invoker: FunctionInvoker) -> None:
        self._invoker = invoker

    async def run_episode(self, episode: Episode) -> Decision:
        session = episode.session
        ctx = episode.context
        history = session.history + list(episode.new_events)
        if session.last_state is not None and session.history:
            unchanged, walk = replay_while_blocked(
                ctx, history, session.last_state, session.blocked_walk
            )
            session.continue_walk(walk)
            if unchanged is not None:
                unchanged.skipped = True
                return unchanged
        history_texts = session.played_json() + [
            event_json_text(event_to_json(e, with_type=False)) for e in episode.new_events
        ]
        context_json = build_context_json(
            session.instance_id, history_texts, episode.started, is_replaying=bool(session.history)
        )
        outcome = await self._invoker.invoke_orchestrator(episode.started.name, context_json)
        session.remember_state(outcome.state if outcome.error is None else None)
        decision = replay(ctx, history, outcome.state, outcome.error)
        if outcome.error is None:
            log_host_failure(ctx, decision)  # e.g. a non-deterministic replay
        return decision

    async def run_entity_batch(self, batch: EntityBatch) -> EntityOutcome:
        batch_json = build_batch_json(batch.name, batch.key, batch.state, batch.requests)
        try:
            result_json = await self._invoker.invoke_entity(batch.name, batch_json)
            return EntityOutcome(parse_entity_result(result_json, len(batch.requests)))
        except Exception as exc:
            return EntityOutcome(failed_batch(batch, exc))

    def activity_input(self, event: TaskScheduled) -> str | None:
        return first_input(event.input)

    async def run_activity(self, item: ActivityWorkItem) -> ActivityResult:
        name = item.event.name
        try:
            outcome = await self._invoker.invoke_activity(name, first_input(item.event.input))
        except Exception as exc:
            return ActivityResult(error_message=str(exc), error_type=type(exc).__name__)
        if outcome.error is not None:
            return ActivityResult(
                error_message=outcome.error.message,
                error_type=outcome.error.error_type,
                stack_trace=outcome.error.stack_trace,
            )
        return ActivityResult(result_json=outcome.result_json)


def first_input(text: str | None) -> str | None:
    """TaskScheduled.Input is a one-element JSON array holding the activity's input JSON text."""
    if text is None:
        return None
    try:
        values = json.loads(text)
    except ValueError:
        return text
    if isinstance(values, list):
        if not values:
            return None
        first = values[0]
        return first if isinstance(first, str) or first is None else json.dumps(first)
    return text
