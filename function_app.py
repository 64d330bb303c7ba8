"""The Durable Functions app: one DFApp, one blueprint per pattern module, one HTTP starter.

POST /api/orchestrators/{functionName}[/{instanceId}] with an optional JSON body starts any
orchestrator of this app and answers 202 with the instance's management URLs (409 when the
instance id belongs to an instance that has not finished).
"""

from __future__ import annotations

import json
import re
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities import approvals, builds, documents, exports, metrics, orders
from entities import metric, metric_api
from orchestrators import (
    aggregator,
    async_http_api,
    chaining,
    eternal,
    fan_out_fan_in,
    human_interaction,
    monitor,
    sub_orchestration,
)

# FUNCTION: in Azure, callers need a function key (?code=...); Core Tools and durable_host
# do not check keys locally.
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for module in (
    chaining,
    fan_out_fan_in,
    async_http_api,
    monitor,
    aggregator,
    human_interaction,
    sub_orchestration,
    eternal,
    orders,
    documents,
    exports,
    builds,
    approvals,
    metrics,
    metric,
    metric_api,
):
    app.register_functions(module.bp)

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
# Instance ids end up in storage keys and URLs; these characters are rejected by the backend.
INSTANCE_ID_PATTERN = re.compile(r"^[^/\\#?\x00-\x1f\x7f]{1,100}$")


class OrchestratorRegistry:
    """Names of this app's orchestrators, read from the app itself, not from the host.

    `app.get_functions()` may run only once per app (a second call fails its duplicate-name
    check), and the worker or durable_host makes that call; so this reads the app's function
    builders, building each (idempotent) to see its trigger.
    """

    def __init__(self, function_app: df.DFApp) -> None:
        self._app = function_app
        self._by_lower_name: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._by_lower_name is None:
            names: dict[str, str] = {}
            for builder in self._app._function_builders:
                function = builder.build()
                trigger = function.get_trigger()
                if trigger is not None and trigger.get_binding_name() == ORCHESTRATION_TRIGGER:
                    name = function.get_function_name()
                    names[name.lower()] = name
            self._by_lower_name = names
        return self._by_lower_name

    def names(self) -> list[str]:
        return sorted(self._load().values())

    def resolve(self, name: str) -> str | None:
        # The Functions host matches function names case-insensitively.
        return self._load().get(name.lower())


orchestrators = OrchestratorRegistry(app)


def _json_error(status: int, message: str) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"error": message}), status_code=status, mimetype="application/json"
    )


@app.route(route="orchestrators/{functionName}/{instanceId?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_orchestration(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    # Everything is validated before the client is used: a bad request never starts anything.
    requested = req.route_params.get("functionName", "")
    function_name = orchestrators.resolve(requested)
    if function_name is None:
        return _json_error(
            400,
            f"The function '{requested}' doesn't exist, is disabled, or is not an orchestrator "
            f"function. Orchestrators of this app: {', '.join(orchestrators.names())}.",
        )
    instance_id = req.route_params.get("instanceId") or None
    if instance_id is not None and not INSTANCE_ID_PATTERN.match(instance_id):
        return _json_error(
            400,
            f"Instance id '{instance_id}' is not valid: use 1-100 characters without "
            "'/', '\\', '#', '?' or control characters.",
        )
    body = req.get_body()
    payload: Any = None
    if body.strip():
        try:
            payload = json.loads(body)
        except ValueError as error:
            return _json_error(
                400,
                f"The request body is not valid JSON ({error}); send the orchestrator's input "
                "as JSON with Content-Type: application/json, or no body for no input.",
            )
    try:
        instance_id = await client.start_new(function_name, instance_id, payload)
    except Exception as error:
        if not _already_exists(error):
            raise
        return _json_error(
            409,
            f"An orchestration with instance id '{instance_id}' already exists and has not "
            "finished; use another instance id, or wait until it finishes and start it again.",
        )
    # The SDK's client is untyped (no py.typed); this one returns an HttpResponse.
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


def _already_exists(error: Exception) -> bool:
    """Whether the SDK's start_new failed because the instance id is taken by a running one.

    The SDK raises a bare Exception carrying the extension's HttpError body; its ExceptionType
    names DTFx's OrchestrationAlreadyExistsException (a 500 in Azure, a 409 in durable_host).
    """
    body = error.args[0] if error.args else None
    exception_type = body.get("ExceptionType") if isinstance(body, dict) else None
    return isinstance(exception_type, str) and exception_type.endswith(
        "OrchestrationAlreadyExistsException"
    )
