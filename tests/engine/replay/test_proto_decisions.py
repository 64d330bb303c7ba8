"""A protobuf worker's new actions as the episode's Decision (replay/proto_decisions.py).

The worker (durabletask, azure-functions-durable 2.x) replays and numbers its actions itself;
the host turns each into the history event and message DTFx's dispatcher writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from durable_host.engine.replay.decision import Decision
from durable_host.engine.replay.proto_decisions import proto_decision
from durable_host.protobuf.actions import (
    CompleteOrchestration,
    CreateSubOrchestration,
    CreateTimer,
    EntityMessage,
    EntityMessageKind,
    OrchestratorAction,
    OrchestratorResult,
    ScheduleTask,
    TerminateOrchestration,
)
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    OrchestrationStatus,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from tests.engine.replay._histories import EXECUTION, INSTANCE, NAME, T0, ctx, later, started


def decide(
    *actions: OrchestratorAction,
    custom_status: str | None = None,
    history: Sequence[HistoryEvent] | None = None,
) -> Decision:
    result = OrchestratorResult(actions=list(actions), custom_status=custom_status)
    return proto_decision(ctx(T0), started() if history is None else history, result)


def test_each_action_keeps_the_workers_id_as_its_event_id() -> None:
    decision = decide(
        ScheduleTask(3, "work", input='"a"'),
        CreateTimer(4, fire_at=later(60)),
        CreateSubOrchestration(5, "child", instance_id=""),
        custom_status='"busy"',
    )
    task, timer, sub = decision.new_events
    assert isinstance(task, TaskScheduled) and (task.event_id, task.input) == (3, '"a"')
    assert isinstance(timer, TimerCreated) and timer.event_id == 4
    assert isinstance(sub, SubOrchestrationInstanceCreated) and sub.event_id == 5
    assert sub.instance_id == f"{EXECUTION}:5", "a child without an id gets the 1.x one"
    assert decision.custom_status == '"busy"'

    to_work_items, fired, child_start = decision.outbound
    assert to_work_items.to_work_items and to_work_items.event is task
    assert isinstance(fired.event, TimerFired) and fired.event.timer_id == 4
    assert fired.visible_at == later(60)
    assert isinstance(child_start.event, ExecutionStarted)
    assert child_start.event.parent_instance is not None
    assert child_start.event.parent_instance.name == NAME
    assert child_start.event.parent_instance.task_schedule_id == 5


def test_completion_ends_the_episode_and_later_actions_are_ignored() -> None:
    decision = decide(
        CompleteOrchestration(7, OrchestrationStatus.Completed, result='"done"'),
        ScheduleTask(8, "too_late"),
    )
    assert decision.completion is not None
    assert (decision.completion.status, decision.completion.result) == (
        OrchestrationStatus.Completed,
        '"done"',
    )
    assert decision.new_events == []


def test_a_failure_without_output_reads_as_a_1x_failure() -> None:
    failure = FailureDetails("ValueError", "card declined")
    decision = decide(CompleteOrchestration(1, OrchestrationStatus.Failed, failure=failure))
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    assert decision.completion.result == (
        f"Orchestrator function '{NAME}' failed: ValueError: card declined"
    )
    assert decision.completion.failure_details == failure


def test_a_failure_with_an_output_of_the_workers_own_keeps_it() -> None:
    failure = FailureDetails("ValueError", "card declined")
    decision = decide(
        CompleteOrchestration(1, OrchestrationStatus.Failed, result='"refunded"', failure=failure)
    )
    assert decision.completion is not None
    assert decision.completion.result == '"refunded"'
    assert decision.completion.failure_details == failure


def test_continue_as_new_keeps_its_input_and_the_carried_over_events() -> None:
    carried = EventRaised(timestamp=T0, name="later", input='"x"')
    decision = decide(
        CompleteOrchestration(
            2, OrchestrationStatus.ContinuedAsNew, result='{"n":2}', carryover_events=[carried]
        )
    )
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.ContinuedAsNew
    assert decision.continue_as_new_input == '{"n":2}'
    assert [(e.name, e.input) for e in decision.unconsumed_events] == [("later", '"x"')]


def test_an_action_the_extension_does_not_support_fails_the_instance() -> None:
    decision = decide(TerminateOrchestration(1, instance_id="other"))
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    details = decision.completion.failure_details
    assert details is not None and details.error_type == "NotSupportedException"
    assert "TerminateOrchestration" in details.error_message


def test_entity_calls_continue_the_send_labels_stored_in_the_history() -> None:
    stamp = "2026-12-07T09:00:00.0000005Z"
    stored = json.dumps({"id": "r0", "parent": INSTANCE, "Timestamp": stamp})
    history = [
        *started(),
        EventSent(event_id=0, timestamp=T0, instance_id="@counter@k", name="op", input=stored),
    ]
    call = EntityMessage(1, EntityMessageKind.CALL, "@counter@k", request_id="r1", operation="get")
    decision = decide(call, history=history)
    [sent] = decision.new_events
    assert isinstance(sent, EventSent) and (sent.event_id, sent.name) == (1, "op")
    request = json.loads(sent.input or "")
    assert (request["op"], request["id"], request["signal"]) == ("get", "r1", False)
    assert request["Predecessor"] == stamp
    [message] = decision.outbound
    assert isinstance(message.event, EventRaised) and message.event.input == sent.input


def test_a_lock_goes_to_the_first_entity_of_its_sorted_set_and_unlock_releases() -> None:
    lock = EntityMessage(
        0,
        EntityMessageKind.LOCK,
        "@a@1",
        request_id="cs-1",
        lock_set=("@a@1", "@b@2"),
        position=0,
    )
    unlock = EntityMessage(1, EntityMessageKind.UNLOCK, "@b@2", request_id="cs-1")
    locked, released = decide(lock, unlock).new_events
    assert isinstance(locked, EventSent) and locked.instance_id == "@a@1"
    request = json.loads(locked.input or "")
    assert request["lockset"] == [{"name": "a", "key": "1"}, {"name": "b", "key": "2"}]
    assert request["pos"] == 0 and "op" not in request
    assert isinstance(released, EventSent) and released.name == "release"
    assert json.loads(released.input or "") == {"parent": INSTANCE, "id": "cs-1"}
