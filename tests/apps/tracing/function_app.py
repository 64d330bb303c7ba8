"""An app whose one orchestration uses every traced kind of work (the tracing tests).

`traced_order` calls the `tally` entity, fans out to `double`, waits on a durable timer and
runs `traced_child` as a sub-orchestration; `double` opens a span of its own, which must
nest under the activity's span. `gated` waits for an event (the host-restart test),
`doomed` fails (error status) and `flaky_once` fails once (the rewind test).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from opentelemetry import trace

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], client_input=req.get_json())
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


@app.orchestration_trigger(context_name="context")
def traced_order(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    values = context.get_input()
    total = yield context.call_entity(df.EntityId("tally", "orders"), "add", len(values))
    doubled = yield context.task_all([context.call_activity("double", v) for v in values])
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=5))
    child = yield context.call_sub_orchestrator("traced_child", sum(doubled))
    return {"tally": total, "doubled": doubled, "child": child}


@app.orchestration_trigger(context_name="context")
def traced_child(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    value = context.get_input()
    return (yield context.call_activity("double", value))


@app.orchestration_trigger(context_name="context")
def gated(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    first = yield context.call_activity("double", 1)
    extra = yield context.wait_for_external_event("go")
    second = yield context.call_activity("double", int(extra))
    return first + second


@app.orchestration_trigger(context_name="context")
def doomed(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    yield context.call_activity("explode", "the answer")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def flaky_once(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    return (yield context.call_activity("flaky", context.instance_id))


_FLAKY_SEEN: set[str] = set()


@app.activity_trigger(input_name="value")
def flaky(value: str) -> str:
    """Fails the first time per instance id: the rewind test runs it again."""
    if value not in _FLAKY_SEEN:
        _FLAKY_SEEN.add(value)
        raise RuntimeError("first attempt fails")
    return "second attempt"


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    with trace.get_tracer("tests.tracing").start_as_current_span("double-work"):
        return value * 2


@app.activity_trigger(input_name="value")
def explode(value: str) -> str:
    raise ValueError(f"boom: {value} is not 42")


@app.entity_trigger(context_name="context")
def tally(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0) + context.get_input()
    context.set_state(value)
    context.set_result(value)
