"""`context.call_http`: the extension's built-in HTTP activity (`BuiltIn::HttpActivity`).

The orchestrator's CallHttp action becomes a TaskScheduled of this activity whose input is
`[DurableHttpRequest]` (camelCase JSON, as the extension stores it); its result is the
`DurableHttpResponse` JSON (`statusCode`, `headers`, `content`), which the SDK hands to the
orchestrator as a dict. Header values are a string, or a list when a header repeats.

The asynchronous pattern (a `202 Accepted` with `Location`) is followed here, inside the
activity, not with durable timers in the orchestration as the extension does: the Python
SDK gives a call_http exactly one task id and no polling logic of its own, so the extra
timer and poll tasks the extension adds would shift every later task id of the
orchestration. docs/compatibility.md has the details.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from durable_host.engine.dispatch.activities import ActivityInterrupted
from durable_host.engine.dispatch.executors import ActivityResult
from durable_host.engine.replay.actions import HTTP_ACTIVITY_NAME

log = logging.getLogger("durable_host.http_activity")

__all__ = ["HTTP_ACTIVITY_NAME", "HttpActivity"]
DEFAULT_ASYNC_SLEEP_SECONDS = 30.0  # httpSettings.defaultAsyncRequestSleepTimeMilliseconds
_CLIENT_TIMEOUT_SECONDS = 240.0  # the extension's DurableHttpClientFactory HttpClient.Timeout

# .NET keeps these on HttpContent, not on HttpResponseMessage.Headers, and the extension
# copies only the latter into DurableHttpResponse.headers.
_CONTENT_HEADERS = frozenset(
    {
        "allow",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "expires",
        "last-modified",
    }
)
_HTTP_REQUEST_ERROR = "HttpRequestException"


class HttpActivityError(Exception):
    """The request could not be made as asked; the activity fails with this message."""

    def __init__(self, message: str, error_type: str = _HTTP_REQUEST_ERROR) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class DurableHttpRequest:
    method: str
    uri: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    content: str | None = None
    token_source: Mapping[str, Any] | None = None
    asynchronous_pattern_enabled: bool = True

    @classmethod
    def from_json(cls, data: Any) -> DurableHttpRequest:
        if not isinstance(data, dict) or not data.get("uri"):
            raise HttpActivityError(
                f"The CallHttp request has no 'uri': {json.dumps(data)[:200]}", "ArgumentException"
            )
        content = data.get("content")
        return cls(
            method=str(data.get("method") or "GET").upper(),
            uri=str(data["uri"]),
            headers=_header_lists(data.get("headers")),
            content=None if content is None else str(content),
            token_source=data.get("tokenSource"),
            # The extension's DurableHttpRequest defaults to true; SDK 1.7 never sends it.
            asynchronous_pattern_enabled=data.get("asynchronousPatternEnabled") is not False,
        )

    def poll(self, location: str) -> DurableHttpRequest:
        """The extension's follow-up request: GET Location, same headers minus the function key."""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "x-functions-key"}
        return DurableHttpRequest(
            method="GET",
            uri=location,
            headers=headers,
            token_source=self.token_source,
            asynchronous_pattern_enabled=self.asynchronous_pattern_enabled,
        )


@dataclass(frozen=True)
class DurableHttpResponse:
    status_code: int
    headers: dict[str, list[str]]
    content: str

    def to_json(self) -> str:
        headers = {k: v[0] if len(v) == 1 else v for k, v in self.headers.items()}
        body = {"statusCode": self.status_code, "headers": headers, "content": self.content}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def header(self, name: str) -> str | None:
        for key, values in self.headers.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return None


class HttpActivity:
    """Runs `BuiltIn::HttpActivity` work items with one shared client session."""

    def __init__(
        self,
        *,
        default_async_sleep: float = DEFAULT_ASYNC_SLEEP_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.default_async_sleep = default_async_sleep
        self._sleep = sleep  # the wait between two polls of a 202, cut short by `interrupt`
        self._session: aiohttp.ClientSession | None = None
        self._closing = asyncio.Event()

    def interrupt(self) -> None:
        """Calls waiting to poll stop (their work items go back to the queue); a request in
        flight still finishes."""
        self._closing.set()

    async def close(self) -> None:
        self._closing.set()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, raw_input: str | None) -> ActivityResult:
        try:
            request = DurableHttpRequest.from_json(json.loads(raw_input or "null"))
            response = await self._send(request)
            while response.status_code == 202 and request.asynchronous_pattern_enabled:
                location = response.header("Location")
                if not location:
                    break
                await self._wait(_retry_after(response, self.default_async_sleep))
                request = request.poll(location)
                response = await self._send(request)
        except HttpActivityError as exc:
            return ActivityResult(error_message=str(exc), error_type=exc.error_type)
        except ValueError as exc:
            return ActivityResult(
                error_message=f"The CallHttp request is not valid JSON: {exc}",
                error_type="ArgumentException",
            )
        return ActivityResult(result_json=response.to_json())

    async def _wait(self, seconds: float) -> None:
        closing = asyncio.ensure_future(self._closing.wait())
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait((closing, sleeping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            sleeping.cancel()
        if self._closing.is_set():
            raise ActivityInterrupted("the host is stopping while a call_http polls")
        sleeping.result()  # a failed sleep fails the call

    async def _send(self, request: DurableHttpRequest) -> DurableHttpResponse:
        if request.token_source is not None:
            kind = request.token_source.get("kind", "a token source")
            raise HttpActivityError(
                f"call_http with token_source ({kind}, resource "
                f"{request.token_source.get('resource')!r}) needs Azure managed identity, which "
                "durable_host does not have locally. Get a token yourself (e.g. with "
                "azure-identity in an activity) and pass it in an 'Authorization: Bearer ...' "
                "header instead.",
                "NotSupportedException",
            )
        headers, content_type = _request_headers(request)
        data = None
        if request.content is not None:
            headers.append(("Content-Type", content_type or "text/plain"))
            data = request.content.encode("utf-8")
        if self._closing.is_set():
            raise ActivityInterrupted("the host is stopping")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=_CLIENT_TIMEOUT_SECONDS)
            )
        try:
            async with self._session.request(
                request.method, request.uri, headers=headers, data=data, allow_redirects=True
            ) as resp:
                text = await resp.text(errors="replace")
                response_headers: dict[str, list[str]] = {}
                for key in resp.headers:
                    if key.lower() not in _CONTENT_HEADERS and key not in response_headers:
                        response_headers[key] = resp.headers.getall(key)
                return DurableHttpResponse(resp.status, response_headers, text)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            if self._closing.is_set():
                raise ActivityInterrupted("the host is stopping") from exc
            raise HttpActivityError(
                f"{request.method} {request.uri} failed: {type(exc).__name__}: {exc}"
            ) from exc


def _header_lists(raw: Any) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        return headers
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        headers[str(key)] = [str(v) for v in values if v is not None]
    return headers


def _request_headers(request: DurableHttpRequest) -> tuple[list[tuple[str, str]], str | None]:
    """The headers to send, and the Content-Type (kept for the content, as .NET does)."""
    headers: list[tuple[str, str]] = []
    content_type: str | None = None
    for key, values in request.headers.items():
        if key.lower() == "content-type":
            for value in values:
                if "multipart" in value:
                    raise HttpActivityError(
                        "Multipart content is not supported with CallHttpAsync.",
                        "FunctionFailedException",
                    )
                content_type = value
        else:
            headers.extend((key, value) for value in values)
    return headers, content_type


def _retry_after(response: DurableHttpResponse, default: float) -> float:
    raw = response.header("Retry-After")
    if raw is None:
        return default
    try:
        return max(0.0, float(int(raw.strip())))
    except ValueError:
        # The extension parses Retry-After as whole seconds only (int.Parse).
        raise HttpActivityError(
            f"The Retry-After header of the 202 from {response.header('Location')} is "
            f"{raw!r}; call_http polling needs a whole number of seconds.",
            "FormatException",
        ) from None
