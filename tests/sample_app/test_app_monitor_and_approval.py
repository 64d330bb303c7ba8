"""Monitor (monitor_build) and human interaction (expense_approval)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from app_history import T0, History

SDK_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
WATCH = {"buildId": "build-42", "pollIntervalSeconds": 60, "expirySeconds": 150}


def _poll(history: History, handle: Any, state: str, poll: int) -> Any:
    """Run an episode that must check the build, and answer it with `state`."""
    episode = history.run(handle("monitor_build"))
    action = episode.actions[-1]
    assert action["functionName"] == "check_build_status"
    assert json.loads(action["input"]) == {"buildId": "build-42", "poll": poll}
    scheduled = history.task_scheduled("check_build_status", action["input"])
    history.next_episode().task_completed(
        scheduled, {"buildId": "build-42", "state": state, "poll": poll}
    )
    return history.run(handle("monitor_build"))


def _wait(history: History, episode: Any, seconds: int) -> None:
    """Check the episode asked for a timer `seconds` ahead, then fire it."""
    timer = episode.actions[-1]
    fire_at = history.now + timedelta(seconds=seconds)
    assert timer == {"actionType": 5, "fireAt": fire_at.strftime(SDK_TIME), "isCanceled": False}
    timer_id = history.timer_created(fire_at)
    history.next_episode(after=timedelta(seconds=seconds)).timer_fired(timer_id, fire_at)


def test_monitor_polls_on_a_timer_until_the_build_finishes(handle: Any) -> None:
    history = History("monitor_build", WATCH)
    waiting = _poll(history, handle, "queued", 0)
    assert not waiting.is_done
    assert waiting.custom_status["lastSeenState"] == "queued"
    assert waiting.custom_status["polls"] == 1
    _wait(history, waiting, 60)
    done = _poll(history, handle, "succeeded", 1)
    assert done.is_done
    assert done.output == {"buildId": "build-42", "state": "succeeded", "polls": 2}
    assert [a["actionType"] for a in done.actions] == [0, 5, 0]


def test_monitor_gives_up_when_the_next_check_would_pass_the_expiry(handle: Any) -> None:
    history = History("monitor_build", WATCH)
    _wait(history, _poll(history, handle, "queued", 0), 60)
    _wait(history, _poll(history, handle, "running", 1), 60)
    # ~122 s after start: a check at ~182 s would be past the 150 s expiry.
    expired = _poll(history, handle, "running", 2)
    assert expired.is_done
    assert expired.output == {
        "buildId": "build-42",
        "state": "expired",
        "lastSeenState": "running",
        "polls": 3,
    }


def test_monitor_rejects_an_interval_longer_than_the_expiry(handle: Any) -> None:
    episode = History("monitor_build", {**WATCH, "pollIntervalSeconds": 600}).run(
        handle("monitor_build")
    )
    assert episode.error is not None
    assert "pollIntervalSeconds (600) must not exceed expirySeconds (150)" in episode.error


EXPENSE = {
    "expenseId": "EXP-77",
    "amount": 412.5,
    "submitter": "sam@contoso.example",
    "approver": "lena@contoso.example",
    "timeoutSeconds": 86400,
}
DEADLINE = T0 + timedelta(seconds=86400)


def _until_waiting(history: History, handle: Any, activity: Any) -> tuple[Any, dict[str, Any]]:
    """Run the request episode; return the episode waiting on event-or-timer and the request."""
    first = history.run(handle("expense_approval"))
    [ask] = first.actions
    assert ask["functionName"] == "request_approval"
    request = json.loads(ask["input"])
    assert request["deadline"] == "2025-03-02T09:00:00Z"
    scheduled = history.task_scheduled("request_approval", ask["input"])
    history.next_episode().task_completed(scheduled, activity("request_approval", request))
    waiting = history.run(handle("expense_approval"))
    assert not waiting.is_done
    assert waiting.custom_status == {
        "state": "awaitingApproval",
        "approver": "lena@contoso.example",
        "deadline": "2025-03-02T09:00:00Z",
    }
    race = waiting.actions[1]
    assert race["actionType"] == 11  # WhenAny
    assert race["compoundActions"] == [
        {"actionType": 6, "externalEventName": "ApprovalDecision", "reason": "ExternalEvent"},
        {"actionType": 5, "fireAt": DEADLINE.strftime(SDK_TIME), "isCanceled": False},
    ]
    return waiting, request


def test_approval_event_wins_cancels_the_timer_and_records_the_decision(
    handle: Any, activity: Any
) -> None:
    history = History("expense_approval", EXPENSE)
    _, request = _until_waiting(history, handle, activity)
    history.timer_created(DEADLINE)
    history.next_episode(after=timedelta(hours=2)).event_raised(
        "ApprovalDecision", {"approved": True, "by": "lena", "comment": "within budget"}
    )
    decided = history.run(handle("expense_approval"))
    race, record = decided.actions[1], decided.actions[2]
    assert race["compoundActions"][1]["isCanceled"] is True
    assert record["functionName"] == "record_decision"
    decision = json.loads(record["input"])
    assert decision == {
        **request,
        "approved": True,
        "decidedBy": "lena",
        "comment": "within budget",
    }

    scheduled = history.task_scheduled("record_decision", record["input"])
    receipt = activity("record_decision", decision)
    history.next_episode().task_completed(scheduled, receipt)
    done = history.run(handle("expense_approval"))
    assert done.is_done
    assert done.custom_status == {"state": "decided"}
    assert done.output["status"] == "approved"
    assert done.output["decidedBy"] == "lena"
    assert done.output["notifications"][1] == receipt


def test_decision_sent_by_the_python_client_as_json_text_is_understood(
    handle: Any, activity: Any
) -> None:
    # DurableOrchestrationClient.raise_event encodes twice (azure-functions-durable-python#295).
    history = History("expense_approval", EXPENSE)
    _until_waiting(history, handle, activity)
    history.timer_created(DEADLINE)
    history.next_episode().event_raised("ApprovalDecision", json.dumps({"approved": False}))
    decided = history.run(handle("expense_approval"))
    decision = json.loads(decided.actions[2]["input"])
    assert decision["approved"] is False
    assert decision["decidedBy"] == "lena@contoso.example"


def test_timeout_wins_and_escalates(handle: Any, activity: Any) -> None:
    history = History("expense_approval", EXPENSE)
    _, request = _until_waiting(history, handle, activity)
    timer_id = history.timer_created(DEADLINE)
    history.next_episode(after=timedelta(seconds=86400)).timer_fired(timer_id, DEADLINE)
    escalating = history.run(handle("expense_approval"))
    race, escalate = escalating.actions[1], escalating.actions[2]
    assert race["compoundActions"][1]["isCanceled"] is False
    assert escalate["functionName"] == "escalate_approval"
    assert json.loads(escalate["input"]) == request

    scheduled = history.task_scheduled("escalate_approval", escalate["input"])
    history.next_episode().task_completed(scheduled, activity("escalate_approval", request))
    done = history.run(handle("expense_approval"))
    assert done.is_done
    assert done.output["status"] == "escalated"
    assert done.output["escalatedTo"] == "finance-managers@contoso.example"
    assert done.custom_status == {"state": "escalated"}


def test_event_after_the_timeout_changes_nothing(handle: Any, activity: Any) -> None:
    history = History("expense_approval", EXPENSE)
    _until_waiting(history, handle, activity)
    timer_id = history.timer_created(DEADLINE)
    history.next_episode(after=timedelta(seconds=86400))
    history.timer_fired(timer_id, DEADLINE).event_raised("ApprovalDecision", {"approved": True})
    episode = history.run(handle("expense_approval"))
    assert episode.actions[2]["functionName"] == "escalate_approval"


def test_malformed_decision_fails_with_a_clear_error(handle: Any, activity: Any) -> None:
    history = History("expense_approval", EXPENSE)
    _until_waiting(history, handle, activity)
    history.timer_created(DEADLINE)
    history.next_episode().event_raised("ApprovalDecision", {"approved": "yes"})
    episode = history.run(handle("expense_approval"))
    assert episode.error == (
        "The ApprovalDecision event must carry \"approved\": true or false, got 'yes'."
    )


def test_expense_amount_must_be_positive(handle: Any) -> None:
    episode = History("expense_approval", {**EXPENSE, "amount": 0}).run(handle("expense_approval"))
    assert episode.error == "Expense: field 'amount' must be at least 0.01, got 0."
