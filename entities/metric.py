"""Aggregator pattern: a durable entity that accumulates one metric's samples per key.

Each key (`@metric@cpu`, `@metric@checkout-latency`, ...) is its own entity instance, so
samples for one key are applied one at a time, in order, with no locks in user code.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators._validation import InvalidInputError, require_mapping, require_number

bp = df.Blueprint()

ENTITY_NAME = "metric"
OPERATIONS = ("record", "get", "reset")


def empty_window() -> dict[str, Any]:
    return {"count": 0, "sum": 0.0, "min": None, "max": None, "last": None}


def summarize(key: str, state: dict[str, Any]) -> dict[str, Any]:
    """The public view of a metric: its window plus the mean."""
    count = state["count"]
    mean = round(state["sum"] / count, 6) if count else None
    return {"key": key, **state, "mean": mean}


def parse_sample(value: Any) -> float:
    """A sample is a number or {"value": number}; returns the number or raises a clear error."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    data = require_mapping(value, "Metric sample")
    return require_number(data, "value", "Metric sample", minimum=float("-inf"))


@bp.entity_trigger(context_name="context", entity_name=ENTITY_NAME)
def metric(context: df.DurableEntityContext) -> None:
    state: dict[str, Any] = context.get_state(empty_window)
    operation = context.operation_name
    if operation == "record":
        sample = parse_sample(context.get_input())
        state = {
            "count": state["count"] + 1,
            "sum": state["sum"] + sample,
            "min": sample if state["min"] is None else min(state["min"], sample),
            "max": sample if state["max"] is None else max(state["max"], sample),
            "last": sample,
        }
        context.set_state(state)
        context.set_result(state["count"])
    elif operation == "get":
        context.set_result(summarize(context.entity_key, state))
    elif operation == "reset":
        # Return the closed window so a caller can store it atomically with the reset.
        context.set_result(summarize(context.entity_key, state))
        context.set_state(empty_window())
    else:
        # The SDK turns this into an error result for the caller; the state stays untouched.
        raise InvalidInputError(
            f"Entity '{ENTITY_NAME}' has no operation '{operation}'; "
            f"use one of {', '.join(OPERATIONS)}."
        )
