"""Function chaining (process_order), its retry policy, and sub-orchestrations."""

from __future__ import annotations

from typing import Any

from durable_host.taskhub.events import TaskFailed, TaskScheduled, TimerFired
from durable_host.testing import DurableTestEnvironment

ORDER = {
    "orderId": "A-1001",
    "customer": "ada@contoso.example",
    "country": "NL",
    "lines": [{"sku": "KB-101", "quantity": 2}, {"sku": "CB-404", "quantity": 3}],
}


async def test_an_order_goes_through_the_chain(durable_env: DurableTestEnvironment) -> None:
    output = await durable_env.run("process_order", ORDER)

    # 2 x 49.99 + 3 x 9.99 = 129.95; 21% NL tax rounds to 27.29; free shipping above 100.
    assert output["status"] == "confirmed"
    assert output["totalCents"] == 12995 + 2729
    assert output["reservationId"].startswith("rsv-")


async def test_the_activities_run_in_order(durable_env: DurableTestEnvironment) -> None:
    instance_id = await durable_env.start_orchestration("process_order", ORDER)
    await durable_env.wait_for_completion(instance_id)

    scheduled = [
        e.name for e in await durable_env.history(instance_id) if isinstance(e, TaskScheduled)
    ]
    assert scheduled == ["validate_order", "price_order", "reserve_stock", "charge_payment"]


async def test_out_of_stock_rejects_the_order(durable_env: DurableTestEnvironment) -> None:
    order = {**ORDER, "orderId": "A-1002", "lines": [{"sku": "MN-303", "quantity": 9}]}
    output = await durable_env.run("process_order", order)

    assert output["status"] == "rejected"
    assert "Only 5 unit(s) of MN-303 in stock" in output["reason"]


async def test_a_flaky_payment_is_retried_2_s_apart(durable_env: DurableTestEnvironment) -> None:
    def flaky_payment(order: dict[str, Any]) -> dict[str, Any]:
        if len(payments.calls) < 3:
            raise ConnectionError("payment provider unavailable")
        return {"paymentId": "pay-test", "amountCents": order["totalCents"]}

    payments = durable_env.replace_activity("charge_payment", flaky_payment)
    instance_id = await durable_env.start_orchestration("process_order", ORDER)
    status = await durable_env.wait_for_completion(instance_id)

    assert status.output["paymentId"] == "pay-test"
    assert len(payments.calls) == 3
    assert payments.calls[0]["orderId"] == "A-1001"
    history = await durable_env.history(instance_id)
    assert len([e for e in history if isinstance(e, TaskFailed)]) == 2
    retry_timers = [e for e in history if isinstance(e, TimerFired)]
    assert len(retry_timers) == 2


async def test_a_declined_payment_fails_the_orchestration(
    durable_env: DurableTestEnvironment,
) -> None:
    def declined(order: dict[str, Any]) -> dict[str, Any]:
        raise PermissionError(f"card declined for {order['orderId']}")

    payments = durable_env.replace_activity("charge_payment", declined)
    instance_id = await durable_env.start_orchestration("process_order", ORDER)
    status = await durable_env.wait_for_completion(instance_id, expected_status="Failed")

    assert "card declined for A-1001" in str(status.output)
    assert len(payments.calls) == 3


async def test_each_order_of_a_batch_is_a_sub_orchestration(
    durable_env: DurableTestEnvironment,
) -> None:
    batch = {
        "orders": [
            {
                **ORDER,
                "orderId": "B-1",
                "country": "DE",
                "lines": [{"sku": "MS-202", "quantity": 1}],
            },
            {
                **ORDER,
                "orderId": "B-2",
                "country": "FR",
                "lines": [{"sku": "MN-303", "quantity": 9}],
            },
        ]
    }
    output = await durable_env.run("process_order_batch", batch, instance_id="batch-7")

    assert output["orders"] == 2
    assert output["confirmed"] == ["B-1"]
    assert list(output["rejected"]) == ["B-2"]
    # 24.99 + 19% DE tax (4.75) + 6.95 shipping.
    assert output["revenueCents"] == 2499 + 475 + 695
    # The child's completion reaches the parent before the child's Instances row says so (the
    # provider sends messages, then writes history, then the row): wait for the child's end.
    child = await durable_env.wait_for_completion("batch-7:order:B-1")
    assert child.output["status"] == "confirmed"
