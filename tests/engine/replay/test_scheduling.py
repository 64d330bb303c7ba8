"""Each action's scheduling event and message (replay/scheduling.py), as DTFx writes them."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, TypeAlias

import azure.durable_functions as df

from durable_host.engine.replay.actions import HTTP_ACTIVITY_NAME
from durable_host.engine.replay.walk import replay
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    OrchestrationInstance,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
)
from tests.engine.replay._histories import (
    EXECUTION,
    INSTANCE,
    NAME,
    T0,
    ctx,
    decide,
    episode,
    later,
    started,
    sub_completed,
    sub_created,
)

Ctx: TypeAlias = df.DurableOrchestrationContext
Gen: TypeAlias = Generator[Any, Any, Any]


def parent(context: Ctx) -> Gen:
    first = yield context.call_sub_orchestrator("child", "in")
    second = yield context.call_sub_orchestrator("child", "in2", instance_id="named-child")
    return [first, second]


def test_a_sub_orchestration_gets_its_start_message_and_a_deterministic_id() -> None:
    decision = decide(parent, [], started())
    [created] = decision.new_events
    assert isinstance(created, SubOrchestrationInstanceCreated)
    assert (created.event_id, created.name) == (0, "child")
    assert created.instance_id == f"{EXECUTION}:0"
    assert created.input == json.dumps(json.dumps("in"))

    [message] = decision.outbound
    start = message.event
    assert isinstance(start, ExecutionStarted)
    assert message.target.instance_id == created.instance_id
    assert start.parent_instance is not None
    assert start.parent_instance.orchestration_instance == OrchestrationInstance(
        INSTANCE, EXECUTION
    )
    assert (start.parent_instance.name, start.parent_instance.task_schedule_id) == (NAME, 0)


def test_a_stored_sub_orchestration_is_not_sent_again() -> None:
    # The stored child id is not the one this code would make: nothing may start it again.
    past = [*started(), sub_created(0, "child", "made-by-an-older-host")]
    decision = decide(parent, past, episode(later(1), sub_completed(0, "one")))
    [created] = decision.new_events
    assert isinstance(created, SubOrchestrationInstanceCreated)
    assert (created.event_id, created.instance_id) == (1, "named-child")
    assert [m.target.instance_id for m in decision.outbound] == ["named-child"]


def test_call_http_schedules_the_extensions_built_in_activity() -> None:
    def fetch(context: Ctx) -> Gen:
        return (yield context.call_http("GET", "https://example.test/items"))

    decision = decide(fetch, [], started())
    [event] = decision.new_events
    assert isinstance(event, TaskScheduled) and event.name == HTTP_ACTIVITY_NAME
    [request] = json.loads(event.input or "")
    assert request["method"] == "GET" and request["uri"] == "https://example.test/items"


def test_an_entity_call_is_an_event_sent_to_the_entity_and_waits_for_its_answer() -> None:
    def calls_entity(context: Ctx) -> Gen:
        entity = df.EntityId("counter", "k")
        return (yield context.call_entity(entity, "add", 5))

    decision = decide(calls_entity, [], started())
    [sent] = decision.new_events
    assert isinstance(sent, EventSent) and (sent.instance_id, sent.name) == ("@counter@k", "op")
    request = json.loads(sent.input or "")
    assert (request["op"], request["signal"]) == ("add", False)
    # The extension serializes the SDK's input text again: a JSON string holding JSON.
    assert json.loads(request["input"]) == "5"

    [message] = decision.outbound
    assert message.target == OrchestrationInstance("@counter@k", None)
    assert isinstance(message.event, EventRaised) and message.event.input == sent.input
    assert decision.completion is None

    answer = EventRaised(timestamp=later(1), name=request["id"], input=json.dumps({"result": "5"}))
    past = [*started(), sent]
    done = decide(calls_entity, past, episode(later(1), answer))
    assert done.completion is not None and done.completion.result == "5"


def test_a_signal_does_not_wait_for_the_entity() -> None:
    def signals(context: Ctx) -> Gen:
        context.signal_entity(df.EntityId("counter", "k"), "reset")
        yield context.create_timer(later(3600))

    decision = decide(signals, [], started())
    sent, timer = decision.new_events
    assert isinstance(sent, EventSent) and json.loads(sent.input or "")["signal"] is True
    assert isinstance(timer, TimerCreated) and timer.event_id == 1
    assert decision.outbound[0].visible_at is None


def test_a_scheduled_signal_is_sent_hidden_until_it_is_due() -> None:
    # The 1.x SDK's API has no scheduled signal: its action (type 10) is written here.
    due = "2026-12-07T10:00:00.000000Z"
    action = {"actionType": 10, "instanceId": "@counter@k", "operation": "reset", "fireAt": due}
    state = {"isDone": False, "actions": [[action]], "output": None}
    decision = replay(ctx(T0), started(), state, None)
    [sent] = decision.new_events
    assert isinstance(sent, EventSent) and sent.name == f"op@{due}"
    assert decision.outbound[0].visible_at == later(3600)


def test_an_entity_operations_error_fails_its_task_for_the_walk_too() -> None:
    # A fan-in over an entity call and an activity ends at the entity's error (the SDK's
    # task_all fails fast): the walk must see the call failed to reach the next action.
    def calls_entity(context: Ctx) -> Gen:
        entity = context.call_entity(df.EntityId("counter", "k"), "divide", 0)
        try:
            yield context.task_all([entity, context.call_activity("slow", None)])
        except Exception as error:
            yield context.call_activity("clean_up", str(error))
        return "done"

    first = decide(calls_entity, [], started())
    sent, slow = first.new_events
    assert isinstance(sent, EventSent) and isinstance(slow, TaskScheduled)
    request_id = json.loads(sent.input or "")["id"]
    # The ResponseMessage of a failed operation: its error as JSON text, and exceptionType.
    answer = {"result": json.dumps("division by zero"), "exceptionType": "Error"}
    error = EventRaised(timestamp=later(1), name=request_id, input=json.dumps(answer))
    decision = decide(calls_entity, [*started(), sent, slow], episode(later(1), error))
    [clean_up] = decision.new_events
    assert isinstance(clean_up, TaskScheduled)
    assert (clean_up.event_id, clean_up.name) == (2, "clean_up")
    assert json.loads(clean_up.input or "") == [json.dumps("division by zero")]
