"""Orchestrations that use `context.call_http` (the built-in HTTP activity tests)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def fetch(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Makes the request described by the input; returns the response dict, or the error."""
    request = context.get_input()
    token = request.get("resource")
    try:
        response = yield context.call_http(
            request["method"],
            request["uri"],
            content=request.get("content"),
            headers=request.get("headers"),
            token_source=df.ManagedIdentityTokenSource(token) if token else None,
            is_raw_str=request.get("raw", False),
        )
    except Exception as exc:
        return {"error": str(exc)}
    # A task after the call: its id must follow the call_http's single task id.
    after = yield context.call_activity("shout", "after")
    return {"response": response, "after": after}


@app.activity_trigger(input_name="text")
def shout(text: str) -> str:
    return text.upper()
