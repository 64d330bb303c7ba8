"""Test doubles for activities: run a plain callable through the activity converters."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from durable_host.engine.dispatch.executors import ActivityResult
from durable_host.engine.runtime import ActivityRunner


async def run_double(double: Callable[[Any], Any], raw_input: str | None) -> ActivityResult:
    """Decode the input and encode the result exactly as for the real activity function."""
    try:
        value = (
            None
            if raw_input is None
            else ActivityTriggerConverter.decode(
                meta.Datum(raw_input, "string"), trigger_metadata={}
            )
        )
        result = double(value)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        return ActivityResult(
            error_message=f"{type(exc).__name__}: {exc}",
            error_type=type(exc).__name__,
            stack_trace="".join(traceback.format_tb(exc.__traceback__)),
        )
    if result is None:
        return ActivityResult()
    return ActivityResult(
        result_json=ActivityTriggerConverter.encode(result, expected_type=None).value
    )


def activity_runner(double: Callable[[Any], Any]) -> ActivityRunner:
    """An Engine.replace_activity runner that calls `double` with the decoded input."""

    async def run(raw_input: str | None) -> ActivityResult:
        return await run_double(double, raw_input)

    return run
