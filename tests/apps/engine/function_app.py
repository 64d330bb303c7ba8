"""A small app exercising every orchestration feature the engine supports (engine tests)."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import azure.durable_functions as df

app = df.DFApp()

# Counts attempts per key across calls, so a flaky activity can fail, then succeed.
_ATTEMPTS: dict[str, int] = {}


@app.activity_trigger(input_name="value")
def echo(value):
    return value


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="message")
def boom(message: str) -> None:
    raise ValueError(message)


@app.activity_trigger(input_name="spec")
def flaky(spec: dict) -> str:
    key = spec["key"]
    _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
    if _ATTEMPTS[key] <= spec["failures"]:
        raise RuntimeError(f"attempt {_ATTEMPTS[key]} failed")
    return f"ok after {_ATTEMPTS[key]}"


@app.activity_trigger(input_name="size")
def big_text(size: int) -> str:
    return "é" * size


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    value = context.get_input()
    for _ in range(3):
        value = yield context.call_activity("double", value)
    return value


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(count)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    try:
        return (yield context.call_activity_with_retry("flaky", options, spec))
    except Exception as exc:
        return f"gave up: {exc}"


@app.orchestration_trigger(context_name="context")
def catches(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("boom", "kaput")
    except Exception as exc:
        return f"caught: {exc}"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("echo", "x")
    raise RuntimeError("orchestrator broke")


@app.orchestration_trigger(context_name="context")
def timer(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    fire_at = context.current_utc_datetime + timedelta(seconds=seconds)
    yield context.create_timer(fire_at)
    return "fired"


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    timeout = context.get_input()
    deadline = context.current_utc_datetime + timedelta(seconds=timeout)
    timer_task = context.create_timer(deadline)
    event_task = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event_task, timer_task])
    if winner == event_task:
        timer_task.cancel()
        return {"approved": event_task.result}
    return "timed out"


@app.orchestration_trigger(context_name="context")
def wait_event(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("Go")
    return value


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    mode = context.get_input()
    if mode == "fail":
        try:
            yield context.call_sub_orchestrator("fails", None)
        except Exception as exc:
            return f"child failed: {exc}"
    child_id = f"{context.instance_id}-child"
    first = yield context.call_sub_orchestrator("chain", 1, child_id)
    second = yield context.call_sub_orchestrator("chain", 2)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    state = context.get_input()
    if state["n"] >= state["until"]:
        return state["n"]
    yield context.call_activity("echo", state["n"])
    context.continue_as_new({"n": state["n"] + 1, "until": state["until"]})
    return None


@app.orchestration_trigger(context_name="context")
def big(context: df.DurableOrchestrationContext):
    payload = context.get_input()
    text = yield context.call_activity("big_text", len(payload))
    return {"in": len(payload), "out": len(text), "same_start": text[:3]}


@app.orchestration_trigger(context_name="context")
def status_steps(context: df.DurableOrchestrationContext):
    for step in range(3):
        context.set_custom_status({"step": step})
        yield context.call_activity("echo", step)
    return json.dumps({"done": True})


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    # The first activity's name comes from the environment, so a test can "change the code"
    # between two episodes of one instance.
    yield context.call_activity(os.environ.get("DURABLE_HOST_TEST_FIRST", "echo"), 1)
    yield context.wait_for_external_event("Continue")
    return "done"
