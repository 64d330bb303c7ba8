from collections.abc import Generator
from typing import Any

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    greeting = yield context.call_activity("Hello", context.get_input())
    return greeting


main = df.Orchestrator.create(orchestrator_function)
