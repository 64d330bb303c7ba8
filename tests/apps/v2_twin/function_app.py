"""The 1.x twin of part of tests/apps/v2: the same orchestrators and activities, by the same
names, written for azure-functions-durable 1.x (the JSON protocol). tests/v2/test_same_hub.py
runs both and reads their hubs through the same paths."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="value")
def square(value: int) -> int:
    return value * value


@app.orchestration_trigger(context_name="context")
def hello_chain(context: df.DurableOrchestrationContext) -> Any:
    first = yield context.call_activity("say_hello", "Tokyo")
    second = yield context.call_activity("say_hello", "Seattle")
    third = yield context.call_activity("say_hello", "London")
    return [first, second, third]


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Any:
    count = context.get_input()
    squares = yield context.task_all([context.call_activity("square", i) for i in range(count)])
    return sum(squares)


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Any:
    timeout_seconds = context.get_input()
    context.set_custom_status({"stage": "waiting"})
    approved = context.wait_for_external_event("approve")
    deadline = context.create_timer(
        context.current_utc_datetime + timedelta(seconds=timeout_seconds)
    )
    winner = yield context.task_any([approved, deadline])
    if winner == approved:
        context.set_custom_status({"stage": "approved"})
        return {"approved": approved.result}
    context.set_custom_status({"stage": "timed out"})
    return {"approved": None}
