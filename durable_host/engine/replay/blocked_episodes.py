"""Episodes decided without running the orchestrator, when running it cannot change anything.

The SDK replays the generator from the start and stops at the first task without a result.
If the task it stopped at last episode is still unfinished after the new events (a fan-in
waiting for most of its activities), it would return exactly the previous OrchestratorState,
so the host walks the history against that state's actions instead of invoking the SDK.

A fan-in of N activities receives its results over many episodes, and the history grows
with each one. A walk that ends blocked is therefore kept (`BlockedWalk`) and continued with
the next episode's events, rather than started again from the first event: without that, the
walks alone were a quarter of a 1,000-activity fan-out's CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from durable_host.engine.replay.actions import flatten_actions
from durable_host.engine.replay.decision import Decision, EpisodeContext, settle
from durable_host.engine.replay.walk import HistoryWalker, UnsupportedActionError
from durable_host.errors import NonDeterminismError
from durable_host.taskhub.events import (
    EventRaised,
    HistoryEvent,
    OrchestratorCompleted,
    OrchestratorStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
    TaskFailed,
    TimerFired,
)

__all__ = ["BlockedWalk", "replay_while_blocked"]

# What a continued walk may be fed: episode markers and results. Anything else in the new
# part of the history (a scheduling event, a start) means the last episode did more than
# wait, so the walk starts again from the first event.
_CONTINUABLE = (
    OrchestratorStarted,
    OrchestratorCompleted,
    TaskCompleted,
    TaskFailed,
    TimerFired,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    EventRaised,
)


@dataclass
class BlockedWalk:
    """A walk of an execution's history that ended blocked on `state`'s actions."""

    state: dict[str, Any]
    walker: HistoryWalker
    walked: int  # how many history events it has seen


def replay_while_blocked(
    ctx: EpisodeContext,
    history: Sequence[HistoryEvent],
    previous_state: dict[str, Any],
    walk: BlockedWalk | None = None,
) -> tuple[Decision | None, BlockedWalk | None]:
    """The episode's decision without running the orchestrator, or None when it must run;
    and the walk to continue next episode (None when there is nothing to keep)."""
    if previous_state.get("isDone") or previous_state.get("error"):
        return None, None
    actions = flatten_actions(previous_state.get("actions"))
    if not actions:
        return None, None
    try:
        walker = _continued(ctx, history, previous_state, walk)
        if walker is None:
            walker = HistoryWalker(ctx, history, actions)
            walker.feed(history)
        decision = walker.finish()
    except (NonDeterminismError, UnsupportedActionError):
        return None, None
    if not walker.blocked or decision.new_events or decision.outbound:
        # Running the orchestrator can change its decision, or this walk produced events
        # (a retry's timer) that the next walk must see as stored: start afresh next time.
        return None, None
    settled = settle(ctx, decision, previous_state, None, actions)
    return settled, BlockedWalk(previous_state, walker, len(history))


def _continued(
    ctx: EpisodeContext,
    history: Sequence[HistoryEvent],
    state: dict[str, Any],
    walk: BlockedWalk | None,
) -> HistoryWalker | None:
    """The kept walker, fed what the history gained since, if it can be continued."""
    if walk is None or walk.state is not state or walk.walked > len(history):
        return None
    new = history[walk.walked :]
    if not all(isinstance(event, _CONTINUABLE) for event in new):
        return None
    walk.walker.continue_with(ctx, new)
    return walk.walker
