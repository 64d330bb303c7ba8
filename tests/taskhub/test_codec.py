"""Golden tests: expected JSON and rows written by hand from docs/task-hub-layout.md §2-§3."""

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent as SdkHistoryEvent

from durable_host.errors import MessageFormatError
from durable_host.taskhub import events as ev
from durable_host.taskhub.event_json import event_from_json, event_to_json
from durable_host.taskhub.history_rows import (
    LARGE_PROPERTY_NAMES,
    event_from_row,
    event_to_row,
    sentinel_row,
)
from durable_host.taskhub.queue_messages import decode_message, encode_message

UTC = timezone.utc
T = datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
TS = "2025-01-01T00:00:00.1234560Z"
FIRE = datetime(2025, 1, 4, 0, 0, tzinfo=UTC)
FIRE_S = "2025-01-04T00:00:00.0000000Z"
EXEC = "5c2e9f0d6a7b4c1e8f3a2b1c0d9e8f7a"
H = "DurableTask.Core.History."
OI_TYPE = "DurableTask.Core.OrchestrationInstance"
FD_TYPE = "DurableTask.Core.FailureDetails"

# Each case: (event, queue JSON with $type, History row columns besides the keys/ExecutionId).
CASES: list[tuple[ev.HistoryEvent, dict[str, Any], dict[str, Any]]] = [
    (
        ev.ExecutionStarted(
            timestamp=T,
            orchestration_instance=ev.OrchestrationInstance("sub1", "e2"),
            name="Child",
            version="1.0",
            input='{"a": 1}',
            parent_instance=ev.ParentInstance(
                name="Parent",
                version="",
                orchestration_instance=ev.OrchestrationInstance("abc123", EXEC),
                task_schedule_id=3,
            ),
            tags={"owner": "me"},
            correlation="corr",
            scheduled_start_time=FIRE,
            generation=2,
        ),
        {
            "$type": H + "ExecutionStartedEvent",
            "OrchestrationInstance": {"$type": OI_TYPE, "InstanceId": "sub1", "ExecutionId": "e2"},
            "EventType": 0,
            "ParentInstance": {
                "$type": "DurableTask.Core.ParentInstance",
                "Name": "Parent",
                "Version": "",
                "OrchestrationInstance": {
                    "$type": OI_TYPE,
                    "InstanceId": "abc123",
                    "ExecutionId": EXEC,
                },
                "TaskScheduleId": 3,
            },
            "Name": "Child",
            "Version": "1.0",
            "Input": '{"a": 1}',
            "Tags": {"owner": "me"},
            "Correlation": "corr",
            "ParentTraceContext": None,
            "ScheduledStartTime": FIRE_S,
            "Generation": 2,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "ExecutionStarted",
            "OrchestrationInstance": '{"InstanceId":"sub1","ExecutionId":"e2"}',
            "ParentInstance": (
                '{"Name":"Parent","Version":"","OrchestrationInstance":'
                '{"InstanceId":"abc123","ExecutionId":"' + EXEC + '"},"TaskScheduleId":3}'
            ),
            "Name": "Child",
            "Version": "1.0",
            "Input": '{"a": 1}',
            "Tags": '{"owner":"me"}',
            "Correlation": "corr",
            "ParentTraceContext": "null",
            "ScheduledStartTime": FIRE,
            "Generation": 2,
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.ExecutionCompleted(
            timestamp=T,
            event_id=5,
            orchestration_status=ev.OrchestrationStatus.Completed,
            result='"done"',
        ),
        {
            "$type": H + "ExecutionCompletedEvent",
            "EventType": 1,
            "OrchestrationStatus": 1,
            "Result": '"done"',
            "FailureDetails": None,
            "EventId": 5,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "ExecutionCompleted",
            "OrchestrationStatus": "Completed",
            "Result": '"done"',
            "FailureDetails": "null",
            "EventId": 5,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.ExecutionTerminated(timestamp=T, is_played=True, input="stop it"),
        {
            "$type": H + "ExecutionTerminatedEvent",
            "EventType": 3,
            "Input": "stop it",
            "EventId": -1,
            "IsPlayed": True,
            "Timestamp": TS,
        },
        {
            "EventType": "ExecutionTerminated",
            "Input": "stop it",
            "EventId": -1,
            "IsPlayed": True,
            "_Timestamp": T,
        },
    ),
    (
        ev.TaskScheduled(timestamp=T, event_id=0, name="Hello", input='["\\"Tokyo\\""]'),
        {
            "$type": H + "TaskScheduledEvent",
            "EventType": 4,
            "Name": "Hello",
            "Version": None,
            "Input": '["\\"Tokyo\\""]',
            "Tags": None,
            "ParentTraceContext": None,
            "EventId": 0,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "TaskScheduled",
            "Name": "Hello",
            "Input": '["\\"Tokyo\\""]',
            "Tags": "null",
            "ParentTraceContext": "null",
            "EventId": 0,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.TaskCompleted(timestamp=T, task_scheduled_id=0, result='"Hello Tokyo!"'),
        {
            "$type": H + "TaskCompletedEvent",
            "EventType": 5,
            "TaskScheduledId": 0,
            "Result": '"Hello Tokyo!"',
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "TaskCompleted",
            "TaskScheduledId": 0,
            "Result": '"Hello Tokyo!"',
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.TaskFailed(
            timestamp=T,
            task_scheduled_id=1,
            reason="Activity function 'Hello' failed: boom",
            details="{}",
            failure_details=ev.FailureDetails(
                error_type="ValueError",
                error_message="boom",
                inner_failure=ev.FailureDetails("KeyError", "x", stack_trace="at y"),
            ),
        ),
        {
            "$type": H + "TaskFailedEvent",
            "EventType": 6,
            "TaskScheduledId": 1,
            "Reason": "Activity function 'Hello' failed: boom",
            "Details": "{}",
            "FailureDetails": {
                "$type": FD_TYPE,
                "ErrorType": "ValueError",
                "ErrorMessage": "boom",
                "StackTrace": None,
                "InnerFailure": {
                    "$type": FD_TYPE,
                    "ErrorType": "KeyError",
                    "ErrorMessage": "x",
                    "StackTrace": "at y",
                    "InnerFailure": None,
                    "IsNonRetriable": False,
                },
                "IsNonRetriable": False,
            },
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "TaskFailed",
            "TaskScheduledId": 1,
            "Reason": "Activity function 'Hello' failed: boom",
            "Details": "{}",
            "FailureDetails": (
                '{"ErrorType":"ValueError","ErrorMessage":"boom","StackTrace":null,'
                '"InnerFailure":{"ErrorType":"KeyError","ErrorMessage":"x","StackTrace":"at y",'
                '"InnerFailure":null,"IsNonRetriable":false},"IsNonRetriable":false}'
            ),
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.SubOrchestrationInstanceCreated(
            timestamp=T, event_id=2, name="Child", instance_id="sub1", input="null"
        ),
        {
            "$type": H + "SubOrchestrationInstanceCreatedEvent",
            "EventType": 7,
            "Name": "Child",
            "Version": None,
            "InstanceId": "sub1",
            "Input": "null",
            "ClientSpanId": None,
            "Tags": None,
            "EventId": 2,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "SubOrchestrationInstanceCreated",
            "Name": "Child",
            "InstanceId": "sub1",
            "Input": "null",
            "Tags": "null",
            "EventId": 2,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.SubOrchestrationInstanceCompleted(timestamp=T, task_scheduled_id=2, result="42"),
        {
            "$type": H + "SubOrchestrationInstanceCompletedEvent",
            "EventType": 8,
            "TaskScheduledId": 2,
            "Result": "42",
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "SubOrchestrationInstanceCompleted",
            "TaskScheduledId": 2,
            "Result": "42",
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.SubOrchestrationInstanceFailed(timestamp=T, task_scheduled_id=2, reason="bad"),
        {
            "$type": H + "SubOrchestrationInstanceFailedEvent",
            "EventType": 9,
            "TaskScheduledId": 2,
            "Reason": "bad",
            "Details": None,
            "FailureDetails": None,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "SubOrchestrationInstanceFailed",
            "TaskScheduledId": 2,
            "Reason": "bad",
            "FailureDetails": "null",
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.TimerCreated(timestamp=T, event_id=3, fire_at=FIRE),
        {
            "$type": H + "TimerCreatedEvent",
            "EventType": 10,
            "FireAt": FIRE_S,
            "EventId": 3,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "TimerCreated",
            "FireAt": FIRE,
            "EventId": 3,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.TimerFired(timestamp=T, timer_id=3, fire_at=FIRE),
        {
            "$type": H + "TimerFiredEvent",
            "EventType": 11,
            "TimerId": 3,
            "FireAt": FIRE_S,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "TimerFired",
            "TimerId": 3,
            "FireAt": FIRE,
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.OrchestratorStarted(timestamp=T),
        {
            "$type": H + "OrchestratorStartedEvent",
            "EventType": 12,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {"EventType": "OrchestratorStarted", "EventId": -1, "IsPlayed": False, "_Timestamp": T},
    ),
    (
        ev.OrchestratorCompleted(timestamp=T, is_played=True),
        {
            "$type": H + "OrchestratorCompletedEvent",
            "EventType": 13,
            "EventId": -1,
            "IsPlayed": True,
            "Timestamp": TS,
        },
        {"EventType": "OrchestratorCompleted", "EventId": -1, "IsPlayed": True, "_Timestamp": T},
    ),
    (
        ev.EventSent(
            timestamp=T, event_id=4, instance_id="@counter@k1", name="op", input='{"op":"add"}'
        ),
        {
            "$type": H + "EventSentEvent",
            "EventType": 14,
            "InstanceId": "@counter@k1",
            "Name": "op",
            "Input": '{"op":"add"}',
            "EventId": 4,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "EventSent",
            "InstanceId": "@counter@k1",
            "Name": "op",
            "Input": '{"op":"add"}',
            "EventId": 4,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.EventRaised(timestamp=T, name="Approval", input="true"),
        {
            "$type": H + "EventRaisedEvent",
            "EventType": 15,
            "Name": "Approval",
            "Input": "true",
            "ParentTraceContext": None,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "EventRaised",
            "Name": "Approval",
            "Input": "true",
            "ParentTraceContext": "null",
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.ContinueAsNew(timestamp=T, event_id=1, result='{"n": 2}'),
        {
            "$type": H + "ContinueAsNewEvent",
            "EventType": 16,
            "OrchestrationStatus": 2,
            "Result": '{"n": 2}',
            "FailureDetails": None,
            "EventId": 1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "ContinueAsNew",
            "OrchestrationStatus": "ContinuedAsNew",
            "Result": '{"n": 2}',
            "FailureDetails": "null",
            "EventId": 1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.GenericEvent(timestamp=T, data="hello"),
        {
            "$type": H + "GenericEvent",
            "EventType": 17,
            "Data": "hello",
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "GenericEvent",
            "Data": "hello",
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.ExecutionSuspended(timestamp=T, reason="maintenance"),
        {
            "$type": H + "ExecutionSuspendedEvent",
            "EventType": 19,
            "Reason": "maintenance",
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "ExecutionSuspended",
            "Reason": "maintenance",
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
    (
        ev.ExecutionResumed(timestamp=T),
        {
            "$type": H + "ExecutionResumedEvent",
            "EventType": 20,
            "Reason": None,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {"EventType": "ExecutionResumed", "EventId": -1, "IsPlayed": False, "_Timestamp": T},
    ),
    (
        ev.ExecutionRewound(timestamp=T, reason="retry"),
        {
            "$type": H + "ExecutionRewoundEvent",
            "EventType": 21,
            "Reason": "retry",
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": TS,
        },
        {
            "EventType": "ExecutionRewound",
            "Reason": "retry",
            "EventId": -1,
            "IsPlayed": False,
            "_Timestamp": T,
        },
    ),
]
IDS = [type(case[0]).__name__ for case in CASES]


def _strip_types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_types(v) for k, v in value.items() if k != "$type"}
    return value


def test_cases_cover_every_event_class() -> None:
    assert {type(case[0]) for case in CASES} == set(ev.EVENT_CLASSES.values())


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
def test_queue_json_golden(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any]
) -> None:
    actual = event_to_json(event, with_type=True)
    assert actual == expected
    assert list(actual) == list(expected), "key order: $type first, then .NET member order"


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
def test_sdk_history_json_has_no_type_anywhere(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any]
) -> None:
    actual = event_to_json(event, with_type=False)
    assert actual == _strip_types(expected)
    assert "$type" not in json.dumps(actual)


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
def test_real_sdk_reads_history_json(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any]
) -> None:
    sdk_event = SdkHistoryEvent(**json.loads(json.dumps(event_to_json(event, with_type=False))))
    assert sdk_event.event_type == int(event.event_type)
    assert sdk_event.event_id == event.event_id
    assert sdk_event.is_played == event.is_played
    assert sdk_event.timestamp == event.timestamp
    if hasattr(event, "task_scheduled_id"):
        assert sdk_event.TaskScheduledId == event.task_scheduled_id


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
def test_history_row_golden(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any]
) -> None:
    actual = event_to_row(event, instance_id="orders/1#x", execution_id=EXEC, index=26)
    assert actual == {
        "PartitionKey": "orders^01^2x",
        "RowKey": "000000000000001A",
        "ExecutionId": EXEC,
        **row,
    }
    # Types matter for Table storage: the Int32 columns must be plain ints, never bools.
    for column in ("EventId", "TaskScheduledId", "TimerId", "Generation"):
        if column in actual:
            assert type(actual[column]) is int
    assert type(actual["IsPlayed"]) is bool


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
@pytest.mark.parametrize("with_type", [True, False])
def test_json_round_trip(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any], with_type: bool
) -> None:
    data = json.loads(json.dumps(event_to_json(event, with_type=with_type)))
    assert event_from_json(data) == event


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
def test_row_round_trip(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any]
) -> None:
    written = event_to_row(event, instance_id="i", execution_id="e", index=0)
    assert event_from_row(written) == event


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
def test_reads_hand_written_golden_forms(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any]
) -> None:
    assert event_from_json(expected) == event
    assert event_from_row({"PartitionKey": "i", "RowKey": "0", "ExecutionId": "e", **row}) == event


# --------------------------------------------------------------------------- messages

# A start message as current .NET (DT.AS 2.x) writes it: docs/task-hub-layout.md §2.
DOTNET_START_MESSAGE = (
    '{"$type":"DurableTask.AzureStorage.MessageData",'
    '"ActivityId":"0f8fad5b-d9cb-469f-a165-70867728950e",'
    '"TaskMessage":{"$type":"DurableTask.Core.TaskMessage",'
    '"Event":{"$type":"DurableTask.Core.History.ExecutionStartedEvent",'
    '"OrchestrationInstance":{"$type":"DurableTask.Core.OrchestrationInstance",'
    '"InstanceId":"abc123","ExecutionId":"5c2e9f0d6a7b4c1e8f3a2b1c0d9e8f7a"},'
    '"EventType":0,"ParentInstance":null,"Name":"Hello","Version":"","Input":"\\"World\\"",'
    '"Tags":null,"Correlation":null,"ParentTraceContext":null,"GenerateNewTrace":false,'
    '"ScheduledStartTime":null,"Generation":0,"EventId":-1,"IsPlayed":false,'
    '"Timestamp":"2025-01-01T00:00:00.1234567Z"},'
    '"SequenceNumber":0,"OrchestrationInstance":{"$type":"DurableTask.Core.OrchestrationInstance",'
    '"InstanceId":"abc123","ExecutionId":"5c2e9f0d6a7b4c1e8f3a2b1c0d9e8f7a"},'
    '"OrchestrationExecutionContext":null},'
    '"CompressedBlobName":null,"SequenceNumber":7,"Sender":{"InstanceId":"","ExecutionId":""},'
    '"SerializableTraceContext":null}'
)
# Members of that message that we do not model (readers ignore them).
DROPPED = {"GenerateNewTrace", "OrchestrationExecutionContext"}


def _without(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    return value


def test_dotnet_start_message_decodes() -> None:
    msg = decode_message(DOTNET_START_MESSAGE)
    assert msg.activity_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert msg.sequence_number == 7
    assert msg.episode is None
    assert msg.sender == ev.OrchestrationInstance("", "")
    assert msg.compressed_blob_name is None
    assert msg.task_message is not None
    assert msg.task_message.orchestration_instance == ev.OrchestrationInstance("abc123", EXEC)
    assert msg.task_message.event == ev.ExecutionStarted(
        timestamp=T,
        orchestration_instance=ev.OrchestrationInstance("abc123", EXEC),
        name="Hello",
        version="",
        input='"World"',
    )


def test_dotnet_start_message_reencodes_key_by_key() -> None:
    original = json.loads(DOTNET_START_MESSAGE)
    reencoded = json.loads(encode_message(decode_message(DOTNET_START_MESSAGE)))
    # 7 fractional digits go through Python's microseconds: the 7th is truncated.
    original["TaskMessage"]["Event"]["Timestamp"] = TS
    expected = _without(original, DROPPED)
    assert reencoded == expected
    assert list(reencoded) == list(expected)
    assert list(reencoded["TaskMessage"]) == list(expected["TaskMessage"])
    assert list(reencoded["TaskMessage"]["Event"]) == list(expected["TaskMessage"]["Event"])


def _message(event: ev.HistoryEvent, **kw: Any) -> ev.MessageData:
    return ev.MessageData(
        activity_id="11111111-2222-3333-4444-555555555555",
        task_message=ev.TaskMessage(event, ev.OrchestrationInstance("abc123", None)),
        **kw,
    )


def test_encode_message_golden_activity_request() -> None:
    msg = _message(
        ev.TaskScheduled(timestamp=T, event_id=0, name="Hello", input='["\\"Tokyo\\""]'),
        sequence_number=3,
        episode=1,
        sender=ev.OrchestrationInstance("abc123", EXEC),
    )
    body = encode_message(msg)
    assert " " not in body.replace("Hello Tokyo", "")
    assert json.loads(body) == {
        "$type": "DurableTask.AzureStorage.MessageData",
        "ActivityId": "11111111-2222-3333-4444-555555555555",
        "TaskMessage": {
            "$type": "DurableTask.Core.TaskMessage",
            "Event": CASES[3][1],
            "SequenceNumber": 0,
            "OrchestrationInstance": {
                "$type": OI_TYPE,
                "InstanceId": "abc123",
                "ExecutionId": None,
            },
        },
        "CompressedBlobName": None,
        "SequenceNumber": 3,
        "Episode": 1,
        "Sender": {"InstanceId": "abc123", "ExecutionId": EXEC},
        "SerializableTraceContext": None,
    }
    assert list(json.loads(body)) == [
        "$type",
        "ActivityId",
        "TaskMessage",
        "CompressedBlobName",
        "SequenceNumber",
        "Episode",
        "Sender",
        "SerializableTraceContext",
    ]


def test_encode_keeps_non_ascii_as_utf8() -> None:
    body = encode_message(_message(ev.EventRaised(timestamp=T, name="grüße", input='"✓"')))
    assert "grüße" in body and "✓" in body


@pytest.mark.parametrize(("event", "expected", "row"), CASES, ids=IDS)
@pytest.mark.parametrize("encoding", ["raw", "base64"])
def test_message_round_trip(
    event: ev.HistoryEvent, expected: dict[str, Any], row: dict[str, Any], encoding: str
) -> None:
    msg = _message(event, sequence_number=9, episode=4, sender=ev.OrchestrationInstance("p", "q"))
    body = encode_message(msg)
    if encoding == "base64":
        body = base64.b64encode(body.encode("utf-8")).decode("ascii")
    assert decode_message(body) == msg


def test_large_message_stub_decodes_without_task_message() -> None:
    stub = (
        '{"$type":"DurableTask.AzureStorage.MessageData",'
        '"ActivityId":"00000000-0000-0000-0000-000000000000","TaskMessage":null,'
        '"CompressedBlobName":"abc123/message-0f8fad5bd9cb469fa16570867728950e-ExecutionStarted.json.gz",'
        '"SequenceNumber":0,"SerializableTraceContext":null}'
    )
    msg = decode_message(stub)
    assert msg.task_message is None
    assert msg.compressed_blob_name == (
        "abc123/message-0f8fad5bd9cb469fa16570867728950e-ExecutionStarted.json.gz"
    )
    assert decode_message(encode_message(msg)) == msg


def test_decode_accepts_assembly_suffix_names_and_extra_members() -> None:
    data = json.loads(DOTNET_START_MESSAGE)
    event = data["TaskMessage"]["Event"]
    event["$type"] += ", DurableTask.Core"
    event["EventType"] = "ExecutionStarted"
    event["SomethingNew"] = {"x": 1}
    event["Tags"] = {
        "$type": "System.Collections.Generic.Dictionary`2[[System.String, mscorlib],"
        "[System.String, mscorlib]], mscorlib",
        "k": "v",
    }
    data["Unknown"] = 1
    msg = decode_message(json.dumps(data))
    assert msg.task_message is not None
    started = msg.task_message.event
    assert isinstance(started, ev.ExecutionStarted)
    assert started.tags == {"k": "v"}


def test_decode_fills_missing_optional_members_with_defaults() -> None:
    msg = decode_message(
        json.dumps(
            {
                "ActivityId": "a",
                "TaskMessage": {
                    "Event": {"EventType": 5, "TaskScheduledId": 4, "Timestamp": TS},
                    "OrchestrationInstance": {"InstanceId": "x"},
                },
            }
        )
    )
    assert msg == ev.MessageData(
        activity_id="a",
        task_message=ev.TaskMessage(
            ev.TaskCompleted(timestamp=T, task_scheduled_id=4), ev.OrchestrationInstance("x")
        ),
    )


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        ({"$type": H + "HistoryStateEvent", "Timestamp": TS}, "HistoryStateEvent"),
        ({"EventType": 18, "Timestamp": TS}, "HistoryState"),
        ({"EventType": 99, "Timestamp": TS}, "99"),
        ({"EventType": "Bogus", "Timestamp": TS}, "Bogus"),
        ({"$type": "Acme.Thing", "Timestamp": TS}, "Acme.Thing"),
        ({"$type": H + "TaskCompletedEvent", "EventType": 6, "Timestamp": TS}, "TaskFailed"),
        ({"Timestamp": TS}, "neither"),
        ({"EventType": 5, "Timestamp": TS}, "TaskScheduledId"),
        ({"EventType": 5, "TaskScheduledId": "x", "Timestamp": TS}, "TaskScheduledId"),
        ({"EventType": 12, "Timestamp": "noon"}, "noon"),
    ],
)
def test_bad_events_name_the_problem(event: dict[str, Any], needle: str) -> None:
    with pytest.raises(MessageFormatError, match=needle):
        event_from_json(event)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("not a message at all", "neither JSON nor base64"),
        ("{not json", "not valid JSON"),
        (base64.b64encode(b"[1, 2]").decode(), "not a JSON object"),
        ('{"ActivityId":"a","TaskMessage":null}', "neither TaskMessage nor CompressedBlobName"),
        ('{"TaskMessage":null,"CompressedBlobName":"b"}', "no ActivityId"),
        ('{"ActivityId":"a","TaskMessage":{"Event":null}}', "no Event"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_garbage_bodies_raise_message_format_error(body: str | bytes, needle: str) -> None:
    with pytest.raises(MessageFormatError, match=needle):
        decode_message(body)


def test_garbage_error_carries_a_short_excerpt() -> None:
    with pytest.raises(MessageFormatError) as info:
        decode_message("{" + "x" * 5000)
    assert len(str(info.value)) < 200


# --------------------------------------------------------------------------- rows


def test_event_from_row_ignores_blob_name_columns_and_naive_datetimes() -> None:
    row = {
        "PartitionKey": "i",
        "RowKey": "0000000000000002",
        "ExecutionId": "e",
        "EventType": "TaskCompleted",
        "TaskScheduledId": 1,
        "Result": '"resolved from blob"',
        "ResultBlobName": "i/history-0000000000000002-TaskCompleted-1A2B3C4D-Result.json.gz",
        "EventId": -1,
        "IsPlayed": True,
        "_Timestamp": datetime(2025, 1, 1, 0, 0, 0, 123456),
    }
    assert event_from_row(row) == ev.TaskCompleted(
        timestamp=T, task_scheduled_id=1, result='"resolved from blob"', is_played=True
    )


def test_event_from_row_accepts_int_event_type() -> None:
    row = {"EventType": 12, "EventId": -1, "IsPlayed": False, "_Timestamp": T}
    assert event_from_row(row) == ev.OrchestratorStarted(timestamp=T)


def test_event_from_row_bad_json_column() -> None:
    row = {
        "EventType": "TaskFailed",
        "TaskScheduledId": 1,
        "FailureDetails": "{oops",
        "_Timestamp": T,
    }
    with pytest.raises(MessageFormatError, match="FailureDetails"):
        event_from_row(row)


def test_event_to_row_converts_other_zones_and_rejects_naive() -> None:
    plus2 = timezone(timedelta(hours=2))
    row = event_to_row(
        ev.OrchestratorStarted(timestamp=datetime(2025, 1, 1, 2, 0, tzinfo=plus2)),
        instance_id="i",
        execution_id="e",
        index=0,
    )
    assert row["_Timestamp"] == datetime(2025, 1, 1, tzinfo=UTC)
    assert row["_Timestamp"].tzinfo == UTC
    with pytest.raises(ValueError, match="naive"):
        event_to_row(
            ev.OrchestratorStarted(timestamp=datetime(2025, 1, 1)),
            instance_id="i",
            execution_id="e",
            index=0,
        )


def test_large_property_names() -> None:
    assert LARGE_PROPERTY_NAMES == (
        "Name",
        "Input",
        "Result",
        "Output",
        "Reason",
        "Details",
        "Correlation",
        "FailureDetails",
        "Tags",
    )


def test_sentinel_rows() -> None:
    assert sentinel_row("a/b", EXEC, checkpoint_complete=False, completed_at=None) == {
        "PartitionKey": "a^0b",
        "RowKey": "sentinel",
        "ExecutionId": EXEC,
        "IsCheckpointComplete": False,
    }
    assert sentinel_row("a", EXEC, checkpoint_complete=True, completed_at=T) == {
        "PartitionKey": "a",
        "RowKey": "sentinel",
        "ExecutionId": EXEC,
        "IsCheckpointComplete": True,
        "CheckpointCompletedTimestamp": T,
    }


def test_null_for_a_member_with_a_default_takes_the_default() -> None:
    event = event_from_json(
        {
            "EventType": 0,
            "OrchestrationInstance": {"InstanceId": "i", "ExecutionId": "e"},
            "Name": "Hello",
            "Version": None,
            "Generation": None,
            "Timestamp": TS,
        }
    )
    assert isinstance(event, ev.ExecutionStarted)
    assert event.version == ""
    assert event.generation == 0


def test_null_for_a_required_member_is_an_error() -> None:
    with pytest.raises(MessageFormatError, match="Name is null"):
        event_from_json({"EventType": 15, "Name": None, "Timestamp": TS})
