"""How the SDK's OrchestratorState completes a walk's decision (replay/decision.py)."""

from __future__ import annotations

import json
from typing import Any

from durable_host.engine.replay.decision import (
    Decision,
    deterministic_id,
    encode_string,
    failed_decision,
    settle,
)
from durable_host.taskhub.events import OrchestrationStatus
from tests.engine.replay._histories import ctx


def test_a_done_state_completes_with_its_output_as_compact_json() -> None:
    state: dict[str, Any] = {"isDone": True, "output": {"total": 3, "names": ["ä"]}, "actions": []}
    decision = settle(ctx(), Decision(), state, None, [])
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Completed
    assert decision.completion.result == '{"total":3,"names":["ä"]}'


def test_a_state_not_done_leaves_the_orchestration_running() -> None:
    state: dict[str, Any] = {
        "isDone": False,
        "output": None,
        "actions": [],
        "customStatus": "step 2",
    }
    decision = settle(ctx(), Decision(), state, None, [])
    assert decision.completion is None
    assert decision.custom_status == json.dumps("step 2")


def test_an_error_fails_with_the_orchestrators_name_and_keeps_the_custom_status() -> None:
    state = {"isDone": False, "actions": [], "customStatus": {"at": "charge"}}
    decision = settle(ctx(), Decision(), state, "ValueError: card declined", [])
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    assert decision.completion.result == (
        "Orchestrator function 'orchestrator' failed: ValueError: card declined"
    )
    assert decision.custom_status == json.dumps({"at": "charge"})


def test_a_done_state_with_continue_as_new_continues() -> None:
    actions = [{"actionType": 4, "input": None}]
    decision = settle(ctx(), Decision(), {"isDone": True, "actions": [actions]}, None, actions)
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.ContinuedAsNew


def test_a_failed_decision_carries_the_error_type() -> None:
    decision = failed_decision(ctx(), "bad", "NonDeterminismError")
    assert decision.completion is not None and decision.completion.failure_details is not None
    assert decision.completion.failure_details.error_type == "NonDeterminismError"
    assert decision.completion.failure_details.error_message == "bad"


def test_deterministic_ids_repeat_for_the_same_execution_and_sequence_only() -> None:
    one = deterministic_id("e1", 3, "@counter@k")
    assert one == deterministic_id("e1", 3, "@counter@k")
    others = {deterministic_id("e2", 3, "@counter@k"), deterministic_id("e1", 4, "@counter@k")}
    assert one not in others and len(others) == 2


def test_sdk_text_is_stored_as_a_dotnet_string() -> None:
    assert encode_string('{"a":1}') == '"{\\"a\\":1}"'
    assert encode_string(None) is None
