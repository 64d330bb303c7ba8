"""Blocked episodes decided without the orchestrator: a continued walk decides as a fresh one.

The state is what the SDK returns for `yield context.task_all([...])` over four activities
(tests/sample_app shows the SDK producing this shape); histories are built event by event as the
engine writes them, one episode per result.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

from durable_host.engine.replay.blocked_episodes import BlockedWalk, replay_while_blocked
from durable_host.engine.replay.decision import Decision, EpisodeContext
from durable_host.taskhub.events import (
    ExecutionStarted,
    ExecutionSuspended,
    HistoryEvent,
    OrchestrationInstance,
    OrchestratorCompleted,
    OrchestratorStarted,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
)

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc)
WIDTH = 4


def fan_in_state() -> dict[str, Any]:
    work = [{"actionType": 0, "functionName": "work", "input": json.dumps(i)} for i in range(WIDTH)]
    return {
        "isDone": False,
        "actions": [[{"actionType": 12, "compoundActions": work}]],
        "output": None,
        "customStatus": {"waiting": True},
    }


def first_episode() -> list[HistoryEvent]:
    return [
        OrchestratorStarted(timestamp=T0),
        ExecutionStarted(
            timestamp=T0,
            orchestration_instance=OrchestrationInstance("fan", "e1"),
            name="fan",
            input="null",
        ),
        *(
            TaskScheduled(timestamp=T0, event_id=i, name="work", input=json.dumps(i))
            for i in range(WIDTH)
        ),
        OrchestratorCompleted(timestamp=T0),
    ]


def ctx(episode: int) -> EpisodeContext:
    return EpisodeContext("fan", "e1", "fan", T0 + timedelta(seconds=episode))


def blocked_after_task_0(state: dict[str, Any]) -> tuple[list[HistoryEvent], BlockedWalk]:
    """The history after task 0's episode (still blocked), closed and a new episode begun,
    and the walk that episode kept."""
    history = first_episode()
    history += [OrchestratorStarted(timestamp=T0), TaskCompleted(timestamp=T0, task_scheduled_id=0)]
    _, walk = replay_while_blocked(ctx(1), history, state)
    assert walk is not None
    history += [OrchestratorCompleted(timestamp=T0), OrchestratorStarted(timestamp=T0)]
    return history, walk


def comparable(decision: Decision | None) -> Any:
    return None if decision is None else asdict(decision)


def test_each_result_but_the_last_is_decided_by_continuing_one_walk() -> None:
    state = fan_in_state()
    history = first_episode()
    walk: BlockedWalk | None = None
    walkers = set()
    for episode, task in enumerate([2, 0, 3], start=1):
        history += [
            OrchestratorStarted(timestamp=T0 + timedelta(seconds=episode)),
            TaskCompleted(timestamp=T0, task_scheduled_id=task, result=json.dumps(task)),
        ]
        fresh, _ = replay_while_blocked(ctx(episode), history, state)
        decision, walk = replay_while_blocked(ctx(episode), history, state, walk)

        assert decision is not None, f"episode {episode} is still blocked on task 1"
        assert comparable(decision) == comparable(fresh)
        assert decision.new_events == [] and decision.outbound == []
        assert decision.custom_status == json.dumps({"waiting": True})
        assert walk is not None and walk.walked == len(history)
        walkers.add(id(walk.walker))
        history.append(OrchestratorCompleted(timestamp=T0))
    assert len(walkers) == 1, "the walk of the first blocked episode was continued"

    history += [
        OrchestratorStarted(timestamp=T0 + timedelta(seconds=9)),
        TaskCompleted(timestamp=T0, task_scheduled_id=1, result="1"),
    ]
    decision, walk = replay_while_blocked(ctx(9), history, state, walk)
    assert decision is None and walk is None  # the fan-in is complete: the orchestrator runs


def test_a_failed_child_ends_the_wait_as_a_fresh_walk_says() -> None:
    state = fan_in_state()
    history, walk = blocked_after_task_0(state)
    history += [
        TaskFailed(timestamp=T0, task_scheduled_id=2, reason="boom"),
    ]
    fresh = replay_while_blocked(ctx(2), history, state)
    continued = replay_while_blocked(ctx(2), history, state, walk)
    assert (comparable(continued[0]), continued[1] is None) == (
        comparable(fresh[0]),
        fresh[1] is None,
    )


def test_a_walk_is_not_continued_past_events_it_cannot_take() -> None:
    state = fan_in_state()
    history, walk = blocked_after_task_0(state)
    history += [
        ExecutionSuspended(timestamp=T0),
        TaskCompleted(timestamp=T0, task_scheduled_id=1),
    ]
    decision, next_walk = replay_while_blocked(ctx(2), history, state, walk)
    assert decision is not None
    assert next_walk is not None and next_walk.walker is not walk.walker


def test_a_walk_of_another_state_is_not_continued() -> None:
    history, walk = blocked_after_task_0(fan_in_state())
    newer_state = fan_in_state()  # the orchestrator ran in between: a new OrchestratorState
    history += [
        TaskCompleted(timestamp=T0, task_scheduled_id=1),
    ]
    decision, next_walk = replay_while_blocked(ctx(2), history, newer_state, walk)
    assert decision is not None
    assert next_walk is not None and next_walk.walker is not walk.walker


def test_a_finished_or_failed_state_is_never_reused() -> None:
    history, _ = blocked_after_task_0(fan_in_state())
    done = {**fan_in_state(), "isDone": True}
    failed = {**fan_in_state(), "error": "boom"}
    assert replay_while_blocked(ctx(2), history, done) == (None, None)
    assert replay_while_blocked(ctx(2), history, failed) == (None, None)


def test_a_state_the_history_contradicts_is_left_to_the_orchestrator() -> None:
    # The stored task 1 is another activity than the state's: the orchestrator must run (and
    # the walk of its answer reports the non-determinism).
    history = first_episode()
    history[3] = TaskScheduled(event_id=1, timestamp=T0, name="other", input="[]")
    history += [OrchestratorStarted(timestamp=T0), TaskCompleted(timestamp=T0, task_scheduled_id=0)]
    assert replay_while_blocked(ctx(1), history, fan_in_state()) == (None, None)
