"""No-op orchestrations, a waiting orchestration, a counter entity and an HTTP starter for
the benchmarks."""

from __future__ import annotations

import json
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp()


@app.activity_trigger(input_name="value")
def noop(value):
    return value


@app.activity_trigger(input_name="value")
def stamp(value):
    # The host runs activities in this process, so perf_counter is comparable with the
    # benchmark's own clock: the gaps between stamps are the hop latencies.
    return time.perf_counter()


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    hops = context.get_input()
    for i in range(hops):
        yield context.call_activity("noop", i)
    return hops


@app.orchestration_trigger(context_name="context")
def stamped_sequence(context: df.DurableOrchestrationContext):
    stamps = []
    for i in range(context.get_input()):
        stamps.append((yield context.call_activity("stamp", i)))
    return stamps


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity("noop", i) for i in range(count)])
    return len(results)


@app.orchestration_trigger(context_name="context")
def single(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("noop", 1))


@app.orchestration_trigger(context_name="context")
def first_stamp(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("stamp", 0))


@app.orchestration_trigger(context_name="context")
def wait_events(context: df.DurableOrchestrationContext):
    """Waits for `count` events named 'go', one after the other; returns their sum."""
    total = 0
    for _ in range(context.get_input()):
        total += yield context.wait_for_external_event("go")
    return total


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        context.set_state(value + context.get_input())
    context.set_result(value)


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The usual HTTP starter of a Durable Functions app: the body is the input."""
    body = req.get_body()
    payload = json.loads(body) if body.strip() else None
    instance_id = await client.start_new(req.route_params["functionName"], None, payload)
    return client.create_check_status_response(req, instance_id)
