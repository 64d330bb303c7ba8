"""Function chaining (process_order) and sub-orchestrations (process_order_batch)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from app_history import History

ORDER = {
    "orderId": "A-1001",
    "customer": "ada@contoso.example",
    "country": "nl",
    "lines": [{"sku": "kb-101", "quantity": 2}, {"sku": "CB-404", "quantity": 3}],
}


def _run_until_payment(handle: Any, activity: Any, order: dict[str, Any]) -> tuple[History, Any]:
    """Drive process_order through validate, price and reserve with the real activities."""
    history = History("process_order", order)
    value: Any = order
    for index, name in enumerate(["validate_order", "price_order", "reserve_stock"]):
        episode = history.run(handle("process_order"))
        assert not episode.is_done
        assert len(episode.actions) == index + 1  # append-only
        action = episode.actions[index]
        assert action["actionType"] == 0
        assert action["functionName"] == name
        assert json.loads(action["input"]) == value
        scheduled = history.task_scheduled(name, action["input"])
        value = activity(name, value)
        history.next_episode().task_completed(scheduled, value)
    return history, value


def test_first_episode_schedules_validation_with_the_order(handle: Any) -> None:
    episode = History("process_order", ORDER).run(handle("process_order"))
    assert episode.failure is None
    assert episode.is_done is False
    assert episode.state["schemaVersion"] == 2
    assert episode.actions == [
        {"actionType": 0, "functionName": "validate_order", "input": json.dumps(ORDER)}
    ]
    assert "output" not in episode.state


def test_each_output_feeds_the_next_activity_and_payment_uses_retry(
    handle: Any, activity: Any
) -> None:
    history, reserved = _run_until_payment(handle, activity, ORDER)
    episode = history.run(handle("process_order"))
    payment = episode.actions[3]
    # The SDK wraps a with-retry call in a one-child WhenAll (schema V2+).
    assert payment["actionType"] == 12
    [child] = payment["compoundActions"]
    assert child["actionType"] == 1
    assert child["functionName"] == "charge_payment"
    assert json.loads(child["input"]) == reserved
    assert child["retryOptions"] == {
        "firstRetryIntervalInMilliseconds": 2000,
        "maxNumberOfAttempts": 3,
    }

    scheduled = history.task_scheduled("charge_payment", child["input"])
    receipt = activity("charge_payment", reserved)
    history.next_episode().task_completed(scheduled, receipt)
    done = history.run(handle("process_order"))
    assert done.is_done
    assert done.output == {
        "orderId": "A-1001",
        "status": "confirmed",
        "reservationId": reserved["reservationId"],
        "paymentId": receipt["paymentId"],
        "totalCents": 2 * 4999 + 3 * 999 + (12995 * 21 + 50) // 100,
        "currency": "EUR",
    }


def test_failed_payment_attempt_is_retried_after_the_retry_timer(
    handle: Any, activity: Any
) -> None:
    history, reserved = _run_until_payment(handle, activity, ORDER)
    history.run(handle("process_order"))
    first = history.task_scheduled("charge_payment", json.dumps(reserved))
    history.next_episode().task_failed(first, "charge_payment", "TimeoutError: gateway timeout")
    waiting = history.run(handle("process_order"))
    assert not waiting.is_done and waiting.error is None
    # The host runs the retry: a timer, then a second TaskScheduled.
    timer = history.timer_created(history.now + timedelta(seconds=2))
    history.next_episode(after=timedelta(seconds=2)).timer_fired(timer, history.now)
    assert not history.run(handle("process_order")).is_done
    second = history.task_scheduled("charge_payment", json.dumps(reserved))
    history.next_episode().task_completed(second, activity("charge_payment", reserved))
    done = history.run(handle("process_order"))
    assert done.is_done
    assert done.output["status"] == "confirmed"


def test_out_of_stock_is_caught_and_rejects_the_order(handle: Any, activity: Any) -> None:
    order = {**ORDER, "lines": [{"sku": "MN-303", "quantity": 9}]}
    history = History("process_order", order)
    history.run(handle("process_order"))
    valid = activity("validate_order", order)
    history.next_episode().task_completed(history.task_scheduled("validate_order", None), valid)
    history.run(handle("process_order"))
    priced = activity("price_order", valid)
    history.next_episode().task_completed(history.task_scheduled("price_order", None), priced)
    history.run(handle("process_order"))
    scheduled = history.task_scheduled("reserve_stock", json.dumps(priced))
    message = "OutOfStockError: Only 5 unit(s) of MN-303 in stock, order A-1001 asks for 9."
    history.next_episode().task_failed(scheduled, "reserve_stock", message)

    episode = history.run(handle("process_order"))
    assert episode.failure is None
    assert episode.is_done
    assert episode.output == {
        "orderId": "A-1001",
        "status": "rejected",
        "reason": f"Activity function 'reserve_stock' failed: {message}",
    }
    assert [a["functionName"] for a in episode.actions] == [
        "validate_order",
        "price_order",
        "reserve_stock",
    ]


def test_unhandled_activity_failure_fails_the_orchestration(handle: Any) -> None:
    history = History("process_order", {**ORDER, "country": "XX"})
    history.run(handle("process_order"))
    scheduled = history.task_scheduled("validate_order", None)
    history.next_episode().task_failed(
        scheduled, "validate_order", "InvalidInputError: Order A-1001: we do not ship to 'XX'"
    )
    episode = history.run(handle("process_order"))
    assert episode.failure is not None
    assert "we do not ship to 'XX'" in episode.error
    assert episode.is_done is False


def test_input_that_is_not_an_object_fails_with_a_clear_error(handle: Any) -> None:
    episode = History("process_order", ["not", "an", "order"]).run(handle("process_order"))
    assert episode.error is not None
    assert episode.error.startswith("Order must be a JSON object, got list")
    assert episode.actions == []


def test_input_given_as_parsed_json_works_like_text(handle: Any) -> None:
    # An HTTP start hands the input over parsed; a Python start_new as JSON text.
    episode = History("process_order", ORDER, input_as_text=False).run(handle("process_order"))
    assert json.loads(episode.actions[0]["input"]) == ORDER


BATCH = {
    "orders": [
        ORDER,
        {**ORDER, "orderId": "A-1002", "lines": [{"sku": "MN-303", "quantity": 9}]},
    ]
}


def test_batch_runs_one_sub_orchestration_per_order(handle: Any) -> None:
    history = History("process_order_batch", BATCH, instance_id="batch-7")
    episode = history.run(handle("process_order_batch"))
    [all_children] = episode.actions
    assert all_children["actionType"] == 12
    children = all_children["compoundActions"]
    assert [c["actionType"] for c in children] == [2, 2]
    assert [c["functionName"] for c in children] == ["process_order", "process_order"]
    assert [c["instanceId"] for c in children] == ["batch-7:order:A-1001", "batch-7:order:A-1002"]
    assert [json.loads(c["input"]) for c in children] == BATCH["orders"]

    first = history.sub_orchestration_created("process_order", "batch-7:order:A-1001", "")
    second = history.sub_orchestration_created("process_order", "batch-7:order:A-1002", "")
    history.next_episode()
    history.sub_orchestration_completed(
        first, {"orderId": "A-1001", "status": "confirmed", "totalCents": 18724}
    )
    assert not history.run(handle("process_order_batch")).is_done  # still waiting for one
    history.next_episode().sub_orchestration_completed(
        second, {"orderId": "A-1002", "status": "rejected", "reason": "out of stock"}
    )
    done = history.run(handle("process_order_batch"))
    assert done.is_done
    assert done.output == {
        "orders": 2,
        "confirmed": ["A-1001"],
        "rejected": {"A-1002": "out of stock"},
        "revenueCents": 18724,
    }


def test_batch_fails_naming_the_failed_child(handle: Any) -> None:
    history = History("process_order_batch", BATCH, instance_id="batch-8")
    history.run(handle("process_order_batch"))
    first = history.sub_orchestration_created("process_order", "batch-8:order:A-1001", "")
    history.sub_orchestration_created("process_order", "batch-8:order:A-1002", "")
    history.next_episode().sub_orchestration_failed(
        first, "Orchestrator function 'process_order' failed: payment declined"
    )
    episode = history.run(handle("process_order_batch"))
    assert episode.error == (
        "Order batch batch-8 stopped: Orchestrator function 'process_order' failed: "
        "payment declined"
    )


def test_batch_rejects_duplicate_order_ids(handle: Any) -> None:
    episode = History("process_order_batch", {"orders": [ORDER, ORDER]}).run(
        handle("process_order_batch")
    )
    assert episode.error == "Order batch: order ids must be unique within a batch."
