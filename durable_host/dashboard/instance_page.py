"""One instance: its payloads, history table and timeline (both paged), and its actions.

Paging keeps a 10,000-event history light: a page reads only its slice of the History
table (by RowKey range) and shows those events, as rows and as timeline bars.
"""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from durable_host.dashboard.history import history_rows, timeline
from durable_host.dashboard.hubs import DashboardHub
from durable_host.dashboard.pages import (
    FormError,
    action,
    compact_json,
    hub_of,
    hub_url,
    redirect,
)
from durable_host.dashboard.render import json_value, render
from durable_host.engine.client.api import ManagementApi
from durable_host.errors import DurableHostError
from durable_host.taskhub.events import (
    ExecutionStarted,
    HistoryEvent,
    SubOrchestrationInstanceCreated,
)

__all__ = ["instance", "instance_action", "instance_value"]

# One page of a long history: its events in the table, and their bars on the timeline.
EVENTS_PER_PAGE = 200
_FIELDS = ("input", "output", "custom_status")
_ACTIONS = ("raise-event", "terminate", "suspend", "resume", "rewind", "restart", "purge")
_DONE = {
    "raise-event": "Event raised.",
    "terminate": "Termination requested.",
    "suspend": "Suspension requested.",
    "resume": "Resumption requested.",
    "rewind": "Rewind requested.",
}


def _page_number(text: str | None) -> int:
    try:
        return max(int(text or "1"), 1)
    except ValueError:
        return 1


async def _parent_id(
    client: ManagementApi, instance_id: str, head: list[HistoryEvent] | None
) -> str | None:
    """The parent orchestration, from ExecutionStarted (among the first two events)."""
    if head is None:
        found = await client.get_history_slice(instance_id, 0, 2)
        head = found.events if found else []
    events = head
    started = next((e for e in events[:2] if isinstance(e, ExecutionStarted)), None)
    parent = started.parent_instance if started else None
    return parent.orchestration_instance.instance_id if parent else None


async def instance(request: web.Request) -> web.Response:
    hub = hub_of(request)
    instance_id = request.query.get("id", "")
    status = await hub.client.get_status(instance_id) if instance_id else None
    page = _page_number(request.query.get("page"))
    first = (page - 1) * EVENTS_PER_PAGE
    part = (
        await hub.client.get_history_slice(instance_id, first, EVENTS_PER_PAGE) if status else None
    )
    if status is None or part is None:
        return render(
            request,
            "message.html",
            http_status=404,
            hub=hub,
            title="Instance not found",
            message=f"No instance with id '{instance_id}' in task hub {hub.name}.",
        )
    pages = max(-(-part.total // EVENTS_PER_PAGE), 1)
    events = part.events
    reaches_end = first + len(events) >= part.total
    chart = timeline(events, datetime.now(timezone.utc), reaches_end=reaches_end)
    return render(
        request,
        "instance.html",
        hub=hub,
        page_title=instance_id,
        status=status,
        values={field: json_value(getattr(status, field)) for field in _FIELDS},
        event_count=part.total,
        rows=history_rows(events, first),
        page=page,
        pages=pages,
        first_event=first,
        chart=chart,
        parent_id=await _parent_id(hub.client, instance_id, events if first == 0 else None),
        children=[e for e in events if isinstance(e, SubOrchestrationInstanceCreated)],
        page_url=lambda number: hub_url(hub, "instance", id=instance_id, page=str(number)),
        instance_url=lambda other: hub_url(hub, "instance", id=other),
        value_url=lambda field: hub_url(hub, "instance/value", id=instance_id, field=field),
    )


async def instance_value(request: web.Request) -> web.Response:
    """One payload in full, as a download."""
    hub = hub_of(request)
    field = request.query.get("field", "")
    status = await hub.client.get_status(request.query.get("id", ""))
    if status is None or field not in _FIELDS:
        raise web.HTTPNotFound(text="No such instance or field.")
    return web.Response(
        text=getattr(status, field) or "null",
        content_type="application/json",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{field}.json"'},
    )


@action
async def instance_action(
    request: web.Request, hub: DashboardHub, form: dict[str, str]
) -> web.Response:
    instance_id = form.get("id", "")
    requested = form.get("action", "")
    if requested not in _ACTIONS:
        return redirect(hub_url(hub, "instance", id=instance_id, error="Unknown action."))
    reason = form.get("reason", "").strip() or None
    client = hub.client
    try:
        if requested == "raise-event":
            name = form.get("event_name", "").strip()
            if not name:
                raise FormError("Give the event a name.")
            await client.raise_event(instance_id, name, compact_json(form.get("data", ""), "body"))
        elif requested == "terminate":
            await client.terminate(instance_id, reason)
        elif requested == "suspend":
            await client.suspend(instance_id, reason)
        elif requested == "resume":
            await client.resume(instance_id, reason)
        elif requested == "rewind":
            await client.rewind(instance_id, reason)
        elif requested == "restart":
            new_id = await client.restart(instance_id, new_instance_id=True)
            return redirect(
                hub_url(hub, "instance", id=new_id, notice="Restarted as this instance.")
            )
        else:
            await client.purge(instance_id)
            return redirect(hub_url(hub, notice=f"Purged instance {instance_id}."))
    except DurableHostError as exc:
        return redirect(hub_url(hub, "instance", id=instance_id, error=str(exc)))
    return redirect(hub_url(hub, "instance", id=instance_id, notice=_DONE[requested]))
