"""Function chaining on the v1 model (the SDK sample E1_HelloSequence), plus a custom class."""

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from ..shared_code.greetings import Greeting


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    cities = context.get_input() or ["Tokyo", "Seattle", "London"]
    results = []
    for city in cities:
        results.append((yield context.call_activity("E1_SayHello", city)))
    reshaped = yield context.call_activity("E1_Reshape", Greeting(cities[0], 2))
    results.append(reshaped.text())
    return results


main = df.Orchestrator.create(orchestrator_function)
