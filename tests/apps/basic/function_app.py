"""A small DFApp exercising every kind of function durable_host invokes (tests only)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from activities.shout import bp as shout_bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(shout_bp)

log = logging.getLogger("basic_app")

# Set by tests to prove that sync activities run concurrently in the thread pool.
barrier: threading.Barrier | None = None


@app.route(route="orchestrators/{name}/{instance_id?}", methods=["POST", "GET"])
@app.durable_client_input(client_name="client")
async def http_start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    payload = client.create_http_management_payload(req.route_params.get("instance_id") or "x")
    # SDK 1.7.0 declares but never sets `client.task_hub_name`; the bindings hold it.
    hub = client._orchestration_bindings.task_hub_name
    parts = [type(client).__name__, hub, req.route_params["name"]]
    return func.HttpResponse(
        body="|".join([*parts, payload["statusQueryGetUri"]]),
        status_code=202,
        headers={"X-Seen": req.headers.get("x-test", "")},
        mimetype="text/plain",
    )


@app.orchestration_trigger(context_name="context")
def hello_orchestrator(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, list[Any]]:
    log.info("orchestrating %s", context.instance_id)
    name = context.get_input()
    first = yield context.call_activity("say_hello", name)
    return [first]


@app.orchestration_trigger(context_name="context", orchestration="RenamedOrchestrator")
def failing_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
    context.set_custom_status({"stage": "before"})
    raise ValueError("orchestrator exploded")
    yield context.call_activity("say_hello", "never")  # makes this a generator


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    log.info("saying hello to %s", name)
    return f"Hello {name}!"


@app.activity_trigger(input_name="value")
async def async_echo(value: Any) -> Any:
    await asyncio.sleep(0)
    log.info("echoing %r", value)
    return value


@app.activity_trigger(input_name="value", activity="Renamed_Activity")
def renamed(value: Any) -> Any:
    return value


@app.activity_trigger(input_name="value")
def failing_activity(value: Any) -> None:
    raise RuntimeError(f"activity failed for {value}")


@app.activity_trigger(input_name="value")
def returns_none(value: Any) -> None:
    return None


@app.activity_trigger(input_name="value")
def returns_object(value: Any) -> threading.Lock:
    return threading.Lock()  # not JSON-serializable


@app.activity_trigger(input_name="payload")
def with_context(payload: Any, context: func.Context) -> dict[str, str]:
    return {"function": context.function_name, "invocation": context.invocation_id}


@app.activity_trigger(input_name="value")
def wait_at_barrier(value: Any) -> int:
    assert barrier is not None
    barrier.wait()
    return threading.get_ident()


@app.entity_trigger(context_name="context", entity_name="Counter")
def counter_entity(context: df.DurableEntityContext) -> None:
    current = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        current += context.get_input()
        context.set_state(current)
    elif operation == "get":
        context.set_result(current)
    elif operation == "fail":
        raise ValueError("no such luck")


@app.route(route="hello/{name?}", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.FUNCTION)
def hello_http(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    log.info("http hello")
    name = req.route_params.get("name") or req.params.get("name", "world")
    return func.HttpResponse(f"Hello {name} from {context.function_name}")


@app.function_name("AsyncText")
@app.route(route="text")
async def async_text(req: func.HttpRequest) -> str:
    await asyncio.sleep(0)
    return f"plain {req.method}"


@app.route(route="dict")
def returns_dict(req: func.HttpRequest) -> dict[str, str]:
    return {"not": "an HttpResponse"}


@app.route(route="boom")
async def http_boom(req: func.HttpRequest) -> func.HttpResponse:
    raise KeyError("missing thing")


@app.schedule(schedule="0 */5 * * * *", arg_name="timer")
def every_five_minutes(timer: func.TimerRequest) -> None:
    pass
