"""The aiohttp application: Durable HTTP API routes first, then the app's HTTP triggers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from durable_host.http.allowed_hosts import AllowedHosts, allowed_hosts_middleware
from durable_host.http.binding import RPC_BASE_PATH, WEBHOOK_PATH
from durable_host.http.durable_api import DurableApi
from durable_host.http.function_keys import AccessKeys

__all__ = ["MAX_REQUEST_BYTES", "create_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The Functions host's default request size limit (maxRequestBodySize, 100 MB).
MAX_REQUEST_BYTES = 100 * 1024 * 1024


def _too_large(limit: int) -> web.Response:
    return web.json_response(
        {
            "Message": f"The request body is larger than the host's limit of {limit} bytes. "
            "Send large inputs as a reference (a blob URL or a storage key) instead.",
        },
        status=413,
    )


def _body_limit(limit: int) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # A declared length over the limit is refused before a byte of the body is read;
        # a chunked body is refused when aiohttp's reader (client_max_size) passes the limit.
        if request.content_length is not None and request.content_length > limit:
            return _too_large(limit)
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return _too_large(limit)

    return middleware


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
    client_max_size: int = MAX_REQUEST_BYTES,
    subapps: Mapping[str, web.Application] | None = None,
    allowed_hosts: AllowedHosts | None = None,
) -> web.Application:
    """Build the application; `triggers` handles every path the Durable API does not own.

    `subapps` (prefix -> application) come first, so one may live under the webhook path.
    Bodies over `client_max_size` bytes get 413 with a JSON message; with `allowed_hosts`,
    a request naming another host gets 403 before anything else (allowed_hosts.py).
    """
    keys = keys or AccessKeys()
    middlewares = [] if allowed_hosts is None else [allowed_hosts_middleware(allowed_hosts)]
    middlewares.append(_body_limit(client_max_size))
    app = web.Application(client_max_size=client_max_size, middlewares=middlewares)
    for prefix, subapp in (subapps or {}).items():
        app.add_subapp(prefix, subapp)
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
