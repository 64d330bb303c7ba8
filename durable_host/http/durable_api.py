"""The Durable HTTP API (`HttpApiHandler`), served under the webhook path and the RPC base URL.

Routing mirrors the extension: the path after the base is URL-decoded and matched
against `orchestrators/{fn}/{id?}`, `instances/{id?}/{op?}`,
`instances/{id}/raiseEvent/{event}` and `makeprimary/`; anything else (and a wrong
verb on a known route) is a 404 with an empty body, as there. The handlers live by
resource: api_instances.py, api_instance_actions.py and api_entities.py.
"""

from __future__ import annotations

import logging

from aiohttp import web

from durable_host.engine.client.api import ManagementApi
from durable_host.errors import (
    FunctionNotFoundError,
    InstanceAlreadyExistsError,
    InstanceFinishedError,
    InstanceNotFoundError,
    InvalidInstanceIdError,
)
from durable_host.http.api_common import (
    ALREADY_EXISTS_MESSAGE,
    ARGUMENT_MESSAGE,
    INTERNAL_MESSAGE,
    BadArgument,
    empty,
    json_response,
    query_of,
)
from durable_host.http.api_entities import EntityHandlers
from durable_host.http.api_instance_actions import LIFECYCLE_ACTIONS, InstanceActionHandlers
from durable_host.http.api_instances import InstanceHandlers
from durable_host.http.binding import RPC_BASE_PATH, WEBHOOK_PATH, ClientEndpoints
from durable_host.http.payloads import already_exists_error, http_error
from durable_host.http.routes import split_path

__all__ = ["DurableApi"]

log = logging.getLogger(__name__)


class DurableApi:
    """aiohttp handler for every route of docs/openapi.yaml on one ManagementApi."""

    def __init__(self, client: ManagementApi, endpoints: ClientEndpoints) -> None:
        self._instances = InstanceHandlers(client, endpoints)
        self._actions = InstanceActionHandlers(client, self._instances)
        self._entities = EntityHandlers(client)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for any path under the webhook path or the RPC base."""
        raw = request.rel_url.raw_path
        base = WEBHOOK_PATH if raw.lower().startswith(WEBHOOK_PATH) else RPC_BASE_PATH.rstrip("/")
        segments = split_path(raw[len(base) :])
        try:
            return await self._dispatch(request, segments)
        except (BadArgument, InvalidInstanceIdError) as exc:
            return json_response(400, http_error(ARGUMENT_MESSAGE, exc))
        except FunctionNotFoundError as exc:
            return json_response(400, http_error(ARGUMENT_MESSAGE, exc))
        except InstanceNotFoundError:
            return empty(404)
        except InstanceFinishedError:
            return empty(410)
        except InstanceAlreadyExistsError as exc:
            # The extension lets this through as a 500; a client conflict is not a server fault.
            return json_response(409, already_exists_error(ALREADY_EXISTS_MESSAGE, exc))
        except web.HTTPException:
            raise  # aiohttp's own answers, such as 413 for an oversize body
        except Exception as exc:
            log.exception("Durable HTTP API request %s %s failed", request.method, request.path)
            return json_response(500, http_error(INTERNAL_MESSAGE, exc))

    async def _dispatch(self, request: web.Request, seg: list[str]) -> web.StreamResponse:
        method = request.method.upper()
        head = seg[0].lower() if seg else ""
        if head == "orchestrators" and len(seg) in (2, 3):
            if method != "POST":
                return empty(404)
            return await self._instances.start(request, seg[1], seg[2] if len(seg) == 3 else None)
        if head == "instances" and len(seg) <= 3:
            return await self._instance_routes(request, method, seg[1:])
        if head == "instances" and len(seg) == 4 and seg[2].lower() == "raiseevent":
            if method != "POST":
                return empty(404)
            return await self._actions.raise_event(request, seg[1], seg[3])
        if head == "entities" and len(seg) <= 3:
            return await self._entities.handle(request, method, seg[1:])
        if head == "makeprimary" and len(seg) == 1:
            return empty(200)
        return empty(404)

    async def _instance_routes(
        self, request: web.Request, method: str, rest: list[str]
    ) -> web.StreamResponse:
        if not rest:
            if method == "GET":
                return await self._instances.list(request)
            if method == "DELETE":
                return await self._instances.purge_by(request)
            return empty(404)
        instance_id = rest[0]
        if len(rest) == 1:
            if method == "GET":
                return await self._instances.get_status(request, instance_id)
            if method == "DELETE":
                return await self._instances.purge(instance_id)
            return empty(404)
        if method != "POST":
            return empty(404)
        operation = rest[1].lower()
        reason = query_of(request).get("reason")
        if operation in LIFECYCLE_ACTIONS:
            return await self._actions.lifecycle(operation, instance_id, reason)
        if operation == "rewind":
            return await self._actions.rewind(instance_id, reason)
        if operation == "restart":
            return await self._actions.restart(request, instance_id)
        return empty(404)
