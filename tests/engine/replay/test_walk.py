"""The host's replay walk (replay/walk.py) under real 1.x orchestrators: history in, decision out.

Each test gives an orchestrator, the stored history and the episode's new events; the SDK
answers on the trigger payload the host builds and the walk turns that answer into the
episode's Decision: the scheduling events, the messages, the completion.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, TypeAlias

import azure.durable_functions as df

from durable_host.engine.replay.decision import Decision
from durable_host.engine.replay.walk import replay
from durable_host.taskhub.events import (
    EventRaised,
    OrchestrationStatus,
    TaskScheduled,
    TimerCreated,
)
from tests.engine.replay._histories import (
    T0,
    closed,
    completed,
    ctx,
    decide,
    episode,
    failed,
    later,
    raised,
    scheduled,
    started,
    timer_fired,
)

Ctx: TypeAlias = df.DurableOrchestrationContext
Gen: TypeAlias = Generator[Any, Any, Any]


def hello(context: Ctx) -> Gen:
    name = context.get_input()
    greeting = yield context.call_activity("say_hello", name)
    return greeting


def fan_out(context: Ctx) -> Gen:
    tasks = [context.call_activity("work", i) for i in range(context.get_input())]
    results = yield context.task_all(tasks)
    return sum(results)


def waits_for_approval(context: Ctx) -> Gen:
    timeout = context.create_timer(later(60))
    approval = context.wait_for_external_event("Approval")
    winner = yield context.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        return f"approved: {approval.result}"
    return "timed out"


def scheduled_names(decision: Decision) -> list[tuple[int, str]]:
    return [(e.event_id, e.name) for e in decision.new_events if isinstance(e, TaskScheduled)]


def test_a_new_orchestration_schedules_its_first_activity() -> None:
    decision = decide(hello, [], started("Tokyo"))

    assert scheduled_names(decision) == [(0, "say_hello")]
    [event] = decision.new_events
    assert isinstance(event, TaskScheduled)
    # The extension's TaskScheduled.Input: a one-element array of the input's JSON text.
    assert json.loads(event.input or "") == [json.dumps("Tokyo")]
    [message] = decision.outbound
    assert message.to_work_items and message.event is event
    assert decision.completion is None


def test_the_activity_result_completes_the_orchestration() -> None:
    past = closed(started("Tokyo"), decide(hello, [], started("Tokyo")))
    decision = decide(hello, past, episode(later(1), completed(0, "Hello Tokyo!")))

    assert decision.new_events == [] and decision.outbound == []
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Completed
    assert decision.completion.result == json.dumps("Hello Tokyo!")


def test_a_fan_out_schedules_each_task_once_and_completes_after_the_last_result() -> None:
    first = decide(fan_out, [], started(3))
    assert scheduled_names(first) == [(0, "work"), (1, "work"), (2, "work")]

    past = closed(started(3), first)
    partial = decide(fan_out, past, episode(later(1), completed(2, 20), completed(0, 0)))
    assert partial.new_events == [] and partial.completion is None

    past = closed([*past, *episode(later(1), completed(2, 20), completed(0, 0))], partial)
    last = decide(fan_out, past, episode(later(2), completed(1, 10)))
    assert last.completion is not None
    assert last.completion.result == "30"


def test_a_failed_activity_fails_the_orchestration_with_its_reason() -> None:
    past = closed(started("x"), decide(hello, [], started("x")))
    decision = decide(hello, past, episode(later(1), failed(0, "ValueError: no such city")))

    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    assert "no such city" in (decision.completion.result or "")
    assert (decision.completion.result or "").startswith(
        "Orchestrator function 'orchestrator' failed:"
    )


def test_a_changed_activity_name_is_a_non_determinism_failure() -> None:
    past = [*started("x"), scheduled(0, "say_goodbye", "x"), *episode(later(1))]
    decision = decide(hello, past[:3], past[3:])

    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    details = decision.completion.failure_details
    assert details is not None and details.error_type == "NonDeterminismError"
    assert "say_goodbye" in details.error_message and "say_hello" in details.error_message
    assert decision.new_events == []  # nothing of the changed code is scheduled


def test_a_stored_task_the_code_no_longer_schedules_is_a_non_determinism_failure() -> None:
    # The history has an activity at id 1; the code finishes after its first one.
    past = [*started("x"), scheduled(0, "say_hello", "x"), scheduled(1, "say_hello", "y")]
    decision = decide(hello, past, episode(later(1), completed(0, "hi")))

    assert decision.completion is not None
    details = decision.completion.failure_details
    assert details is not None and details.error_type == "NonDeterminismError"
    assert "sequence ID 1" in details.error_message


def test_an_event_that_wins_the_race_cancels_nothing_and_completes() -> None:
    first = decide(waits_for_approval, [], started())
    [timer] = first.new_events
    assert isinstance(timer, TimerCreated) and timer.fire_at == later(60)
    [message] = first.outbound
    assert message.visible_at == later(60), "the TimerFired message waits until the timer is due"

    past = closed(started(), first)
    decision = decide(waits_for_approval, past, episode(later(5), raised("Approval", "yes")))
    assert decision.completion is not None
    assert decision.completion.result == json.dumps("approved: yes")


def test_the_timer_that_wins_the_race_completes_the_other_way() -> None:
    past = closed(started(), decide(waits_for_approval, [], started()))
    decision = decide(waits_for_approval, past, episode(later(60), timer_fired(0, later(60))))
    assert decision.completion is not None
    assert decision.completion.result == json.dumps("timed out")


def test_continue_as_new_carries_its_input_and_unconsumed_events() -> None:
    def counter(context: Ctx) -> Gen:
        count = context.get_input()
        yield context.wait_for_external_event("tick")
        context.continue_as_new(count + 1)

    past = closed(started(1), decide(counter, [], started(1)))
    new = episode(later(1), raised("tick", None), raised("other", "kept"))
    decision = decide(counter, past, new)

    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.ContinuedAsNew
    assert decision.continue_as_new_input == json.dumps("2")
    assert [e.name for e in decision.unconsumed_events] == ["other"]


def test_custom_status_is_written_even_while_waiting() -> None:
    def with_status(context: Ctx) -> Gen:
        context.set_custom_status({"stage": "waiting"})
        yield context.wait_for_external_event("go")

    decision = decide(with_status, [], started())
    assert decision.completion is None
    assert decision.custom_status == json.dumps({"stage": "waiting"})


def test_a_replay_of_the_same_history_decides_the_same() -> None:
    history = [*started(3), scheduled(0, "work", 0), scheduled(1, "work", 1)]
    new = episode(later(1), completed(0, 1))
    first = decide(fan_out, history, new)
    assert scheduled_names(first) == [(2, "work")]
    assert decide(fan_out, history, new) == first


def test_an_unknown_action_fails_the_orchestration_instead_of_the_host() -> None:
    state = {"isDone": False, "actions": [[{"actionType": 99}]], "output": None}
    decision = replay(ctx(), started(), state, None)
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    details = decision.completion.failure_details
    assert details is not None and details.error_type == "UnsupportedActionError"


def test_events_raised_before_anyone_waits_are_kept_for_the_wait() -> None:
    def two_waits(context: Ctx) -> Gen:
        first = yield context.wait_for_external_event("A")
        second = yield context.wait_for_external_event("B")
        return [first, second]

    # B arrives first: the SDK's wait for A is pending; B is buffered in the walk.
    past = closed(started(), decide(two_waits, [], started()))
    b_first = episode(later(1), raised("B", 2))
    assert decide(two_waits, past, b_first).completion is None

    past = closed([*past, *b_first], Decision())
    decision = decide(two_waits, past, episode(later(2), raised("A", 1)))
    assert decision.completion is not None
    assert json.loads(decision.completion.result or "") == [1, 2]
    assert decision.unconsumed_events == []


def test_the_sdk_sees_a_stored_event_raised_as_the_episodes_input() -> None:
    # EventRaised inputs are the JSON text of the value; the SDK hands the value back.
    def echo(context: Ctx) -> Gen:
        value = yield context.wait_for_external_event("E")
        return value

    past = closed(started(), decide(echo, [], started()))
    decision = decide(
        echo, past, episode(later(1), EventRaised(timestamp=T0, name="E", input='{"a": [1]}'))
    )
    assert decision.completion is not None
    assert json.loads(decision.completion.result or "") == {"a": [1]}


def test_timer_ids_follow_the_activities_scheduled_before_them() -> None:
    def activity_then_timer(context: Ctx) -> Gen:
        yield context.call_activity("a", None)
        yield context.create_timer(later(30))
        return "done"

    history = [*started(), scheduled(0, "a"), *episode(later(1), completed(0, None))]
    decision = decide(activity_then_timer, history[:3], history[3:])
    [timer] = decision.new_events
    assert isinstance(timer, TimerCreated) and timer.event_id == 1

    past = closed(history, decision)
    end = decide(activity_then_timer, past, episode(later(30), timer_fired(1, later(30))))
    assert end.completion is not None and end.completion.result == json.dumps("done")
