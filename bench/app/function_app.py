"""No-op orchestrations for the engine benchmarks."""

from __future__ import annotations

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="value")
def noop(value):
    return value


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    hops = context.get_input()
    for i in range(hops):
        yield context.call_activity("noop", i)
    return hops


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity("noop", i) for i in range(count)])
    return len(results)


@app.orchestration_trigger(context_name="context")
def single(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("noop", 1))
