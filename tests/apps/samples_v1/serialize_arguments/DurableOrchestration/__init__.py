from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from ..shared_code.boxes import NumberBox


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    box: NumberBox = context.get_input()
    echoed = yield context.call_activity("DurableActivity", NumberBox(box.number * 2))
    return [box.number, echoed.number]


main = df.Orchestrator.create(orchestrator_function)
