from collections.abc import Generator
from typing import Any

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    name = context.get_input()["name"]
    return (yield context.call_activity("SayHello", name))


main = df.Orchestrator.create(orchestrator_function)
