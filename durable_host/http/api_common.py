"""What every Durable HTTP API handler shares: reading the query and writing the answer.

The extension reads query values with .NET's TryParse: a value that does not parse is
treated as absent, and names are case-insensitive. Its answers are compact JSON, and an
`ArgumentException` becomes a 400 with an `HttpError` body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from durable_host.errors import StorageError
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.timestamps import parse_timestamp

ARGUMENT_MESSAGE = "One or more of the arguments submitted is incorrect"
INTERNAL_MESSAGE = "Something went wrong while processing your request"
ALREADY_EXISTS_MESSAGE = "A non-terminal instance with this instance ID already exists."
DEFAULT_PAGE_SIZE = 100


class BadArgument(ValueError):
    """Raised by handlers for what the extension reports as an ArgumentException."""


# --------------------------------------------------------------------------- responses


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def empty(status: int) -> web.Response:
    return web.Response(status=status)


def compact_json(text: str) -> str:
    """Re-serialize a JSON body the way the extension stores a parsed JToken (compact)."""
    return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- query parsing


def query_of(request: web.Request) -> CIMultiDict[str]:
    return CIMultiDict(request.query)


def query_bool(query: CIMultiDict[str], name: str) -> bool | None:
    value = query.get(name, "").strip().lower()
    return {"true": True, "false": False}.get(value)


def query_int(query: CIMultiDict[str], name: str) -> int | None:
    value = query.get(name, "").strip()
    try:
        return int(value)
    except ValueError:
        return None


def page_size(query: CIMultiDict[str]) -> int:
    """`top` when it is a positive integer, else the extension's default page size."""
    top = query_int(query, "top")
    return top if top is not None and top > 0 else DEFAULT_PAGE_SIZE


def query_seconds(query: CIMultiDict[str], name: str) -> float | None:
    try:
        value = float(query.get(name, "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def query_datetime(query: CIMultiDict[str], name: str) -> datetime | None:
    value = query.get(name)
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def query_statuses(query: CIMultiDict[str]) -> frozenset[OrchestrationStatus]:
    found = set()
    for raw in query.getall("runtimeStatus", []):
        for item in raw.split(","):
            name = item.strip()
            if name in OrchestrationStatus.__members__:
                found.add(OrchestrationStatus[name])
            elif name.lstrip("-").isdigit():
                try:
                    found.add(OrchestrationStatus(int(name)))
                except ValueError:
                    continue
    return frozenset(found)


# --------------------------------------------------------------------------- paging


def continuation_token(request: web.Request) -> str | None:
    token = request.headers.get("x-ms-continuation-token")
    # The tables SDK the extension uses reads a token of at most one character as "no token".
    return token if token is not None and len(token) > 1 else None


def bad_token_argument(token: str | None, exc: StorageError) -> BadArgument | None:
    """The 400 to answer when the client's continuation token caused a query failure.

    None when the failure is not the token's (a storage outage): that one propagates.
    """
    if token is None or (exc.status is not None and not 400 <= exc.status < 500):
        return None
    return BadArgument(f"Invalid x-ms-continuation-token: {exc}")


def paged_headers(token: str | None) -> dict[str, str]:
    return {"x-ms-continuation-token": token} if token else {}
