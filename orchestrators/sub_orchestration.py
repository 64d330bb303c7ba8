"""Sub-orchestrations: a batch of orders, each run by the `process_order` chain.

Each order gets its own child instance (`<batch id>:order:<order id>`), visible and
queryable on its own, while the batch waits for all of them and totals the outcome.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import (
    InvalidInputError,
    failure_reason,
    require_list,
    require_mapping,
    require_str,
)

bp = df.Blueprint()

MAX_ORDERS = 100


@bp.orchestration_trigger(context_name="context")
def process_order_batch(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, dict[str, Any]]:
    what = "Order batch"
    batch = require_mapping(context.get_input(), what)
    orders = require_list(batch, "orders", what, min_items=1)
    if len(orders) > MAX_ORDERS:
        raise InvalidInputError(f"{what}: at most {MAX_ORDERS} orders, got {len(orders)}.")
    order_ids = [
        require_str(require_mapping(o, "Each order"), "orderId", "Each order") for o in orders
    ]
    if len(set(order_ids)) != len(order_ids):
        raise InvalidInputError(f"{what}: order ids must be unique within a batch.")

    children = [
        context.call_sub_orchestrator(
            "process_order", order, instance_id=f"{context.instance_id}:order:{order_id}"
        )
        for order, order_id in zip(orders, order_ids, strict=True)
    ]
    try:
        results: list[dict[str, Any]] = yield context.task_all(children)
    except Exception as error:
        # A child failed (bad order, declined payment): fail the batch naming the cause.
        raise RuntimeError(
            f"{what} {context.instance_id} stopped: {failure_reason(error)}"
        ) from None

    confirmed = [r for r in results if r["status"] == "confirmed"]
    return {
        "orders": len(results),
        "confirmed": [r["orderId"] for r in confirmed],
        "rejected": {r["orderId"]: r["reason"] for r in results if r["status"] == "rejected"},
        "revenueCents": sum(r["totalCents"] for r in confirmed),
    }
