from collections.abc import Generator
from typing import Any

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    first = yield context.call_activity("E1_SayHello", "Lisbon")
    second = yield context.call_activity("E1_SayHello", "Nairobi")
    third = yield context.call_activity("E1_SayHello", "Quito")
    return [first, second, third]


main = df.Orchestrator.create(orchestrator_function)
