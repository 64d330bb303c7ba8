"""A user's own small app, as the packaging and `durable` command tests use it (tests only).

It imports nothing from this repository, so it runs from any folder with only the installed
`durable-host` wheel.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> Any:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"], None, req.get_json() if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def hello(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    greeting = yield context.call_activity("say_hello", context.get_input())
    return greeting


@app.orchestration_trigger(context_name="context")
def wait_for_approval(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    context.set_custom_status("waiting")
    decision = yield context.wait_for_external_event("Approval")
    return {"decision": decision}


@app.orchestration_trigger(context_name="context")
def flaky(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Fails until the file named by its input exists: a rewind after creating it completes."""
    result = yield context.call_activity("needs_file", context.get_input())
    return result


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="path")
def needs_file(path: str) -> str:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} does not exist yet")
    return "found"
