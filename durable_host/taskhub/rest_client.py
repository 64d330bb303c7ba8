"""A thin REST client for the storage requests on a host's hot path (aiohttp, no SDK pipeline).

The Azure SDKs spend 0.7-1.7 ms of client CPU on each request (policies, request models,
XML/JSON models, signing helpers); a host makes several per activity. This client does only
what those requests need: SharedKey signing (or an account SAS appended to the query), one
shared aiohttp session, timeouts, and retries with backoff. Everything else, and every
connection without a key or SAS (identity-based), keeps the SDK path.

Failures are raised as the SDK's own exception types (`HttpResponseError` with `status_code`
and `error_code`, `ServiceRequestError` for an unreachable endpoint), so `storage_errors()`
maps both paths to the same StorageError.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from enum import Enum
from urllib.parse import quote, unquote
from xml.etree import ElementTree

import aiohttp
from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from yarl import URL

from durable_host.taskhub import connections
from durable_host.taskhub.http1 import Http1Pool

log = logging.getLogger("durable_host.rest_client")

__all__ = [
    "RestClient",
    "RestResponse",
    "RestResponseError",
    "Service",
    "StorageAccount",
    "quote_path",
]

# The versions the pinned SDKs send, so both paths ask the service for the same behaviour.
_QUEUE_BLOB_VERSION = "2026-10-06"
TABLE_VERSION = "2019-02-02"
# Retried answers, as azure-core's retry policy: POST only on 500/503/504.
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_POST_RETRY_STATUS = frozenset({500, 503, 504})
# A request that may have reached the service is repeated only when repeating is harmless.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
HTTP1_SWITCH = "DURABLE_HOST_HTTP1"


class Service(Enum):
    BLOB = "blob"
    QUEUE = "queue"
    TABLE = "table"


def quote_path(text: str) -> str:
    """Percent-encode a path segment (a blob name keeps its slashes)."""
    return quote(text, safe="/~")


@dataclass(frozen=True)
class StorageAccount:
    """What a connection string says about the account: name, key or SAS, endpoints."""

    name: str
    key: bytes | None = field(repr=False)  # secrets never reach a log line
    sas: str | None = field(repr=False)
    endpoints: Mapping[Service, str]

    @classmethod
    def parse(cls, connection_string: str) -> StorageAccount | None:
        """The account, or None when the string has neither an account key nor a SAS."""
        pairs = [part.split("=", 1) for part in connection_string.split(";") if "=" in part]
        values = {k.strip().lower(): v.strip() for k, v in pairs}
        if values.get("usedevelopmentstorage", "").lower() == "true":
            return None  # the shorthand names no key here: the SDK path serves it
        key, sas = values.get("accountkey"), values.get("sharedaccesssignature")
        name = values.get("accountname", "")
        if not key and not sas:
            return None
        endpoints: dict[Service, str] = {}
        protocol = values.get("defaultendpointsprotocol", "https")
        suffix = values.get("endpointsuffix", "core.windows.net")
        for service in Service:
            explicit = values.get(f"{service.value}endpoint")
            if explicit:
                endpoints[service] = explicit.rstrip("/")
            elif name:
                endpoints[service] = f"{protocol}://{name}.{service.value}.{suffix}"
        # A key signs with the account name; a SAS needs only the endpoints.
        if (key and not name) or len(endpoints) != len(Service):
            return None
        try:
            secret = base64.b64decode(key, validate=True) if key else None
        except binascii.Error:
            return None  # not a key this client can sign with: the SDK path reports it
        return cls(name, secret, sas.lstrip("?") if sas else None, endpoints)


@dataclass(frozen=True)
class RestResponse:
    status: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's multidict)
    body: bytes


class RestResponseError(HttpResponseError):
    """A refused request, shaped like the SDK's error: `status_code`, `error_code`, `message`."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message=message)
        self.status_code = status
        self.error_code = code
        self.reason = message


def _error_detail(response: RestResponse) -> tuple[str | None, str]:
    """The service's error code and the first line of its message (XML or OData JSON body)."""
    code = response.headers.get("x-ms-error-code")
    message = ""
    text = response.body.decode("utf-8", "replace").strip()
    if text.startswith("<"):
        try:
            root = ElementTree.fromstring(text)
            code = code or root.findtext("Code")
            message = root.findtext("Message") or ""
        except ElementTree.ParseError:
            pass
    elif text.startswith("{"):
        try:
            error = json.loads(text)["odata.error"]
            code = code or error.get("code")
            message = str(error.get("message", {}).get("value", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    first = (message or text or f"HTTP {response.status}").splitlines()[0]
    return code, first


class RestClient:
    """One aiohttp session for blob, queue and table requests of one account."""

    def __init__(
        self,
        account: StorageAccount,
        *,
        retry_total: int = 3,
        trust_env: bool = False,
        connect_timeout: float = 20.0,
        read_timeout: float = 60.0,
        backoff: float = 0.5,
    ) -> None:
        self.account = account
        self._retry_total = retry_total
        self._backoff = backoff
        self._trust_env = trust_env
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None
        # Plain-HTTP endpoints without proxy settings (loopback: Azurite) take the lean client
        # (http1.py); DURABLE_HOST_HTTP1=0 keeps aiohttp for them too.
        self._lean = not trust_env and os.environ.get(HTTP1_SWITCH, "1") != "0"
        self._pool: Http1Pool | None = None
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._bases = dict(account.endpoints)
        self._date = ("", 0)

    def _client_session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop that will use it.
        if self._session is None or self._session.closed:
            # Idle connections are dropped before Azurite's 5 s keep-alive closes them, so no
            # request is written onto a connection the server is closing.
            connector = aiohttp.TCPConnector(
                limit=100, keepalive_timeout=connections.POOL_IDLE_SECONDS
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                trust_env=self._trust_env,
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _now(self) -> str:
        # One RFC 1123 date per second: formatting it is a visible share of a request's CPU.
        second = int(time.time())
        if self._date[1] != second:
            self._date = (formatdate(second, usegmt=True), second)
        return self._date[0]

    def url(self, service: Service, path: str, query: Mapping[str, str] | None = None) -> URL:
        """`path` already percent-encoded, relative to the service endpoint."""
        parts = [f"{k}={quote(v, safe='')}" for k, v in (query or {}).items()]
        if self.account.sas:
            parts.append(self.account.sas)
        text = f"{self._bases[service]}/{path}"
        return URL(f"{text}?{'&'.join(parts)}" if parts else text, encoded=True)

    def _sign(
        self,
        service: Service,
        method: str,
        url: URL,
        headers: dict[str, str],
        query: Mapping[str, str] | None,
    ) -> None:
        key = self.account.key
        if key is None:
            return  # SAS: the token in the query authorizes the request
        resource = "/" + self.account.name + url.raw_path
        get = headers.get
        if service is Service.TABLE:
            comp = (query or {}).get("comp")
            text = "\n".join(
                (method, get("Content-MD5", ""), get("Content-Type", ""), headers["x-ms-date"])
            )
            text += "\n" + resource + (f"?comp={comp}" if comp else "")
        else:
            length = get("Content-Length", "")
            text = "\n".join(
                (
                    method,
                    get("Content-Encoding", ""),
                    get("Content-Language", ""),
                    "" if length == "0" else length,
                    get("Content-MD5", ""),
                    get("Content-Type", ""),
                    "",  # Date: x-ms-date is signed instead
                    get("If-Modified-Since", ""),
                    get("If-Match", ""),
                    get("If-None-Match", ""),
                    get("If-Unmodified-Since", ""),
                    get("Range", ""),
                )
            )
            ms = sorted(
                [(lower, v) for k, v in headers.items() if (lower := k.lower())[:5] == "x-ms-"]
            )
            text += "\n" + "".join([f"{k}:{v}\n" for k, v in ms]) + resource
            if query:
                for name, value in sorted(query.items()):
                    text += f"\n{name.lower()}:{unquote(value)}"
        digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
        signature = binascii.b2a_base64(digest, newline=False).decode("ascii")
        headers["Authorization"] = f"SharedKey {self.account.name}:{signature}"

    async def request(
        self,
        service: Service,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        ok: tuple[int, ...] = (200, 201, 202, 204),
        replay_on_reset: bool = False,
    ) -> RestResponse:
        """Send with retries; an answer outside `ok` raises RestResponseError.

        `replay_on_reset`: a request of another method whose repeat is harmless too (a merge
        of the same properties, or a write guarded by an ETag, whose repeat then conflicts),
        sent again when its connection was reset.
        """
        url = self.url(service, path, query)
        attempt = 0
        while True:
            sent = dict(headers or {})
            sent["x-ms-date"] = self._now()
            sent["x-ms-version"] = (
                TABLE_VERSION if service is Service.TABLE else _QUEUE_BLOB_VERSION
            )
            sent["Content-Length"] = str(len(body))
            self._sign(service, method, url, sent, query)
            try:
                response = await self._send(method, url, sent, body)
            except aiohttp.ClientConnectorError as error:
                # Never reached the service: always safe to repeat.
                if attempt >= self._retry_total:
                    raise ServiceRequestError(str(error) or type(error).__name__) from error
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                # May have reached the service: repeat only what repeating cannot change.
                reset = connections.is_connection_reset(error)
                repeatable = method in _IDEMPOTENT or (replay_on_reset and reset)
                if not repeatable or attempt >= self._retry_total:
                    raise ServiceResponseError(str(error) or type(error).__name__) from error
                if reset:
                    log.warning("Connection reset during %s %s; sending it again", method, path)
            else:
                if response.status in ok:
                    return response
                retry = _POST_RETRY_STATUS if method == "POST" else _RETRY_STATUS
                if response.status not in retry or attempt >= self._retry_total:
                    code, message = _error_detail(response)
                    raise RestResponseError(response.status, code, message)
            # As the SDK's retry policy: growing waits with jitter, so retrying hosts spread out.
            await asyncio.sleep(self._backoff * (1.5**attempt + random.uniform(0, 1)))
            attempt += 1

    async def _send(
        self, method: str, url: URL, headers: dict[str, str], body: bytes
    ) -> RestResponse:
        if self._lean and url.scheme == "http":
            if self._pool is None:
                self._pool = Http1Pool(
                    limit=100,
                    idle_seconds=connections.POOL_IDLE_SECONDS,
                    connect_timeout=self._connect_timeout,
                    read_timeout=self._read_timeout,
                )
            return RestResponse(*await self._pool.request(method, url, headers, body))
        session = self._client_session()
        async with session.request(method, url, headers=headers, data=body or None) as response:
            data = await response.read()
            return RestResponse(response.status, response.headers, data)
