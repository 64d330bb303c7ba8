"""The app of the reliability tests: healthy orchestrations and ones naming missing functions."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

app = df.DFApp()

# `held` blocks until the test opens this gate, to keep the only activity slot busy.
GATE = threading.Event()
HELD = threading.Event()


@app.activity_trigger(input_name="value")
def echo(value: Any) -> Any:
    return value


@app.activity_trigger(input_name="value")
def held(value: Any) -> Any:
    HELD.set()
    if not GATE.wait(timeout=60):
        raise TimeoutError("the test never opened the gate")
    return value


@app.orchestration_trigger(context_name="context")
def hello(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    first = yield context.call_activity("echo", "a")
    second = yield context.call_activity("echo", "b")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def hold_one(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    return (yield context.call_activity("held", 1))


@app.orchestration_trigger(context_name="context")
def calls_named(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    return (yield context.call_activity(context.get_input(), 2))


@app.orchestration_trigger(context_name="context")
def calls_missing_child(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    try:
        yield context.call_sub_orchestrator("no_such_orchestrator", None)
    except Exception as exc:
        return f"caught: {exc}"
    return "not reached"
