"""Signals, then calls, the Counter entity (the SDK sample's DurableOrchestration)."""

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    entity_id = df.EntityId("Counter", "myCounter")
    context.signal_entity(entity_id, "add", 3)
    state = yield context.call_entity(entity_id, "get")
    return state


main = df.Orchestrator.create(orchestrator_function)
