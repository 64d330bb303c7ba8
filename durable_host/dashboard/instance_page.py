"""One instance: its payloads, history table and timeline (both paged), and its actions.

Paging keeps a 10,000-event history light in the browser: the page holds one slice of
the table and one slice of the timeline's bars, drawn on the whole history's time axis.
"""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from durable_host.dashboard.history import history_rows, timeline
from durable_host.dashboard.pages import (
    FormError,
    compact_json,
    hub_of,
    hub_url,
    read_form,
    redirect,
    require_actions,
)
from durable_host.dashboard.render import json_value, render
from durable_host.errors import DurableHostError
from durable_host.taskhub.events import ExecutionStarted, SubOrchestrationInstanceCreated

__all__ = ["instance", "instance_action", "instance_value"]

ROWS_PER_PAGE = 100
BARS_PER_PAGE = 100
_FIELDS = ("input", "output", "custom_status")
_ACTIONS = ("raise-event", "terminate", "suspend", "resume", "rewind", "restart", "purge")
_DONE = {
    "raise-event": "Event raised.",
    "terminate": "Termination requested.",
    "suspend": "Suspension requested.",
    "resume": "Resumption requested.",
    "rewind": "Rewind requested.",
}


def _page(text: str | None, pages: int) -> int:
    try:
        number = int(text or "1")
    except ValueError:
        number = 1
    return min(max(number, 1), max(pages, 1))


def _pages(count: int, per_page: int) -> int:
    return max((count + per_page - 1) // per_page, 1)


async def instance(request: web.Request) -> web.Response:
    hub = hub_of(request)
    instance_id = request.query.get("id", "")
    status = await hub.client.get_status(instance_id, show_history=True) if instance_id else None
    if status is None:
        return render(
            request,
            "message.html",
            http_status=404,
            hub=hub,
            title="Instance not found",
            message=f"No instance with id '{instance_id}' in task hub {hub.name}.",
        )
    events = status.history or []
    row_pages = _pages(len(events), ROWS_PER_PAGE)
    row_page = _page(request.query.get("hpage"), row_pages)
    chart = timeline(events, datetime.now(timezone.utc))
    bars = chart.bars if chart else []
    bar_pages = _pages(len(bars), BARS_PER_PAGE)
    bar_page = _page(request.query.get("tpage"), bar_pages)
    started = next((e for e in events if isinstance(e, ExecutionStarted)), None)
    parent = started.parent_instance if started else None
    children = [e for e in events if isinstance(e, SubOrchestrationInstanceCreated)]
    return render(
        request,
        "instance.html",
        hub=hub,
        page_title=instance_id,
        status=status,
        values={field: json_value(getattr(status, field)) for field in _FIELDS},
        event_count=len(events),
        rows=history_rows(events, (row_page - 1) * ROWS_PER_PAGE, ROWS_PER_PAGE),
        row_page=row_page,
        row_pages=row_pages,
        chart=chart,
        bars=bars[(bar_page - 1) * BARS_PER_PAGE : bar_page * BARS_PER_PAGE],
        bar_count=len(bars),
        bar_page=bar_page,
        bar_pages=bar_pages,
        parent_id=parent.orchestration_instance.instance_id if parent else None,
        children=children,
        page_url=lambda **p: hub_url(hub, "instance", id=instance_id, **p),
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


async def instance_action(request: web.Request) -> web.Response:
    hub = hub_of(request)
    refused = require_actions(request, hub)
    if refused is not None:
        return refused
    form = await read_form(request)
    instance_id = form.get("id", "")
    action = form.get("action", "")
    if action not in _ACTIONS:
        return redirect(hub_url(hub, "instance", id=instance_id, error="Unknown action."))
    reason = form.get("reason", "").strip() or None
    client = hub.client
    try:
        if action == "raise-event":
            name = form.get("event_name", "").strip()
            if not name:
                raise FormError("Give the event a name.")
            await client.raise_event(instance_id, name, compact_json(form.get("data", ""), "body"))
        elif action == "terminate":
            await client.terminate(instance_id, reason)
        elif action == "suspend":
            await client.suspend(instance_id, reason)
        elif action == "resume":
            await client.resume(instance_id, reason)
        elif action == "rewind":
            await client.rewind(instance_id, reason)
        elif action == "restart":
            new_id = await client.restart(instance_id, new_instance_id=True)
            return redirect(hub_url(hub, "instance", id=new_id, notice="Restarted as this instance."))
        else:
            await client.purge(instance_id)
            return redirect(hub_url(hub, notice=f"Purged instance {instance_id}."))
    except DurableHostError as exc:
        return redirect(hub_url(hub, "instance", id=instance_id, error=str(exc)))
    return redirect(hub_url(hub, "instance", id=instance_id, notice=_DONE[action]))
