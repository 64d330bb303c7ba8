"""The dashboard's aiohttp application: its routes, static files and security.

`create_dashboard` is mounted by the host under DASHBOARD_PATH; `standalone_app` serves
it alone (`durable-host dashboard`), with `/` leading to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from durable_host.dashboard import entities_page, instance_page, instances_page
from durable_host.dashboard.hubs import DashboardHub
from durable_host.dashboard.pages import redirect
from durable_host.dashboard.render import DASHBOARD_PATH, HUBS_KEY, render
from durable_host.dashboard.security import security_middleware
from durable_host.http.allowed_hosts import AllowedHosts, allowed_hosts_middleware
from durable_host.http.function_keys import AccessKeys

__all__ = ["DASHBOARD_PATH", "create_dashboard", "standalone_app"]

_STATIC = Path(__file__).resolve().parent / "static"


def create_dashboard(hubs: Sequence[DashboardHub], keys: AccessKeys) -> web.Application:
    """The dashboard as a sub-application (mount it at DASHBOARD_PATH)."""
    app = web.Application(middlewares=[security_middleware(keys)])
    app[HUBS_KEY] = {hub.key: hub for hub in hubs}

    async def home(request: web.Request) -> web.Response:
        if len(hubs) == 1:
            return redirect(f"{DASHBOARD_PATH}/{hubs[0].key}/")
        return render(request, "hubs.html", hub=None, page_title="Task hubs")

    async def to_home(request: web.Request) -> web.Response:
        return redirect(f"{DASHBOARD_PATH}/")

    app.router.add_get("", to_home)
    app.router.add_get("/", home)
    app.router.add_static("/static", _STATIC)
    app.router.add_get("/{hub}", _slash)
    app.router.add_get("/{hub}/", instances_page.instances)
    app.router.add_post("/{hub}/bulk", instances_page.bulk)
    app.router.add_get("/{hub}/instance", instance_page.instance)
    app.router.add_get("/{hub}/instance/value", instance_page.instance_value)
    app.router.add_post("/{hub}/instance/action", instance_page.instance_action)
    app.router.add_get("/{hub}/entities", entities_page.entities)
    app.router.add_get("/{hub}/entity", entities_page.entity)
    app.router.add_post("/{hub}/entity/signal", entities_page.signal)
    app.router.add_get("/{hub}/functions", entities_page.functions)
    return app


async def _slash(request: web.Request) -> web.Response:
    return redirect(f"{DASHBOARD_PATH}/{request.match_info['hub']}/")


def mount(parent: web.Application, dashboard: web.Application) -> None:
    parent.add_subapp(DASHBOARD_PATH, dashboard)


def standalone_app(
    hubs: Sequence[DashboardHub], keys: AccessKeys, allowed_hosts: AllowedHosts | None = None
) -> web.Application:
    middlewares = [] if allowed_hosts is None else [allowed_hosts_middleware(allowed_hosts)]
    app = web.Application(middlewares=middlewares)

    async def root(request: web.Request) -> web.Response:
        return redirect(f"{DASHBOARD_PATH}/")

    app.router.add_get("/", root)
    mount(app, create_dashboard(hubs, keys))
    return app
