"""The app's HTTP triggers: route the request, build `func.HttpRequest`, send back the response."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from durable_host.errors import FunctionInvocationError
from durable_host.functions.function_index import HttpFunction
from durable_host.http.function_keys import AccessKeys
from durable_host.http.routes import MethodNotAllowed, Router

__all__ = ["HttpTriggers", "function_route", "to_aiohttp_response"]

log = logging.getLogger("durable_host.http")

Invoke = Callable[[HttpFunction, func.HttpRequest, "str | None"], Awaitable[func.HttpResponse]]
BindingFor = Callable[[HttpFunction], str]


def function_route(fn: HttpFunction, route_prefix: str) -> str:
    """The full route template of a function: prefix + its route, or its name when it has none."""
    route = (fn.route or fn.name).strip("/")
    prefix = route_prefix.strip("/")
    return f"{prefix}/{route}" if prefix else route


def _request_headers(request: web.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def to_aiohttp_response(response: func.HttpResponse) -> web.Response:
    """Status, headers and body; Content-Type comes from a header, else mimetype + charset."""
    headers: list[tuple[str, str]] = list(response.headers.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", f"{response.mimetype}; charset={response.charset}"))
    return web.Response(
        status=response.status_code, body=response.get_body(), headers=CIMultiDict(headers)
    )


class HttpTriggers:
    """aiohttp handler for every path outside the Durable HTTP API."""

    def __init__(
        self,
        functions: Sequence[HttpFunction],
        *,
        route_prefix: str,
        invoke: Invoke,
        binding_for: BindingFor,
        keys: AccessKeys | None = None,
    ) -> None:
        self._router: Router[HttpFunction] = Router()
        for fn in functions:
            self._router.add(function_route(fn, route_prefix), fn.methods or None, fn)
        self._invoke = invoke
        self._binding_for = binding_for
        self._keys = keys or AccessKeys()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        found = self._router.resolve(request.method, request.rel_url.raw_path)
        if found is None:
            return web.Response(status=404)
        if isinstance(found, MethodNotAllowed):
            return web.Response(status=405, headers={"Allow": ", ".join(found.allowed)})
        fn = found.target
        if not self._keys.allows(request, auth_level=fn.auth_level):
            return web.Response(status=401)
        http_request = func.HttpRequest(
            method=request.method.upper(),
            url=str(request.url),
            headers=_request_headers(request),
            params={key: request.query[key] for key in request.query},
            route_params=found.route_params,
            body=await request.read(),
        )
        binding = self._binding_for(fn) if fn.client_param is not None else None
        try:
            response = await self._invoke(fn, http_request, binding)
        except FunctionInvocationError as exc:
            log.error("Function '%s' failed: %s", fn.name, exc.message)
            return web.json_response(
                {"error": f"Function '{fn.name}' failed: {exc.message}"}, status=500
            )
        except Exception:
            log.exception("Function '%s' failed", fn.name)
            return web.json_response({"error": f"Function '{fn.name}' failed."}, status=500)
        return to_aiohttp_response(response)
