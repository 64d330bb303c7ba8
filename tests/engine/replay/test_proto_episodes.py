"""2.x episodes, history in, decision out: durabletask's own orchestration executor answers
the OrchestratorRequest the host builds, and proto_decision turns its actions into the
episode's Decision (what ProtoExecutor does over a channel, minus the session).

durabletask's `_OrchestrationExecutor` is the pure core its workers run (durabletask-python's
own test_orchestration_executor.py drives it the same way); the version is pinned.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Sequence
from datetime import timedelta
from typing import Any, TypeAlias

from durabletask import task, worker
from durabletask.serialization import JsonDataConverter

from durable_host.engine.replay.decision import Decision
from durable_host.engine.replay.proto_decisions import proto_decision
from durable_host.protobuf.actions import read_orchestrator_response
from durable_host.protobuf.messages import messages, string_value
from durable_host.protobuf.requests import orchestrator_request
from durable_host.taskhub.events import (
    HistoryEvent,
    OrchestrationStatus,
    OrchestratorStarted,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from tests.engine.replay._histories import (
    EXECUTION,
    INSTANCE,
    NAME,
    T0,
    closed,
    completed,
    ctx,
    episode,
    failed,
    later,
    timer_fired,
)
from tests.engine.replay._histories import started as history_start

# durabletask leaves its registry's constructor unannotated.
_REGISTRY: Any = worker._Registry
Ctx: TypeAlias = task.OrchestrationContext
Gen: TypeAlias = Generator[Any, Any, Any]


def started(value: Any = None) -> list[HistoryEvent]:
    return history_start(value, protobuf=True)


def decide(
    orchestrator: Any, past: Sequence[HistoryEvent], new: Sequence[HistoryEvent]
) -> Decision:
    request = orchestrator_request(
        INSTANCE, EXECUTION, past, new, entity_reorder_window=timedelta(minutes=30)
    )
    registry = _REGISTRY()
    registry.add_named_orchestrator(NAME, orchestrator)
    executor = worker._OrchestrationExecutor(
        registry, logging.getLogger("tests.durabletask"), JsonDataConverter()
    )
    result = executor.execute(request.instanceId, request.pastEvents, request.newEvents)
    response = messages().OrchestratorResponse(
        instanceId=INSTANCE,
        actions=result.actions,
        customStatus=string_value(result.encoded_custom_status),
    )
    at = next(e.timestamp for e in new if isinstance(e, OrchestratorStarted))
    return proto_decision(ctx(at), [*past, *new], read_orchestrator_response(response))


def hello(context: Ctx, name: str) -> Gen:
    return (yield context.call_activity("say_hello", input=name))


def fan_out(context: Ctx, count: int) -> Gen:
    results = yield task.when_all([context.call_activity("work", input=i) for i in range(count)])
    return sum(results)


def test_the_first_episode_schedules_the_activity_under_the_workers_id() -> None:
    decision = decide(hello, [], started("Tokyo"))
    [event] = decision.new_events
    assert isinstance(event, TaskScheduled) and event.name == "say_hello"
    # durabletask numbers its actions from 1 (the 1.x SDK's tasks from 0); the id is kept.
    assert event.event_id == 1
    assert event.input == json.dumps("Tokyo"), "2.x input: the JSON text, not a 1.x array"
    [message] = decision.outbound
    assert message.to_work_items and message.event is event
    assert decision.completion is None


def test_the_result_completes_the_orchestration() -> None:
    past = closed(started("Tokyo"), decide(hello, [], started("Tokyo")))
    decision = decide(hello, past, episode(later(1), completed(1, "Hello Tokyo!")))
    assert decision.new_events == []
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Completed
    assert decision.completion.result == json.dumps("Hello Tokyo!")


def test_a_fan_in_completes_after_its_last_result_only() -> None:
    first = decide(fan_out, [], started(3))
    assert [(e.event_id, e.name) for e in first.new_events if isinstance(e, TaskScheduled)] == [
        (1, "work"),
        (2, "work"),
        (3, "work"),
    ]
    past = closed(started(3), first)
    partial = episode(later(1), completed(3, 30), completed(1, 10))
    waiting = decide(fan_out, past, partial)
    assert waiting.new_events == [] and waiting.completion is None

    past = closed([*past, *partial], waiting)
    done = decide(fan_out, past, episode(later(2), completed(2, 20)))
    assert done.completion is not None and done.completion.result == "60"


def test_a_timer_is_a_hidden_timer_fired_message() -> None:
    def sleeper(context: Ctx, _: Any) -> Gen:
        yield context.create_timer(later(60))
        return "awake"

    first = decide(sleeper, [], started())
    [timer] = first.new_events
    assert isinstance(timer, TimerCreated) and timer.fire_at == later(60)
    [message] = first.outbound
    assert isinstance(message.event, TimerFired) and message.visible_at == later(60)

    past = closed(started(), first)
    done = decide(sleeper, past, episode(later(60), timer_fired(timer.event_id, later(60))))
    assert done.completion is not None and done.completion.result == json.dumps("awake")


def test_an_unhandled_activity_failure_fails_the_instance_with_its_details() -> None:
    past = closed(started("x"), decide(hello, [], started("x")))
    decision = decide(hello, past, episode(later(1), failed(1, "ValueError: no such city")))
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    details = decision.completion.failure_details
    assert details is not None and details.error_type == "durabletask.task.TaskFailedError"
    assert "no such city" in details.error_message
    # No output of the worker's own: the Output reads as a 1.x failure's.
    assert (decision.completion.result or "").startswith(
        f"Orchestrator function '{NAME}' failed: durabletask.task.TaskFailedError: "
    )


def test_the_worker_finds_non_determinism_itself() -> None:
    # The history holds another activity at the worker's id 1.
    past = [
        *started("x"),
        TaskScheduled(event_id=1, timestamp=T0, name="say_goodbye", input='"x"'),
    ]
    decision = decide(hello, past, episode(later(1), completed(1, "bye")))
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    details = decision.completion.failure_details
    assert details is not None and "NonDeterminism" in details.error_type
