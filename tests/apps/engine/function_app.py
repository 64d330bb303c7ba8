"""A small app exercising every orchestration feature the engine supports (engine tests)."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

app = df.DFApp()

# Counts attempts per key across calls, so a flaky activity can fail, then succeed.
_ATTEMPTS: dict[str, int] = {}


# Gates let a test hold an activity in flight: `gated` blocks until its key's gate opens.
_GATES: dict[str, threading.Event] = {}
_GATES_LOCK = threading.Lock()
# Keys of gated activities that have started running (a test waits for "in flight").
ENTERED: set[str] = set()


def gate(key: str) -> threading.Event:
    with _GATES_LOCK:
        return _GATES.setdefault(key, threading.Event())


def release_all_gates() -> None:
    with _GATES_LOCK:
        for event in _GATES.values():
            event.set()


@app.activity_trigger(input_name="value")
def echo(value: Any) -> Any:
    return value


@app.activity_trigger(input_name="key")
def gated(key: str) -> str:
    ENTERED.add(key)
    if not gate(key).wait(timeout=60):
        raise TimeoutError(f"gate {key!r} was never opened")
    return f"passed {key}"


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="message")
def boom(message: str) -> None:
    raise ValueError(message)


@app.activity_trigger(input_name="spec")
def flaky(spec: dict[str, Any]) -> str:
    key = spec["key"]
    _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
    if _ATTEMPTS[key] <= spec["failures"]:
        raise RuntimeError(f"attempt {_ATTEMPTS[key]} failed")
    return f"ok after {_ATTEMPTS[key]}"


@app.activity_trigger(input_name="value")
def noted(value: str) -> str:
    """Logs its input, so a test can check which instance the log line is attributed to."""
    logging.getLogger("function_app").info("noted %s", value)
    return value


@app.activity_trigger(input_name="size")
def big_text(size: int) -> str:
    return "é" * size


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    value = context.get_input()
    for _ in range(3):
        value = yield context.call_activity("double", value)
    return value


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    count = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(count)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    spec = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    try:
        return (yield context.call_activity_with_retry("flaky", options, spec))
    except Exception as exc:
        return f"gave up: {exc}"


@app.orchestration_trigger(context_name="context")
def catches(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    try:
        yield context.call_activity("boom", "kaput")
    except Exception as exc:
        return f"caught: {exc}"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
    yield context.call_activity("echo", "x")
    raise RuntimeError("orchestrator broke")


@app.orchestration_trigger(context_name="context")
def timer(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    seconds = context.get_input()
    fire_at = context.current_utc_datetime + timedelta(seconds=seconds)
    yield context.create_timer(fire_at)
    return "fired"


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
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
def wait_event(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    value = yield context.wait_for_external_event("Go")
    return value


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
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
def counter(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    state = context.get_input()
    if state["n"] >= state["until"]:
        return state["n"]
    yield context.call_activity("echo", state["n"])
    context.continue_as_new({"n": state["n"] + 1, "until": state["until"]})
    return None


@app.orchestration_trigger(context_name="context")
def big(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    payload = context.get_input()
    text = yield context.call_activity("big_text", len(payload))
    return {"in": len(payload), "out": len(text), "same_start": text[:3]}


@app.orchestration_trigger(context_name="context")
def status_steps(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    for step in range(3):
        context.set_custom_status({"step": step})
        yield context.call_activity("echo", step)
    return json.dumps({"done": True})


@app.orchestration_trigger(context_name="context")
def status_then_done(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    # A custom status on every step and another in the last episode, the one whose row
    # write tests/engine/test_recovery.py loses.
    for step in range(2):
        context.set_custom_status({"step": step})
        yield context.call_activity("echo", step)
    context.set_custom_status({"done": 2})
    return "done"


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    # The first activity's name comes from the environment, so a test can "change the code"
    # between two episodes of one instance.
    yield context.call_activity(os.environ.get("DURABLE_HOST_TEST_FIRST", "echo"), 1)
    yield context.wait_for_external_event("Continue")
    return "done"


@app.orchestration_trigger(context_name="context")
def echo_then_wait(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    first = yield context.call_activity("echo", context.get_input())
    second = yield context.wait_for_external_event("Go")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def big_roundtrip(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    payload = context.get_input()
    return (yield context.call_activity("echo", payload))


@app.orchestration_trigger(context_name="context")
def calls_unknown(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    yield context.call_activity("no_such_activity", 1)
    return "not reached"


@app.orchestration_trigger(context_name="context")
def flaky_once(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    # No retry: the first failure fails the orchestration (a rewind runs it again).
    first = yield context.call_activity("echo", "before")
    second = yield context.call_activity("flaky", context.get_input())
    return [first, second]


@app.orchestration_trigger(context_name="context")
def parent_uncaught(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    yield context.call_sub_orchestrator("fails", None, f"{context.instance_id}:child")
    return "not reached"


@app.orchestration_trigger(context_name="context")
def gated_chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    key = context.get_input()
    first = yield context.call_activity("gated", key)
    second = yield context.call_activity("double", 21)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def carry_event(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    # Generation 0 runs a gated activity then continues as new; an event raised meanwhile must
    # reach generation 1's wait.
    state = context.get_input()
    if state["generation"] == 0:
        yield context.call_activity("gated", state["key"])
        context.continue_as_new({"generation": 1, "key": state["key"]})
        return None
    value = yield context.wait_for_external_event("Carried")
    return {"generation": 1, "event": value}


@app.orchestration_trigger(context_name="context")
def gated_then_wait(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    # While `gated` is in flight a test raises "Go": the event must be kept until the wait.
    first = yield context.call_activity("gated", context.get_input())
    second = yield context.wait_for_external_event("Go")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def parent_of_waiter(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    try:
        yield context.call_sub_orchestrator("wait_event", None, f"{context.instance_id}:w")
    except Exception as exc:
        return f"child ended: {exc}"
    return "child completed"


@app.orchestration_trigger(context_name="context")
def two_events(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    first = yield context.wait_for_external_event("X")
    second = yield context.wait_for_external_event("X")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def noted_family(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Notes its instance id in an activity; with input "parent", has a child do the same."""
    yield context.call_activity("noted", context.instance_id)
    if context.get_input() == "parent":
        yield context.call_sub_orchestrator("noted_family", "child", f"{context.instance_id}-child")
    return context.instance_id
