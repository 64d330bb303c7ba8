"""The crash/scale-out/load workload (tests/reliability): every durable pattern, outputs that
follow from the input alone, and activities that record each execution in a ledger file.

Each activity appends a line to the ledger (ledger.py), so the test can tell "ran once" from
"ran again after a crash". The soak's functions (bench/soak.py) are in soak_functions.py.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from ledger import record as _record
from soak_functions import bp as soak_bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(soak_bp)


@app.activity_trigger(input_name="item")
def work(item: dict[str, Any]) -> int:
    """{"key", "value"} -> value * 2, recorded under `key` (unique per scheduled task)."""
    _record(item["key"])
    return int(item["value"]) * 2


@app.activity_trigger(input_name="value")
def echo(value: int) -> int:
    """The load test's activity: no ledger, as cheap as an activity gets."""
    return value


def _work(context: df.DurableOrchestrationContext, step: str, value: int) -> df.Task:
    return context.call_activity("work", {"key": f"{context.instance_id}/{step}", "value": value})


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input n: n activities one after the other -> [0, 2, 4, ...]."""
    results = []
    for i in range(context.get_input()):
        results.append((yield _work(context, f"c{i}", i)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input n: n activities at once -> their sum, 2 * (0 + 1 + ... + n-1)."""
    tasks = [_work(context, f"f{i}", i) for i in range(context.get_input())]
    results = yield context.task_all(tasks)
    return sum(results)


@app.orchestration_trigger(context_name="context")
def timer(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input seconds: a durable timer, then one activity -> 2 * seconds."""
    seconds = context.get_input()
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    return (yield _work(context, "after-timer", seconds))


@app.orchestration_trigger(context_name="context")
def event(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Waits for the external event "go" (an int) -> 2 * its value."""
    value = yield context.wait_for_external_event("go")
    return (yield _work(context, "after-event", int(value)))


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input n: two `chain(n)` sub-orchestrations with ids <id>-s0, <id>-s1 -> both outputs."""
    n = context.get_input()
    children = [
        context.call_sub_orchestrator("chain", n, instance_id=f"{context.instance_id}-s{i}")
        for i in range(2)
    ]
    return (yield context.task_all(children))


@app.orchestration_trigger(context_name="context")
def counting(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Input n: calls add(1..n) on the counter entity keyed by this instance, then get ->
    every answer; an operation applied twice (or lost) shows in the output."""
    entity = df.EntityId("counter", context.instance_id)
    answers = []
    for i in range(1, context.get_input() + 1):
        answers.append((yield context.call_entity(entity, "add", i)))
    answers.append((yield context.call_entity(entity, "get")))
    return answers


@app.orchestration_trigger(context_name="context")
def hello(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """The load test's orchestration: one activity -> its input."""
    return (yield context.call_activity("echo", context.get_input()))


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
        context.set_state(value)
    context.set_result(value)


@app.route(route="start/{name}/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST the input as JSON; answers with the started instance id."""
    body = req.get_body()
    value = json.loads(body) if body else None
    instance_id = await client.start_new(
        req.route_params["name"], req.route_params["instance_id"], value
    )
    return func.HttpResponse(instance_id, status_code=202)
