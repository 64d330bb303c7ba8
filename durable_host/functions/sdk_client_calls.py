"""The 1.x SDK's client calls to this host's own Durable HTTP API, answered in this process.

A `DurableOrchestrationClient` (an HTTP starter's `client.start_new`, `get_status`,
`raise_event`, ...) calls the host back over loopback HTTP through the SDK's aiohttp session
(`models/utils/http_utils.py`): the request is built and written by aiohttp's client, parsed
by the host's server, and the answer written and parsed back, all in this one process and
on this one event loop. The SDK stays as it is on disk; `install()` swaps, in memory, the
three names its client module looks up when a client is made (`post_async_request`,
`get_async_request`, `delete_async_request`) for functions that, for a URL under an origin a
host here serves (`serve_locally`) and a call on that host's event loop, hand the request to
that host's application in process, and give the SDK what its own function would give for
the same answer: `[status, JSON body]`, the body decoded as aiohttp's
`ClientResponse.json(content_type=None)` does (None for an empty body; `""` for an empty
GET answer). Every other call goes to the SDK's own function, unchanged.

`DURABLE_HOST_SDK_FAST_PATHS=0` leaves the names as they are (sdk_fast_paths.SWITCH).
"""

from __future__ import annotations

import asyncio
import codecs
import importlib
import inspect
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.helpers import parse_mimetype

__all__ = ["LocalAnswer", "LocalCall", "LocalRequest", "install", "serve_locally"]

_CLIENT_MODULE = "azure.durable_functions.models.DurableOrchestrationClient"
_NAMES = ("post_async_request", "get_async_request", "delete_async_request")


@dataclass(frozen=True)
class LocalRequest:
    """What the SDK's aiohttp session would send: method, the URL, the body (JSON bytes, or
    None for no body) and the headers the SDK adds (trace context, invocation id)."""

    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]


@dataclass(frozen=True)
class LocalAnswer:
    """The host's answer: status, its Content-Type header ("" without one) and body bytes."""

    status: int
    content_type: str
    body: bytes


LocalCall = Callable[[LocalRequest], Awaitable[LocalAnswer]]

# origin ("http://127.0.0.1:7071") -> (the loop its host serves on, the call)
_served: dict[str, tuple[asyncio.AbstractEventLoop, LocalCall]] = {}
_originals: dict[str, Callable[..., Awaitable[list[Any]]]] = {}
_lock = threading.Lock()


def serve_locally(
    origin: str, loop: asyncio.AbstractEventLoop, call: LocalCall
) -> Callable[[], None]:
    """Answer the SDK's calls under `origin` made on `loop` with `call`; returns the undo."""
    entry = (loop, call)
    _served[origin] = entry

    def undo() -> None:
        if _served.get(origin) is entry:
            del _served[origin]

    return undo


def _local(url: str) -> LocalCall | None:
    """The call serving `url` on the running loop, if a host here serves its origin."""
    if not _served:
        return None
    slash = url.find("/", url.find("//") + 2)
    served = _served.get(url[:slash] if slash > 0 else url)
    if served is None:
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return served[1] if served[0] is running else None


def _sdk_headers(
    trace_parent: str | None, trace_state: str | None, function_invocation_id: str | None
) -> dict[str, str]:
    """The headers `http_utils` adds, under its names and conditions."""
    headers: dict[str, str] = {}
    if trace_parent:
        headers["traceparent"] = trace_parent
    if trace_state:
        headers["tracestate"] = trace_state
    if function_invocation_id:
        headers["X-Azure-Functions-InvocationId"] = function_invocation_id
    return headers


def _json_of(answer: LocalAnswer) -> Any:
    """aiohttp's `ClientResponse.json(content_type=None)` of the answer: None when the body
    is only whitespace, else the text decoded by the Content-Type's charset (UTF-8 without
    one, or with one Python does not know) and parsed by `json.loads`."""
    stripped = answer.body.strip()
    if not stripped:
        return None
    return json.loads(stripped.decode(_charset(answer.content_type)))


def _charset(content_type: str) -> str:
    # aiohttp's own reading of the header (ClientResponse.get_encoding), UTF-8 otherwise.
    charset = parse_mimetype(content_type.lower()).parameters.get("charset")
    if charset:
        try:
            return codecs.lookup(charset).name
        except (LookupError, ValueError):
            pass
    return "utf-8"


async def post_async_request(
    url: str,
    data: Any = None,
    trace_parent: str | None = None,
    trace_state: str | None = None,
    function_invocation_id: str | None = None,
) -> list[Any]:
    call = _local(url)
    if call is None:
        return await _originals["post_async_request"](
            url, data, trace_parent, trace_state, function_invocation_id
        )
    # aiohttp's `json=` body: json.dumps of the value, UTF-8 (none when the value is None).
    body = None if data is None else json.dumps(data).encode("utf-8")
    headers = _sdk_headers(trace_parent, trace_state, function_invocation_id)
    answer = await call(LocalRequest("POST", url, body, headers))
    return [answer.status, _json_of(answer)]


async def get_async_request(url: str, function_invocation_id: str | None = None) -> list[Any]:
    call = _local(url)
    if call is None:
        return await _originals["get_async_request"](url, function_invocation_id)
    headers = _sdk_headers(None, None, function_invocation_id)
    answer = await call(LocalRequest("GET", url, None, headers))
    data = _json_of(answer)
    return [answer.status, "" if data is None else data]


async def delete_async_request(url: str, function_invocation_id: str | None = None) -> list[Any]:
    call = _local(url)
    if call is None:
        return await _originals["delete_async_request"](url, function_invocation_id)
    headers = _sdk_headers(None, None, function_invocation_id)
    answer = await call(LocalRequest("DELETE", url, None, headers))
    return [answer.status, _json_of(answer)]


_OURS: dict[str, Callable[..., Awaitable[list[Any]]]] = {
    "post_async_request": post_async_request,
    "get_async_request": get_async_request,
    "delete_async_request": delete_async_request,
}


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def install() -> bool:
    """Swap the client module's three names (once per process); False when switched off."""
    from durable_host.functions.sdk_fast_paths import enabled  # brings dateutil: 1.x only

    if not enabled():
        return False
    with _lock:
        if _originals:
            return True
        module = importlib.import_module(_CLIENT_MODULE)
        originals: dict[str, Any] = {name: getattr(module, name, None) for name in _NAMES}
        http_utils = importlib.import_module("azure.durable_functions.models.utils.http_utils")
        # Only over the SDK's own functions with the signatures written for here: another
        # release keeps its own calls.
        for name in _NAMES:
            original = originals[name]
            if not callable(original) or original is not getattr(http_utils, name, None):
                return False
            if _parameters(original) != _parameters(_OURS[name]):
                return False
        for name in _NAMES:
            _originals[name] = originals[name]
            setattr(module, name, _OURS[name])
    return True
