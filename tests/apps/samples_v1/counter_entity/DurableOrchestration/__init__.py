from collections.abc import Generator
from typing import Any

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    counter = df.EntityId("Counter", "myCounter")
    context.signal_entity(counter, "add", 3)
    state = yield context.call_entity(counter, "get")
    return state


main = df.Orchestrator.create(orchestrator_function)
