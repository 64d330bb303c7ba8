"""The dashboard tests' app: an approval, a parent with children, a failing order, a counter."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def await_approval(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Waits for the Approval event and returns its body."""
    context.set_custom_status({"waiting_for": "Approval"})
    decision = yield context.wait_for_external_event("Approval")
    return {"decision": decision}


@app.orchestration_trigger(context_name="context")
def parent_order(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Two activities, then two child orchestrations."""
    first = yield context.call_activity("echo", "a")
    second = yield context.call_activity("echo", "b")
    children = [context.call_sub_orchestrator("child_step", i) for i in range(2)]
    results = yield context.task_all(children)
    return [first, second, *results]


@app.orchestration_trigger(context_name="context")
def child_step(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    value = yield context.call_activity("echo", context.get_input())
    return value


@app.orchestration_trigger(context_name="context")
def failing_order(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    yield context.call_activity("refuse", context.get_input())
    return "unreachable"


@app.activity_trigger(input_name="value")
def echo(value: Any) -> Any:
    return value


@app.activity_trigger(input_name="value")
def refuse(value: Any) -> None:
    raise ValueError(f"refused {value}")


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    context.set_state(value)
