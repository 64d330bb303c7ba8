"""The app's own durable client calls answered by the host's aiohttp application in process.

The 1.x SDK's `DurableOrchestrationClient` calls the host back over loopback HTTP
(functions/sdk_client_calls.py swaps its three request functions). Over the socket the
request is written by aiohttp's client, parsed by aiohttp's server, handled, and the
answer written and parsed back, all on this event loop. `InProcessApi.call` makes the
`web.Request` aiohttp's server would make of the bytes aiohttp's client sends for that
call (the same request target, headers, body and peer address) and hands it to the same
application: the router, every middleware (allowed hosts, the body limit, keys, tracing)
and the Durable HTTP API's handlers run as they do for a request off the socket, in a task
of its own, in a copy of the context the server's requests run in, not cancelled with its
caller (aiohttp's server lets a handler finish when its client goes away), and its answer
is the response object the server would have written: status, Content-Type and body.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.client_reqrep import ClientRequest
from aiohttp.http import SERVER_SOFTWARE, HttpVersion11, RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from durable_host.functions.sdk_client_calls import LocalAnswer, LocalRequest

__all__ = ["InProcessApi"]

log = logging.getLogger("aiohttp.server")  # where aiohttp's server logs a handler's error

# The SDK's session (http_utils) gives up on a call after 240 s in all (ClientTimeout total).
SDK_TOTAL_TIMEOUT = 240.0
# aiohttp's answer to a handler that raised (RequestHandler.handle_error without debug).
_ERROR_BODY = b"500 Internal Server Error\n\nServer got itself in trouble"
_TIMEOUT_BODY = b"504 Gateway Timeout"
_NO_BODY_METHODS = frozenset(ClientRequest.GET_METHODS)


class _Peer:
    """What aiohttp's `Request` and body reader ask of the connection they came on."""

    ssl_context = None
    transport = None
    connected = True
    _reading_paused = False

    def __init__(self, host: str, port: int) -> None:
        # A loopback client's address is the address it connected to (one machine).
        self.peername = (host, 0)
        self.sockname = (host, port)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class _Writer:
    """`request.writer`: a handler here never writes through it (no `Expect`, no streaming)."""

    output_size = 0

    async def drain(self) -> None:
        pass


class InProcessApi:
    """Requests to `origin` (the host's loopback origin) answered by `app` in this process."""

    def __init__(self, app: web.Application, origin: str) -> None:
        self._app = app
        self.origin = origin
        url = URL(origin)
        assert url.host is not None and url.port is not None, origin
        self._host_header = url.host_port_subcomponent or ""
        self._peer = _Peer(url.host, url.port)
        self._writer = _Writer()
        # The context aiohttp's server runs its handlers in: the one it was started in.
        self._context = contextvars.copy_context()
        self._tasks: set[asyncio.Task[LocalAnswer]] = set()

    async def call(self, request: LocalRequest) -> LocalAnswer:
        loop = asyncio.get_running_loop()
        task = self._context.copy().run(loop.create_task, self._answer(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.wait_for(asyncio.shield(task), SDK_TOTAL_TIMEOUT)

    async def close(self, timeout: float) -> None:
        """Let the calls under way finish (at most `timeout` seconds), then cancel them."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:
                task.cancel()

    async def _answer(self, request: LocalRequest) -> LocalAnswer:
        web_request = self._web_request(request)
        try:
            response = await self._app._handle(web_request)
        except web.HTTPException as exc:
            response = exc
        except asyncio.TimeoutError:
            return LocalAnswer(504, "text/plain; charset=utf-8", _TIMEOUT_BODY)
        except Exception:
            log.exception("Error handling request from %s", web_request.remote)
            return LocalAnswer(500, "text/plain; charset=utf-8", _ERROR_BODY)
        if not isinstance(response, web.Response):
            raise TypeError(f"{request.method} {request.url}: not a whole response")
        body = response.body
        if body is not None and not isinstance(body, bytes | bytearray):
            raise TypeError(f"{request.method} {request.url}: a streamed body")
        content_type = response.headers.get(hdrs.CONTENT_TYPE, "")
        return LocalAnswer(response.status, content_type, bytes(body or b""))

    def _web_request(self, request: LocalRequest) -> web.Request:
        """The `web.Request` aiohttp's server makes of what aiohttp's client sends."""
        # The client sends URL(url)'s raw path and query; the server splits the target so.
        target = URL(request.url).raw_path_qs
        path, _, query = target.partition("?")
        url = URL.build(path=path, query_string=query, encoded=True)
        headers = CIMultiDict[str]({hdrs.HOST: self._host_header})
        headers.update(request.headers)
        headers.update(ClientRequest.DEFAULT_HEADERS)
        headers[hdrs.USER_AGENT] = SERVER_SOFTWARE
        payload: Any = EMPTY_PAYLOAD
        if request.body is not None:
            headers[hdrs.CONTENT_TYPE] = "application/json"
            headers[hdrs.CONTENT_LENGTH] = str(len(request.body))
            payload = StreamReader(self._peer, 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
            payload.feed_data(request.body)
            payload.feed_eof()
        elif request.method not in _NO_BODY_METHODS:
            headers[hdrs.CONTENT_LENGTH] = "0"
        if request.method in ClientRequest.POST_METHODS and hdrs.CONTENT_TYPE not in headers:
            headers[hdrs.CONTENT_TYPE] = "application/octet-stream"
        raw = tuple((k.encode(), v.encode()) for k, v in headers.items())
        message = RawRequestMessage(
            request.method, target, HttpVersion11, CIMultiDictProxy(headers), raw,
            False, None, False, False, url,
        )  # fmt: skip
        task = asyncio.current_task()
        assert task is not None
        return self._app._make_request(message, payload, self._peer, self._writer, task)  # type: ignore[arg-type]
