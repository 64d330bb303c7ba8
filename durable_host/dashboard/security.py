"""The Durable HTTP API's key rule for every page and action, plus what a browser needs.

Off loopback the host key is required, as `?code=` or `x-functions-key` like the API.
A browser cannot add the header to every link, so a valid `?code=` also sets a cookie
(HttpOnly, SameSite=Strict, scoped to the dashboard's path) that later requests present.
Form posts must come from the dashboard's own origin: a page elsewhere cannot make the
user's browser terminate or purge instances (loopback has no key to stop it).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from durable_host.dashboard.render import DASHBOARD_PATH
from durable_host.http.function_keys import AccessKeys

__all__ = ["KEY_COOKIE", "security_middleware"]

KEY_COOKIE = "durable_dashboard_key"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _cookie_allows(request: web.Request, key: str) -> bool:
    given = request.cookies.get(KEY_COOKIE)
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


def _same_origin(request: web.Request) -> bool:
    """A post's Origin (or, without one, Referer) names this host; browsers always send one."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    return urlsplit(source).netloc.lower() == request.host.lower()


def _refused(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def security_middleware(keys: AccessKeys) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if keys.key is not None and not (
            keys.allows(request, auth_level="system") or _cookie_allows(request, keys.key)
        ):
            return _refused(
                401,
                "This dashboard needs the host key: open it with ?code=<host key> "
                "(the key is printed when the host starts).",
            )
        if request.method not in _SAFE_METHODS and not _same_origin(request):
            return _refused(403, "Actions are only accepted from the dashboard's own pages.")
        response = await handler(request)
        if keys.key is not None and request.query.get("code") == keys.key:
            response.set_cookie(
                KEY_COOKIE, keys.key, path=DASHBOARD_PATH, httponly=True, samesite="Strict"
            )
        return response

    return middleware
