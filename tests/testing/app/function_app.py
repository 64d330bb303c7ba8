"""A small app for the plugin's tests: a greeting chain, a timer, an event wait, a failure."""

from __future__ import annotations

import os
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    name = context.get_input()
    greeting: str = yield context.call_activity("say_hello", name)
    return greeting


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    # The setting comes from local.settings.json, as under the Functions host.
    return f"{os.environ['PLUGIN_TEST_GREETING']} {name}"


@app.orchestration_trigger(context_name="context")
def nap(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    seconds = float(context.get_input())
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    return "rested"


@app.orchestration_trigger(context_name="context")
def wait_for_go(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    context.set_custom_status("waiting")
    return (yield context.wait_for_external_event("go"))


@app.orchestration_trigger(context_name="context")
def doomed(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    return (yield context.call_activity("explode", "the answer"))


@app.activity_trigger(input_name="what")
def explode(what: str) -> str:
    raise ValueError(f"boom: {what} is not 42")
