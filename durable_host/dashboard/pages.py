"""What every page handler shares: its hub, form reading, redirects with a message."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from durable_host.dashboard.hubs import DashboardHub
from durable_host.dashboard.render import DASHBOARD_PATH, HUBS_KEY, render
from durable_host.errors import DurableHostError

__all__ = [
    "FormError",
    "action",
    "compact_json",
    "hub_of",
    "hub_url",
    "read_form",
    "redirect",
]


class FormError(DurableHostError, ValueError):
    """A form field the user must correct; shown on the page it came from."""


def hub_of(request: web.Request) -> DashboardHub:
    hub = request.config_dict[HUBS_KEY].get(request.match_info["hub"])
    if hub is None:
        raise web.HTTPNotFound(text="No such task hub on this dashboard.")
    return hub


def hub_url(hub: DashboardHub, path: str = "", **params: str) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{DASHBOARD_PATH}/{hub.key}/{path}" + (f"?{query}" if query else "")


def redirect(location: str) -> web.Response:
    """303: the browser follows with a GET, so a reload never repeats the action."""
    return web.Response(status=303, headers={"Location": location})


ActionHandler = Callable[[web.Request, DashboardHub, dict[str, str]], Awaitable[web.Response]]


def action(handler: ActionHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A form post on a hub: refused on a read-only dashboard (standalone without
    --allow-actions), else `handler(request, hub, form fields)`."""

    async def handle(request: web.Request) -> web.Response:
        hub = hub_of(request)
        if not hub.allow_actions:
            return render(
                request,
                "message.html",
                http_status=403,
                hub=hub,
                title="Read-only dashboard",
                message="This dashboard was started without --allow-actions: "
                "it only shows the task hub.",
            )
        return await handler(request, hub, await read_form(request))

    return handle


async def read_form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def compact_json(text: str, what: str) -> str | None:
    """The JSON text of a form field, compacted; empty means no value (None)."""
    if not text.strip():
        return None
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    except ValueError as exc:
        raise FormError(f'The {what} is not valid JSON ({exc}). Quote text: "like this".') from exc
