"""Pure entity formats (engine/dispatch/entity_state.py): task-hub-layout.md §6, protocol.md §2."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from durable_host.engine.dispatch.entity_state import (
    OperationOutcome,
    OperationRequest,
    SchedulerState,
    build_batch_json,
    entity_instance_id,
    parse_entity_result,
    parse_operation_time,
    response_json,
    scheduled_operation_name,
    split_entity_id,
)


def test_instance_ids_lower_case_the_name_and_keep_the_key() -> None:
    assert entity_instance_id("Counter", "MyKey") == "@counter@MyKey"
    assert split_entity_id("@counter@a@b") == ("counter", "a@b")
    assert split_entity_id("@counter@") == ("counter", "")
    with pytest.raises(ValueError, match="not an entity instance id"):
        split_entity_id("counter")
    with pytest.raises(ValueError, match="must not contain '@'"):
        entity_instance_id("a@b", "k")


def test_scheduler_state_is_written_like_the_extension() -> None:
    text = SchedulerState(exists=True, state='{"a":1}').to_json()
    assert text == '{"exists":true,"state":"{\\"a\\":1}","sorter":{}}'
    assert SchedulerState.from_json(text) == SchedulerState(True, '{"a":1}')
    assert SchedulerState().to_json() == '{"sorter":{}}'
    # The extension's format says `exists`: false with a state left over reads as deleted.
    assert SchedulerState.from_json('{"exists":false,"state":"5"}') == SchedulerState()
    # DurableTask.Core's has no `exists` (a state means it exists): SchedulerState.cs 28.
    assert SchedulerState.from_json('{"state":"5","sorter":{}}') == SchedulerState(True, "5")
    assert SchedulerState.from_json("not json") == SchedulerState()
    assert SchedulerState(True, "1").custom_status() == '{"entityExists":true}'
    assert SchedulerState().custom_status() == "{}"


def test_batch_payload_matches_protocol_2_1() -> None:
    request = OperationRequest.from_json(
        '{"op":"add","signal":true,"input":"\\"5\\"","id":"r1","parent":null}'
    )
    payload = json.loads(build_batch_json("counter", "k1", SchedulerState(True, "5"), [request]))
    assert payload == {
        "self": {"name": "counter", "key": "k1"},
        "exists": True,
        "state": "5",
        "batch": [{"name": "add", "input": '"5"', "isSignal": True}],
    }
    assert not request.expects_response


def test_lock_requests_are_recognised() -> None:
    lock = OperationRequest.from_json('{"id":"l","lockset":[{"name":"c","key":"k"}],"pos":0}')
    assert lock.operation is None and lock.is_lock_request
    with pytest.raises(ValueError, match="'id'"):
        OperationRequest.from_json('{"op":"add"}')


def test_result_parsing_and_responses() -> None:
    result = parse_entity_result(
        '{"entityExists":true,"entityState":"6","signals":[],"results":['
        '{"isError":false,"duration":0,"startTime":1,"result":"6"},'
        '{"isError":true,"duration":0,"startTime":1,"result":"\\"boom\\""}]}',
        2,
    )
    assert result.state == SchedulerState(True, "6")
    assert response_json(result.outcomes[0]) == '{"result":"6"}'
    assert json.loads(response_json(result.outcomes[1])) == {
        "result": '"boom"',
        "exceptionType": "Error",
    }
    with pytest.raises(ValueError, match="1 results for 2 operations"):
        parse_entity_result('{"entityExists":false,"results":[{}]}', 2)
    assert response_json(OperationOutcome(result=None, is_error=False)) == '{"result":null}'


def test_scheduled_operation_names_round_trip() -> None:
    due = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    name = scheduled_operation_name(due)
    assert name == "op@2025-01-02T03:04:05.1234560Z"
    assert parse_operation_time(name) == due
    assert parse_operation_time("op") is None
    # The SDK's own time format (what an orchestration's fireAt carries).
    assert parse_operation_time("op@2025-01-02T03:04:05.123456Z") == due


# A SchedulerState as the extension writes it (Newtonsoft, members in declaration order, empty
# ones left out): one request from orchestration `o1` waits for its predecessor.
EXTENSION_STATE = (
    '{"exists":true,"state":"3","sorter":{'
    '"LastSentToInstance":{"@counter@other":"2026-12-01T08:59:00.5Z"},'
    '"ReceivedFromInstance":{"o1":{"Last":"2026-12-01T09:00:00.1234567Z","ExecutionId":"e1",'
    '"Buffered":{"2026-12-01T09:00:02Z":{"op":"add","input":"4",'
    '"id":"5f0c8b1e-0d7e-4c4e-9d1a-3a1f0b0c2d3e","parent":"o1","parentExecution":"e1",'
    '"Timestamp":"2026-12-01T09:00:02Z","Predecessor":"2026-12-01T09:00:01Z"}}}},'
    '"ReceiveHorizon":"2026-12-01T08:30:00.1234567Z","SendHorizon":"2026-12-01T08:29:00Z"}}'
)


def test_an_extension_written_sorter_round_trips() -> None:
    state = SchedulerState.from_json(EXTENSION_STATE)
    assert (state.exists, state.state) == (True, "3")
    buffer = state.sorter.received_from["o1"]
    [waiting] = buffer.buffered
    assert (waiting.operation, waiting.input, waiting.parent) == ("add", "4", "o1")
    assert waiting.predecessor > buffer.last
    assert state.sorter.buffered_count == 1
    assert state.to_json() == EXTENSION_STATE
    # An unreadable sorter loses the ordering, not the entity's state.
    broken = SchedulerState.from_json('{"exists":true,"state":"3","sorter":{"ReceiveHorizon":5}}')
    assert (broken.state, broken.sorter.buffered_count) == ("3", 0)


def test_request_labels_are_read() -> None:
    request = OperationRequest.from_json(
        '{"op":"get","id":"r","parent":"o","Timestamp":"2026-12-01T09:00:00.0000001Z",'
        '"Predecessor":"0001-01-01T00:00:00","pos":2,"due":"2026-12-01T10:00:00Z"}'
    )
    assert request.timestamp % 10 == 1 and request.predecessor == 0
    assert request.position == 2 and request.scheduled
