"""The aiohttp application: Durable HTTP API routes first, then the app's HTTP triggers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from durable_host.http.binding import RPC_BASE_PATH, WEBHOOK_PATH
from durable_host.http.durable_api import DurableApi
from durable_host.http.keys import AccessKeys

__all__ = ["create_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _unauthorized() -> web.Response:
    return web.Response(status=401)


def _webhook(api: DurableApi, keys: AccessKeys) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if not keys.allows(request, auth_level="system"):
            return _unauthorized()
        return await api.handle(request)

    return handler


def _rpc(api: DurableApi, keys: AccessKeys) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if not keys.allows_rpc(request):
            return _unauthorized()
        return await api.handle(request)

    return handler


def create_app(
    *,
    durable_api: DurableApi | None = None,
    triggers: Handler | None = None,
    keys: AccessKeys | None = None,
    client_max_size: int = 100 * 1024 * 1024,
) -> web.Application:
    """Build the application; `triggers` handles every path the Durable API does not own."""
    keys = keys or AccessKeys()
    app = web.Application(client_max_size=client_max_size)
    if durable_api is not None:
        webhook = WEBHOOK_PATH
        rpc = RPC_BASE_PATH.rstrip("/")
        handlers = ((webhook, _webhook(durable_api, keys)), (rpc, _rpc(durable_api, keys)))
        for base, handler in handlers:
            app.router.add_route("*", base, handler)
            app.router.add_route("*", base + "/{tail:.*}", handler)
    if triggers is not None:
        app.router.add_route("*", "/{path:.*}", triggers)
    return app
