"""A counter entity and orchestrations that call and signal it (entity engine tests)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
        context.set_state(value)
        context.set_result(value)
    elif operation == "get":
        context.set_result(value)
    elif operation == "reset":
        context.set_state(0)
    elif operation == "delete":
        context.destruct_on_exit()
    elif operation == "raise":
        # Fails before touching the state: the caller sees the error, the state is unchanged.
        raise ValueError(f"counter refused: {context.get_input()}")
    elif operation == "add_then_raise":
        context.set_state(value + context.get_input())
        raise RuntimeError("added, then failed")
    else:
        raise ValueError(f"unknown operation {operation!r}")


@app.orchestration_trigger(context_name="context")
def call_counter(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input {"key", "op", "value"}: calls the counter once and returns its answer or error."""
    spec = context.get_input()
    entity = df.EntityId("counter", spec["key"])
    try:
        result = yield context.call_entity(entity, spec["op"], spec.get("value"))
    except Exception as exc:
        return {"error": str(exc)}
    return {"result": result}


@app.orchestration_trigger(context_name="context")
def signal_counter(context: df.DurableOrchestrationContext) -> str:
    """Input {"key", "amount", "times"}: signals add(amount) `times` times, then returns."""
    spec = context.get_input()
    entity = df.EntityId("counter", spec["key"])
    for _ in range(spec["times"]):
        context.signal_entity(entity, "add", spec["amount"])
    return "signalled"


@app.orchestration_trigger(context_name="context")
def call_twice(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Adds 1 to the counter, then reads it: both answers, in order."""
    key = context.get_input()
    entity = df.EntityId("counter", key)
    first = yield context.call_entity(entity, "add", 1)
    second = yield context.call_entity(entity, "get")
    return [first, second]
