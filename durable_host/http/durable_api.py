"""The Durable HTTP API (`HttpApiHandler`), served under the webhook path and the RPC base URL.

Routing mirrors the extension: the path after the base is URL-decoded and matched
against `orchestrators/{fn}/{id?}`, `instances/{id?}/{op?}`,
`instances/{id}/raiseEvent/{event}` and `makeprimary/`; anything else (and a wrong
verb on a known route) is a 404 with an empty body, as there.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from durable_host.engine.client.api import InstanceQuery, InstanceStatus, ManagementApi
from durable_host.errors import (
    FunctionNotFoundError,
    InstanceAlreadyExistsError,
    InstanceFinishedError,
    InstanceNotFoundError,
    InvalidInstanceIdError,
    InvalidOperationError,
    StorageError,
)
from durable_host.http.binding import (
    RPC_BASE_PATH,
    WEBHOOK_PATH,
    ClientEndpoints,
    check_status_payload,
)
from durable_host.http.payloads import (
    already_exists_error,
    entity_status_payload,
    http_error,
    parse_payload,
    status_payload,
)
from durable_host.http.routes import split_path
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instance_ids import check_client_instance_id
from durable_host.taskhub.timestamps import parse_timestamp

__all__ = ["DurableApi"]

log = logging.getLogger(__name__)

_ARGUMENT_MESSAGE = "One or more of the arguments submitted is incorrect"
_INTERNAL_MESSAGE = "Something went wrong while processing your request"
_ALREADY_EXISTS_MESSAGE = "A non-terminal instance with this instance ID already exists."


class _BadArgument(ValueError):
    """Raised by handlers for what the extension reports as an ArgumentException."""


def _json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def _empty(status: int) -> web.Response:
    return web.Response(status=status)


# --------------------------------------------------------------------------- query parsing
# The extension reads query values with .NET's TryParse: a value that does not parse is
# treated as absent, and names are case-insensitive.


def _query(request: web.Request) -> CIMultiDict[str]:
    return CIMultiDict(request.query)


def _bool(query: CIMultiDict[str], name: str) -> bool | None:
    value = query.get(name, "").strip().lower()
    return {"true": True, "false": False}.get(value)


def _int(query: CIMultiDict[str], name: str) -> int | None:
    value = query.get(name, "").strip()
    try:
        return int(value)
    except ValueError:
        return None


def _seconds(query: CIMultiDict[str], name: str) -> float | None:
    try:
        value = float(query.get(name, "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _datetime(query: CIMultiDict[str], name: str) -> datetime | None:
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


def _statuses(query: CIMultiDict[str]) -> frozenset[OrchestrationStatus]:
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


def _continuation_token(request: web.Request) -> str | None:
    token = request.headers.get("x-ms-continuation-token")
    # The tables SDK the extension uses reads a token of at most one character as "no token".
    return token if token is not None and len(token) > 1 else None


def _bad_token(token: str | None, exc: StorageError) -> bool:
    """A query failure that the client's continuation token caused (not a storage outage)."""
    return token is not None and (exc.status is None or 400 <= exc.status < 500)


def _compact_json(text: str) -> str:
    """Re-serialize a JSON body the way the extension stores a parsed JToken (compact)."""
    return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))


class DurableApi:
    """aiohttp handler for every route of docs/openapi.yaml on one ManagementApi."""

    def __init__(self, client: ManagementApi, endpoints: ClientEndpoints) -> None:
        self._client = client
        self._endpoints = endpoints

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for any path under the webhook path or the RPC base."""
        raw = request.rel_url.raw_path
        base = WEBHOOK_PATH if raw.lower().startswith(WEBHOOK_PATH) else RPC_BASE_PATH.rstrip("/")
        segments = split_path(raw[len(base) :])
        try:
            return await self._dispatch(request, segments)
        except (_BadArgument, InvalidInstanceIdError) as exc:
            return _json_response(400, http_error(_ARGUMENT_MESSAGE, exc))
        except FunctionNotFoundError as exc:
            return _json_response(400, http_error(_ARGUMENT_MESSAGE, exc))
        except InstanceNotFoundError:
            return _empty(404)
        except InstanceFinishedError:
            return _empty(410)
        except InstanceAlreadyExistsError as exc:
            # The extension lets this through as a 500; a client conflict is not a server fault.
            return _json_response(409, already_exists_error(_ALREADY_EXISTS_MESSAGE, exc))
        except web.HTTPException:
            raise  # aiohttp's own answers, such as 413 for an oversize body
        except Exception as exc:
            log.exception("Durable HTTP API request %s %s failed", request.method, request.path)
            return _json_response(500, http_error(_INTERNAL_MESSAGE, exc))

    async def _dispatch(self, request: web.Request, seg: list[str]) -> web.StreamResponse:
        method = request.method.upper()
        head = seg[0].lower() if seg else ""
        if head == "orchestrators" and len(seg) in (2, 3):
            if method != "POST":
                return _empty(404)
            return await self._start(request, seg[1], seg[2] if len(seg) == 3 else None)
        if head == "instances" and len(seg) <= 3:
            return await self._instances(request, method, seg[1:])
        if head == "instances" and len(seg) == 4 and seg[2].lower() == "raiseevent":
            if method != "POST":
                return _empty(404)
            return await self._raise_event(request, seg[1], seg[3])
        if head == "entities" and len(seg) <= 3:
            return await self._entities(request, method, seg[1:])
        if head == "makeprimary" and len(seg) == 1:
            return _empty(200)
        return _empty(404)

    async def _instances(
        self, request: web.Request, method: str, rest: list[str]
    ) -> web.StreamResponse:
        if not rest:
            if method == "GET":
                return await self._list(request)
            if method == "DELETE":
                return await self._purge_by(request)
            return _empty(404)
        instance_id = rest[0]
        if len(rest) == 1:
            if method == "GET":
                return await self._get_status(request, instance_id)
            if method == "DELETE":
                return await self._purge(instance_id)
            return _empty(404)
        if method != "POST":
            return _empty(404)
        operation = rest[1].lower()
        reason = _query(request).get("reason")
        if operation in ("terminate", "suspend", "resume"):
            return await self._lifecycle(operation, instance_id, reason)
        if operation == "rewind":
            return await self._rewind(instance_id, reason)
        if operation == "restart":
            return await self._restart(request, instance_id)
        return _empty(404)

    # ----------------------------------------------------------------------- responses

    def _origin(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _check_status_response(self, request: web.Request, instance_id: str) -> web.Response:
        query = _query(request)
        body = check_status_payload(
            self._endpoints,
            instance_id,
            origin=self._origin(request),
            hub_name=query.get("taskHub") or None,
            connection_name=query.get("connection") or None,
        )
        headers = {"Location": body["statusQueryGetUri"], "Retry-After": "10"}
        return _json_response(202, body, headers)

    def _status_response(
        self,
        request: web.Request,
        status: InstanceStatus,
        *,
        show_input: bool = True,
        show_history_output: bool = False,
    ) -> web.Response:
        query = _query(request)
        body = status_payload(
            status, show_history_output=show_history_output, show_input=show_input
        )
        if not show_input:
            body["input"] = None
        runtime = status.runtime_status
        if not runtime.is_terminal:
            headers = {"Location": str(request.url), "Retry-After": "5"}
            return _json_response(202, body, headers)
        if runtime is OrchestrationStatus.Failed and _bool(
            query, "returnInternalServerErrorOnFailure"
        ):
            return _json_response(500, body)
        return _json_response(200, body)

    async def _wait_or_check_status(
        self, request: web.Request, instance_id: str
    ) -> web.StreamResponse:
        query = _query(request)
        timeout = _seconds(query, "timeout")
        interval = _seconds(query, "pollingInterval")
        if timeout is None or interval is None:
            return self._check_status_response(request, instance_id)
        if interval > timeout:
            message = f"Total timeout {timeout:g} should be bigger than retry timeout {interval:g}"
            return _json_response(400, {"Message": message})
        status = await self._client.wait_for_completion(
            instance_id, timeout=timeout, poll_interval=max(interval, 0.0)
        )
        if status is not None and status.runtime_status is OrchestrationStatus.Completed:
            return _json_response(200, parse_payload(status.output))
        if status is not None and status.runtime_status.is_terminal:
            return await self._get_status(request, instance_id)
        return self._check_status_response(request, instance_id)

    # ----------------------------------------------------------------------- handlers

    async def _start(
        self, request: web.Request, function_name: str, instance_id: str | None
    ) -> web.StreamResponse:
        text = await request.text() if request.can_read_body else ""
        input_json: str | None = None
        if text.strip():
            try:
                json.loads(text)
            except ValueError as exc:
                return _json_response(400, http_error("Invalid JSON content", exc))
            # The extension stores the body text itself as the ExecutionStarted input.
            input_json = text
        if instance_id:
            check_client_instance_id(instance_id)
        new_id = await self._client.start_new(
            function_name, instance_id or uuid.uuid4().hex, input_json
        )
        return await self._wait_or_check_status(request, new_id)

    async def _get_status(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        query = _query(request)
        show_history = _bool(query, "showHistory") or False
        show_history_output = _bool(query, "showHistoryOutput") or False
        show_input = _bool(query, "showInput")
        status = await self._client.get_status(
            instance_id,
            show_history=show_history,
            show_history_output=show_history_output,
            show_input=True if show_input is None else show_input,
        )
        if status is None:
            return _empty(404)
        return self._status_response(
            request,
            status,
            show_input=show_input is not False,
            show_history_output=show_history_output,
        )

    async def _list(self, request: web.Request) -> web.StreamResponse:
        query = _query(request)
        condition = InstanceQuery(
            runtime_status=_statuses(query),
            created_time_from=_datetime(query, "createdTimeFrom"),
            created_time_to=_datetime(query, "createdTimeTo"),
            instance_id_prefix=query.get("instanceIdPrefix"),
        )
        top = _int(query, "top")
        token = _continuation_token(request)
        try:
            page = await self._client.list_instances(
                condition, top=top if top is not None and top > 0 else 100, continuation_token=token
            )
        except StorageError as exc:
            if not _bad_token(token, exc):
                raise
            raise _BadArgument(f"Invalid x-ms-continuation-token: {exc}") from exc
        show_input = _bool(query, "showInput") is not False
        body = []
        for status in page.instances:
            item = status_payload(status)
            if not show_input:
                item["input"] = None
            body.append(item)
        headers = {}
        if page.continuation_token:
            headers["x-ms-continuation-token"] = page.continuation_token
        return _json_response(200, body, headers)

    async def _purge(self, instance_id: str) -> web.StreamResponse:
        # Entity ids start with '@' and are always "Running", so only orchestrations are checked.
        if not instance_id.startswith("@"):
            status = await self._client.get_status(instance_id, show_input=False)
            if status is None:
                return _empty(404)
            if not status.runtime_status.is_terminal:
                return _json_response(
                    412,
                    "Only orchestrations in a terminal state can be purged, but the "
                    f"orchestration with instance ID {instance_id} has status "
                    f"{status.runtime_status.name}",
                )
        deleted = await self._client.purge(instance_id)
        return _json_response(200, {"instancesDeleted": deleted})

    async def _purge_by(self, request: web.Request) -> web.StreamResponse:
        query = _query(request)
        created_from = _datetime(query, "createdTimeFrom")
        if created_from is None:
            return _json_response(400, "Please provide value for 'createdTimeFrom' parameter.")
        condition = InstanceQuery(
            runtime_status=_statuses(query),
            created_time_from=created_from,
            created_time_to=_datetime(query, "createdTimeTo") or datetime.now(timezone.utc),
        )
        deleted = await self._client.purge_by(condition)
        if deleted == 0:
            return _empty(404)
        return _json_response(200, {"instancesDeleted": deleted})

    async def _existing(self, instance_id: str) -> InstanceStatus | None:
        return await self._client.get_status(instance_id, show_input=False)

    async def _lifecycle(
        self, operation: str, instance_id: str, reason: str | None
    ) -> web.StreamResponse:
        status = await self._existing(instance_id)
        if status is None:
            return _empty(404)
        if status.runtime_status.is_terminal:
            return _empty(410)
        if operation == "terminate":
            await self._client.terminate(instance_id, reason)
        elif operation == "suspend":
            await self._client.suspend(instance_id, reason)
        else:
            await self._client.resume(instance_id, reason)
        return _empty(202)

    async def _rewind(self, instance_id: str, reason: str | None) -> web.StreamResponse:
        status = await self._existing(instance_id)
        if status is None:
            return _json_response(404, f'No orchestration with instance ID "{instance_id}" found.')
        if status.runtime_status is not OrchestrationStatus.Failed:
            return _json_response(
                412,
                f"This orchestration has status {status.runtime_status.name}, but only "
                'orchestrations in the "Failed" state can be rewound.',
            )
        try:
            await self._client.rewind(instance_id, reason)
        except InvalidOperationError as exc:
            # The instance changed state between the check and the rewind.
            return _json_response(412, str(exc))
        return _empty(202)

    async def _restart(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        new_instance_id = _bool(_query(request), "restartWithNewInstanceId")
        try:
            new_id = await self._client.restart(
                instance_id, new_instance_id=True if new_instance_id is None else new_instance_id
            )
        except InstanceNotFoundError:
            # The extension's ArgumentException text, its spelling included.
            reason = _BadArgument(
                f"An orchestrastion with the instanceId {instance_id} was not found."
            )
            return _json_response(
                400,
                http_error("InstanceId does not match a valid orchestration instance.", reason),
            )
        return await self._wait_or_check_status(request, new_id)

    async def _raise_event(
        self, request: web.Request, instance_id: str, event_name: str
    ) -> web.StreamResponse:
        status = await self._existing(instance_id)
        if status is None:
            return _empty(404)
        if status.runtime_status.is_terminal:
            return _empty(410)
        if request.content_type.lower() != "application/json":
            return _json_response(
                400, http_error("Only application/json request content is supported")
            )
        text = await request.text()
        data_json: str | None = None
        if text.strip():
            try:
                data_json = _compact_json(text)
            except ValueError as exc:
                return _json_response(400, http_error("Invalid JSON content", exc))
        await self._client.raise_event(instance_id, event_name, data_json)
        return _empty(202)

    # ----------------------------------------------------------------------- entities

    async def _entities(
        self, request: web.Request, method: str, rest: list[str]
    ) -> web.StreamResponse:
        if len(rest) < 2:
            if method != "GET":
                return _empty(404)
            return await self._list_entities(request, rest[0] if rest else None)
        # The extension's route spells the empty key as '$'.
        name, key = rest[0], "" if rest[1] == "$" else rest[1]
        if method == "GET":
            try:
                entity = await self._client.read_entity(name, key)
            except ValueError as exc:  # an invalid entity name
                raise _BadArgument(str(exc)) from exc
            if entity is None:
                return _empty(404)
            # Read as a JToken and written again, so compact whatever the SDK stored.
            return _json_response(200, parse_payload(entity.state))
        if method not in ("POST", "DELETE"):
            return _empty(404)
        operation = "delete" if method == "DELETE" else _query(request).get("op", "")
        text = await request.text() if request.can_read_body else ""
        input_json: str | None = None
        if text:
            if request.content_type.lower() == "application/json":
                try:
                    input_json = _compact_json(text)
                except ValueError as exc:
                    return _json_response(400, http_error("Invalid JSON content", exc))
            else:
                input_json = json.dumps(text, ensure_ascii=False)
        try:
            await self._client.signal_entity(name, key, operation, input_json)
        except ValueError as exc:
            raise _BadArgument(str(exc)) from exc
        return _empty(202)

    async def _list_entities(self, request: web.Request, name: str | None) -> web.StreamResponse:
        query = _query(request)
        top = _int(query, "top")
        token = _continuation_token(request)
        try:
            page = await self._client.list_entities(
                name,
                fetch_state=_bool(query, "fetchState") or False,
                top=top if top is not None and top > 0 else 100,
                continuation_token=token,
                last_operation_from=_datetime(query, "lastOperationTimeFrom"),
                last_operation_to=_datetime(query, "lastOperationTimeTo"),
            )
        except StorageError as exc:
            if not _bad_token(token, exc):
                raise
            raise _BadArgument(f"Invalid x-ms-continuation-token: {exc}") from exc
        except ValueError as exc:  # an invalid entity name
            raise _BadArgument(str(exc)) from exc
        headers = {}
        if page.continuation_token:
            headers["x-ms-continuation-token"] = page.continuation_token
        body = [entity_status_payload(e) for e in page.entities]
        return _json_response(200, body, headers)
