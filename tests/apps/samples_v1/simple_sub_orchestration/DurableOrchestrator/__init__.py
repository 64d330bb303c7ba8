from collections.abc import Generator
from typing import Any

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    result = yield context.call_sub_orchestrator("DurableSubOrchestrator", "Reykjavik")
    return result


main = df.Orchestrator.create(orchestrator_function)
