from collections.abc import Generator
from typing import Any

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    a = yield context.call_activity("DurableActivity", 0)
    context.set_custom_status(f"{a} ->")
    b = yield context.call_activity("DurableActivity", a)
    context.set_custom_status(f"{a} -> {b} ->")
    c = yield context.call_activity("DurableActivity", b)
    context.set_custom_status(f"{a} -> {b} -> {c}")
    return c


main = df.Orchestrator.create(orchestrator_function)
