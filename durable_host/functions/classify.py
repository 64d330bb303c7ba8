"""Classify an app's functions into a `FunctionIndex`, after the worker's parameter checks.

The worker checks each function's Python parameters against its bindings when it
loads it (`Registry.add_indexed_function`); functions are then told apart by their
trigger: durable ones by their durable name, HTTP ones by route, and any other
trigger is recorded as unsupported (durable_host does not run it).
"""

from __future__ import annotations

import inspect
import logging
import typing
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from durable_host.errors import AppLoadError
from durable_host.functions.function_index import (
    DurableFunction,
    DurableKind,
    DurableProtocol,
    FunctionIndex,
    FunctionSource,
    HttpFunction,
    UnsupportedFunction,
    protocol_of,
)

logger = logging.getLogger("durable_host.functions")

_DURABLE_TRIGGERS = {
    "orchestrationTrigger": (DurableKind.ORCHESTRATOR, "orchestration"),
    "activityTrigger": (DurableKind.ACTIVITY, "activity"),
    "entityTrigger": (DurableKind.ENTITY, "entityName"),
}
_CONTEXT_TRIGGERS = ("orchestrationTrigger", "entityTrigger")
# The client binding names the extension registers: `durableClient`, and `orchestrationClient`,
# the 1.x name it still accepts (OrchestrationClientAttribute), which older samples use.
# Functions reads binding types case-insensitively.
_CLIENT_BINDINGS = ("durableclient", "orchestrationclient")


def build_index(root: Path, sources: list[FunctionSource]) -> FunctionIndex:
    """Classify the functions by trigger, after the worker's parameter checks."""
    tables: dict[DurableKind, dict[str, DurableFunction]] = {k: {} for k in DurableKind}
    http: list[HttpFunction] = []
    unsupported: list[UnsupportedFunction] = []
    seen: dict[str, str] = {}

    for source in sources:
        name = source.name
        if name.lower() in seen:
            raise AppLoadError(
                f"Two functions are named '{seen[name.lower()]}' and '{name}'; function names "
                "are case-insensitive. Rename one (the Python name or @app.function_name)."
            )
        seen[name.lower()] = name
        trigger = source.trigger
        common = _common_fields(source)
        trigger_type = trigger["type"]
        if trigger_type in _DURABLE_TRIGGERS:
            _add_durable(tables, source, common)
        elif trigger_type == "httpTrigger":
            http.append(_http_function(name, trigger, source.bindings, common))
        else:
            logger.warning(
                "Function '%s' has a %s, which durable_host does not run; it is skipped.",
                name,
                trigger_type,
            )
            unsupported.append(UnsupportedFunction(name, trigger_type))

    return FunctionIndex(
        app_dir=str(root),
        orchestrators=tables[DurableKind.ORCHESTRATOR],
        activities=tables[DurableKind.ACTIVITY],
        entities=tables[DurableKind.ENTITY],
        http=tuple(http),
        unsupported=tuple(unsupported),
    )


def _common_fields(source: FunctionSource) -> dict[str, Any]:
    """The fields every kind of function has, after the worker's parameter checks."""
    try:
        requires_context = _check_parameters(source.name, source.user_function, source.bindings)
    except AppLoadError as exc:
        if not source.origin:
            raise
        raise AppLoadError(f"{source.origin}: {exc}") from exc
    return {
        "user_function": source.user_function,
        "trigger_param": source.trigger["name"],
        "requires_context": requires_context,
        "is_async": inspect.iscoroutinefunction(source.user_function),
        "function_id": str(uuid.uuid5(uuid.NAMESPACE_OID, source.name)),
        "function_directory": source.directory,
    }


def _add_durable(
    tables: dict[DurableKind, dict[str, DurableFunction]],
    source: FunctionSource,
    common: dict[str, Any],
) -> None:
    """Register a durable function under its durable name (the trigger's, else the function's)."""
    name, trigger = source.name, source.trigger
    kind, override_key = _DURABLE_TRIGGERS[trigger["type"]]
    durable_name = trigger.get(override_key) or name
    table = tables[kind]
    clash = next((n for n in table if n.lower() == durable_name.lower()), None)
    if clash is not None:
        raise AppLoadError(
            f"Two {kind.value} functions are registered as '{durable_name}' "
            f"({table[clash].function_name} and {name}); give them distinct names."
        )
    client = _client_binding(source.bindings)
    table[durable_name] = DurableFunction(
        name=durable_name,
        function_name=name,
        kind=kind,
        protocol=protocol_of(trigger),
        client_param=client["name"] if client else None,
        client_protocol=protocol_of(client) if client else DurableProtocol.JSON,
        **common,
    )


def _client_binding(bindings: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((b for b in bindings if str(b.get("type", "")).lower() in _CLIENT_BINDINGS), None)


def _http_function(
    name: str, trigger: dict[str, Any], bindings: list[dict[str, Any]], common: dict[str, Any]
) -> HttpFunction:
    client = _client_binding(bindings)
    return HttpFunction(
        name=name,
        route=trigger.get("route") or name,
        methods=tuple(str(m).upper() for m in trigger.get("methods") or ()),
        auth_level=str(trigger.get("authLevel") or "FUNCTION").upper(),
        client_param=client["name"] if client else None,
        client_task_hub=client.get("taskHub") if client else None,
        client_connection=client.get("connectionName") if client else None,
        client_protocol=protocol_of(client) if client else DurableProtocol.JSON,
        has_return=any(b.get("name") == "$return" for b in bindings),
        output_param=next(
            (
                b["name"]
                for b in bindings
                if b.get("type") == "http"
                and b.get("direction") == "out"
                and b.get("name") != "$return"
            ),
            None,
        ),
        **common,
    )


def _check_parameters(
    name: str, user_function: Callable[..., Any], bindings: list[dict[str, Any]]
) -> bool:
    """The worker's load-time checks; returns whether a `context` parameter gets func.Context.

    The worker recognises the invocation context by the parameter *name* `context`
    (not by its annotation), when no binding has that name.
    """
    try:
        return _check_worker_rules(name, user_function, bindings)
    except AppLoadError as exc:
        trigger = next((b for b in bindings if b.get("type") in _CONTEXT_TRIGGERS), None)
        if trigger is None or trigger.get("name") == "context":
            raise
        raise AppLoadError(
            f"{exc}. DFApp passes the orchestration/entity context as a parameter named "
            "'context': use context_name=\"context\" and name the parameter `context`."
        ) from exc


def _check_worker_rules(
    name: str, user_function: Callable[..., Any], bindings: list[dict[str, Any]]
) -> bool:
    params = dict(inspect.signature(user_function).parameters)
    try:
        annotations = typing.get_type_hints(user_function)
    except Exception:
        annotations = {}
    bound = {b["name"] for b in bindings if b.get("name") != "$return"}

    requires_context = "context" in params and "context" not in bound
    if requires_context:
        params.pop("context")
        annotation = annotations.get("context")
        if annotation is not None and (
            not isinstance(annotation, type) or annotation.__name__ != "Context"
        ):
            raise AppLoadError(
                f'cannot load the {name} function: the "context" parameter is expected to '
                f"be of type azure.functions.Context, got {annotation!r}"
            )
    if set(params) - bound:
        raise AppLoadError(
            f"cannot load the {name} function: the following parameters are declared in "
            f"Python but not in function.json: {set(params) - bound!r}"
        )
    if bound - set(params):
        raise AppLoadError(
            f"cannot load the {name} function: the following parameters are declared in "
            f"function.json but not in Python: {bound - set(params)!r}"
        )
    return requires_context
