"""Function chaining: an order goes through validate -> price -> reserve -> charge.

Each activity's output is the next one's input. Shows two more things:
- an activity failure handled by the orchestrator: out of stock rejects the order instead of
  failing the orchestration (try/except around the yield);
- `call_activity_with_retry`: the payment call is retried with a back-off.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import failure_reason, require_mapping, require_str

bp = df.Blueprint()

# Payment providers fail transiently; three attempts 2 s apart, then the order fails.
PAYMENT_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=3)


@bp.orchestration_trigger(context_name="context")
def process_order(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    order = require_mapping(context.get_input(), "Order")
    order_id = require_str(order, "orderId", "Order")

    valid = yield context.call_activity("validate_order", order)
    priced = yield context.call_activity("price_order", valid)
    try:
        reserved = yield context.call_activity("reserve_stock", priced)
    except Exception as error:
        # Out of stock is a business outcome, not a crash: the order is rejected.
        return {"orderId": order_id, "status": "rejected", "reason": failure_reason(error)}
    payment = yield context.call_activity_with_retry("charge_payment", PAYMENT_RETRY, reserved)
    return {
        "orderId": order_id,
        "status": "confirmed",
        "reservationId": reserved["reservationId"],
        "paymentId": payment["paymentId"],
        "totalCents": priced["totalCents"],
        "currency": priced["currency"],
    }
