"""Entities (list, one entity, signal an operation) and the app's functions with their counts."""

from __future__ import annotations

import json
from collections import Counter

from aiohttp import web

from durable_host.dashboard.hubs import DashboardHub
from durable_host.dashboard.pages import (
    FormError,
    action,
    compact_json,
    hub_of,
    hub_url,
    redirect,
)
from durable_host.dashboard.queries import count_by_name
from durable_host.dashboard.render import json_value, render
from durable_host.errors import DurableHostError
from durable_host.taskhub.events import OrchestrationStatus

__all__ = ["entities", "entity", "functions", "signal"]

_PAGE_SIZE = 50


async def entities(request: web.Request) -> web.Response:
    hub = hub_of(request)
    name = request.query.get("name", "").strip()
    token = request.query.get("token") or None
    error = ""
    try:
        page = await hub.client.list_entities(
            name or None, fetch_state=True, top=_PAGE_SIZE, continuation_token=token
        )
        found, next_token = page.entities, page.continuation_token
    except ValueError as exc:  # an entity name the layout cannot hold
        found, next_token, error = [], None, str(exc)
    return render(
        request,
        "entities.html",
        hub=hub,
        page_title="Entities",
        name=name,
        entities=found,
        states={(e.name, e.key): json_value(e.state) for e in found},
        list_error=error,
        next_url=hub_url(hub, "entities", name=name, token=next_token) if next_token else "",
        first_url=hub_url(hub, "entities", name=name) if token else "",
        entity_url=lambda e: hub_url(hub, "entity", name=e.name, key=e.key),
    )


async def entity(request: web.Request) -> web.Response:
    hub = hub_of(request)
    name, key = request.query.get("name", ""), request.query.get("key", "")
    try:
        found = await hub.client.read_entity(name, key) if name else None
    except ValueError:
        found = None
    if found is None:
        return render(
            request,
            "message.html",
            http_status=404,
            hub=hub,
            title="Entity not found",
            message=f"No entity @{name}@{key} with state in task hub {hub.name}.",
        )
    return render(
        request,
        "entity.html",
        hub=hub,
        page_title=f"@{name}@{key}",
        name=name,
        key=key,
        state=json_value(found.state),
        last_modified=found.last_operation_time,
    )


@action
async def signal(request: web.Request, hub: DashboardHub, form: dict[str, str]) -> web.Response:
    name, key = form.get("name", ""), form.get("key", "")
    operation = form.get("operation", "").strip()
    try:
        if not operation:
            raise FormError("Name the operation to signal.")
        value = compact_json(form.get("input", ""), "input")
        # The client takes the input as the extension stores it: a JSON string holding the
        # JSON, which the SDK's get_input turns back into the value typed here.
        input_json = None if value is None else json.dumps(value)
        await hub.client.signal_entity(name, key, operation, input_json)
    except (DurableHostError, ValueError) as exc:
        return redirect(hub_url(hub, "entity", name=name, key=key, error=str(exc)))
    notice = f"Signalled {operation}; the state shows it once the entity has run it."
    return redirect(hub_url(hub, "entity", name=name, key=key, notice=notice))


async def functions(request: web.Request) -> web.Response:
    hub = hub_of(request)
    if hub.functions is None:
        raise web.HTTPNotFound(text="Functions are listed only when the host serves the app.")
    counts = await count_by_name(hub.client)
    index = hub.functions
    kinds = [
        ("Orchestrators", "orchestrationTrigger", sorted(index.orchestrators)),
        ("Activities", "activityTrigger", sorted(index.activities)),
        ("Entities", "entityTrigger", sorted(index.entities)),
        ("HTTP", "httpTrigger", sorted(fn.name for fn in index.http)),
    ]
    return render(
        request,
        "functions.html",
        hub=hub,
        page_title="Functions",
        kinds=kinds,
        counts={name: counts.get(name.lower(), Counter()) for name in index.orchestrators},
        shown_statuses=[
            OrchestrationStatus.Running,
            OrchestrationStatus.Completed,
            OrchestrationStatus.Failed,
            OrchestrationStatus.Terminated,
        ],
        instances_url=lambda name: hub_url(hub, name=name),
        entities_url=lambda name: hub_url(hub, "entities", name=name),
    )
