"""Every DTFx history event survives the trip to a protobuf HistoryEvent and back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from durable_host.protobuf.history import event_from_proto, event_to_proto
from durable_host.protobuf.messages import messages
from durable_host.protobuf.requests import (
    decode_base64,
    encode_base64,
    orchestrator_request,
)
from durable_host.taskhub import events as ev

NOW = datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=timezone.utc)
FIRE = datetime(2026, 12, 8, 0, 0, tzinfo=timezone.utc)
INSTANCE = ev.OrchestrationInstance("abc", "e1")
FAILURE = ev.FailureDetails("ValueError", "boom", "trace", ev.FailureDetails("KeyError", "k"))

EVENTS: list[ev.HistoryEvent] = [
    ev.OrchestratorStarted(timestamp=NOW),
    ev.ExecutionStarted(
        timestamp=NOW,
        orchestration_instance=INSTANCE,
        name="chain",
        version="1.0",
        input='"x"',
        tags={"k": "v"},
        parent_instance=ev.ParentInstance("parent", None, ev.OrchestrationInstance("p", "pe"), 3),
        parent_trace_context={
            "TraceParent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
            "TraceState": None,
        },
        scheduled_start_time=FIRE,
    ),
    ev.TaskScheduled(timestamp=NOW, event_id=0, name="hello", version=None, input='"a"'),
    ev.TaskCompleted(timestamp=NOW, task_scheduled_id=0, result='"hi a"'),
    ev.TaskFailed(
        timestamp=NOW, task_scheduled_id=1, reason="boom", details="trace", failure_details=FAILURE
    ),
    ev.SubOrchestrationInstanceCreated(
        timestamp=NOW, event_id=2, name="child", version=None, instance_id="c", input="1"
    ),
    ev.SubOrchestrationInstanceCompleted(timestamp=NOW, task_scheduled_id=2, result="2"),
    ev.SubOrchestrationInstanceFailed(
        timestamp=NOW, task_scheduled_id=3, reason="boom", details="trace", failure_details=FAILURE
    ),
    ev.TimerCreated(timestamp=NOW, event_id=4, fire_at=FIRE),
    ev.TimerFired(timestamp=NOW, timer_id=4, fire_at=FIRE),
    ev.EventSent(timestamp=NOW, event_id=5, instance_id="@counter@k", name="op", input="{}"),
    ev.EventRaised(timestamp=NOW, name="approval", input="true"),
    ev.ExecutionSuspended(timestamp=NOW, reason="why"),
    ev.ExecutionResumed(timestamp=NOW, reason="why not"),
    ev.ExecutionTerminated(timestamp=NOW, input='"stop"'),
    ev.ExecutionRewound(timestamp=NOW, reason="again"),
    ev.GenericEvent(timestamp=NOW, data="d"),
    ev.ContinueAsNew(timestamp=NOW, result="5"),
    ev.ExecutionCompleted(
        timestamp=NOW,
        orchestration_status=ev.OrchestrationStatus.Failed,
        result="r",
        failure_details=FAILURE,
    ),
    ev.OrchestratorCompleted(timestamp=NOW),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.event_type.dotnet_name)
def test_round_trip(event: ev.HistoryEvent) -> None:
    expected = event
    if isinstance(event, ev.ExecutionRewound) and not hasattr(messages(), "ExecutionRewoundEvent"):
        # durabletask before 1.4 has no rewind message: its workers skip a GenericEvent.
        expected = ev.GenericEvent(timestamp=event.timestamp, data=event.reason)
    assert event_from_proto(event_to_proto(event)) == expected


def test_a_failure_without_details_is_read_from_reason_and_details() -> None:
    legacy = ev.TaskFailed(timestamp=NOW, task_scheduled_id=1, reason="boom", details="stack")
    message = event_to_proto(legacy)
    assert message.taskFailed.failureDetails.errorMessage == "boom"
    assert message.taskFailed.failureDetails.stackTrace.value == "stack"


def test_a_payload_left_null_stays_unset() -> None:
    message = event_to_proto(ev.TaskCompleted(timestamp=NOW, task_scheduled_id=0, result=None))
    assert not message.taskCompleted.HasField("result")


def test_the_request_goes_through_base64_unchanged() -> None:
    request = orchestrator_request("abc", "e1", EVENTS[:2], EVENTS[2:4])
    decoded = decode_base64(encode_base64(request), "OrchestratorRequest")
    assert decoded == request
    assert [event_from_proto(e) for e in decoded.newEvents] == EVENTS[2:4]
    assert decoded.executionId.value == "e1"


@pytest.mark.parametrize("version", ["", None])
def test_no_version_is_sent_unset(version: str | None) -> None:
    # durabletask reads an empty StringValue as the version "" (context.version is None when
    # the extension starts an orchestration without one).
    started = ev.ExecutionStarted(
        timestamp=NOW, orchestration_instance=INSTANCE, name="chain", version=version or ""
    )
    scheduled = ev.TaskScheduled(timestamp=NOW, event_id=1, name="a", version=version)
    assert not event_to_proto(started).executionStarted.HasField("version")
    assert not event_to_proto(scheduled).taskScheduled.HasField("version")
