"""The Durable HTTP API's entity resource: `entities/{name?}` lists, `entities/{name}/{key}`
reads (GET), signals (POST `?op=`) or deletes (DELETE) one entity."""

from __future__ import annotations

import json

from aiohttp import web

from durable_host.engine.client.api import ManagementApi
from durable_host.errors import StorageError
from durable_host.http.api_common import (
    BadArgument,
    bad_token_argument,
    compact_json,
    continuation_token,
    empty,
    json_response,
    page_size,
    paged_headers,
    query_bool,
    query_datetime,
    query_of,
)
from durable_host.http.payloads import entity_status_payload, http_error, parse_payload


class EntityHandlers:
    """The `entities/...` routes on one ManagementApi."""

    def __init__(self, client: ManagementApi) -> None:
        self._client = client

    async def handle(
        self, request: web.Request, method: str, rest: list[str]
    ) -> web.StreamResponse:
        """`rest` is the path after `entities/`, already split and decoded."""
        if len(rest) < 2:
            if method != "GET":
                return empty(404)
            return await self._list(request, rest[0] if rest else None)
        # The extension's route spells the empty key as '$'.
        name, key = rest[0], "" if rest[1] == "$" else rest[1]
        if method == "GET":
            return await self._read(name, key)
        if method not in ("POST", "DELETE"):
            return empty(404)
        operation = "delete" if method == "DELETE" else query_of(request).get("op", "")
        return await self._signal(request, name, key, operation)

    async def _read(self, name: str, key: str) -> web.StreamResponse:
        try:
            entity = await self._client.read_entity(name, key)
        except ValueError as exc:  # an invalid entity name
            raise BadArgument(str(exc)) from exc
        if entity is None:
            return empty(404)
        # Read as a JToken and written again, so compact whatever the SDK stored.
        return json_response(200, parse_payload(entity.state))

    async def _signal(
        self, request: web.Request, name: str, key: str, operation: str
    ) -> web.StreamResponse:
        text = await request.text() if request.can_read_body else ""
        input_json: str | None = None
        if text:
            if request.content_type.lower() == "application/json":
                try:
                    input_json = compact_json(text)
                except ValueError as exc:
                    return json_response(400, http_error("Invalid JSON content", exc))
            else:
                input_json = json.dumps(text, ensure_ascii=False)
        try:
            await self._client.signal_entity(name, key, operation, input_json)
        except ValueError as exc:
            raise BadArgument(str(exc)) from exc
        return empty(202)

    async def _list(self, request: web.Request, name: str | None) -> web.StreamResponse:
        query = query_of(request)
        token = continuation_token(request)
        try:
            page = await self._client.list_entities(
                name,
                fetch_state=query_bool(query, "fetchState") or False,
                top=page_size(query),
                continuation_token=token,
                last_operation_from=query_datetime(query, "lastOperationTimeFrom"),
                last_operation_to=query_datetime(query, "lastOperationTimeTo"),
            )
        except StorageError as exc:
            bad_argument = bad_token_argument(token, exc)
            if bad_argument is None:
                raise
            raise bad_argument from exc
        except ValueError as exc:  # an invalid entity name
            raise BadArgument(str(exc)) from exc
        body = [entity_status_payload(e) for e in page.entities]
        return json_response(200, body, paged_headers(page.continuation_token))
