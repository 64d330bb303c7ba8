"""The Durable HTTP API's instance resource: start, status, query and purge.

`orchestrators/{fn}/{id?}` starts an instance (optionally waiting for it), and
`instances/{id?}` reads one status, lists them, or purges one or many.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from aiohttp import web

from durable_host.engine.client.api import InstanceQuery, InstanceStatus, ManagementApi
from durable_host.errors import StorageError
from durable_host.http.api_common import (
    bad_token_argument,
    continuation_token,
    empty,
    json_response,
    page_size,
    paged_headers,
    query_bool,
    query_datetime,
    query_of,
    query_seconds,
    query_statuses,
)
from durable_host.http.binding import ClientEndpoints, check_status_payload
from durable_host.http.payloads import http_error, parse_payload, status_payload
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instance_ids import check_client_instance_id


class InstanceHandlers:
    """Starting, reading, listing and purging instances on one ManagementApi."""

    def __init__(self, client: ManagementApi, endpoints: ClientEndpoints) -> None:
        self._client = client
        self._endpoints = endpoints

    async def start(
        self, request: web.Request, function_name: str, instance_id: str | None
    ) -> web.StreamResponse:
        text = await request.text() if request.can_read_body else ""
        input_json: str | None = None
        if text.strip():
            try:
                json.loads(text)
            except ValueError as exc:
                return json_response(400, http_error("Invalid JSON content", exc))
            # The extension stores the body text itself as the ExecutionStarted input.
            input_json = text
        if instance_id:
            check_client_instance_id(instance_id)
        # Without an id, the engine makes one (as the extension's client: 32 hex digits).
        new_id = await self._client.start_new(function_name, instance_id or None, input_json)
        return await self.wait_or_check_status(request, new_id)

    async def get_status(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        query = query_of(request)
        show_history = query_bool(query, "showHistory") or False
        show_history_output = query_bool(query, "showHistoryOutput") or False
        show_input = query_bool(query, "showInput")
        status = await self._client.get_status(
            instance_id,
            show_history=show_history,
            show_history_output=show_history_output,
            show_input=True if show_input is None else show_input,
        )
        if status is None:
            return empty(404)
        return self._status_response(
            request,
            status,
            show_input=show_input is not False,
            show_history_output=show_history_output,
        )

    async def list(self, request: web.Request) -> web.StreamResponse:
        query = query_of(request)
        condition = InstanceQuery(
            runtime_status=query_statuses(query),
            created_time_from=query_datetime(query, "createdTimeFrom"),
            created_time_to=query_datetime(query, "createdTimeTo"),
            instance_id_prefix=query.get("instanceIdPrefix"),
        )
        token = continuation_token(request)
        try:
            page = await self._client.list_instances(
                condition, top=page_size(query), continuation_token=token
            )
        except StorageError as exc:
            bad_argument = bad_token_argument(token, exc)
            if bad_argument is None:
                raise
            raise bad_argument from exc
        show_input = query_bool(query, "showInput") is not False
        body = []
        for status in page.instances:
            item = status_payload(status)
            if not show_input:
                item["input"] = None
            body.append(item)
        return json_response(200, body, paged_headers(page.continuation_token))

    async def purge(self, instance_id: str) -> web.StreamResponse:
        # Entity ids start with '@' and are always "Running", so only orchestrations are checked.
        if not instance_id.startswith("@"):
            status = await self._client.get_status(instance_id, show_input=False)
            if status is None:
                return empty(404)
            if not status.runtime_status.is_terminal:
                return json_response(
                    412,
                    "Only orchestrations in a terminal state can be purged, but the "
                    f"orchestration with instance ID {instance_id} has status "
                    f"{status.runtime_status.name}",
                )
        deleted = await self._client.purge(instance_id)
        return json_response(200, {"instancesDeleted": deleted})

    async def purge_by(self, request: web.Request) -> web.StreamResponse:
        query = query_of(request)
        created_from = query_datetime(query, "createdTimeFrom")
        if created_from is None:
            return json_response(400, "Please provide value for 'createdTimeFrom' parameter.")
        condition = InstanceQuery(
            runtime_status=query_statuses(query),
            created_time_from=created_from,
            created_time_to=query_datetime(query, "createdTimeTo") or datetime.now(timezone.utc),
        )
        deleted = await self._client.purge_by(condition)
        if deleted == 0:
            return empty(404)
        return json_response(200, {"instancesDeleted": deleted})

    async def wait_or_check_status(
        self, request: web.Request, instance_id: str
    ) -> web.StreamResponse:
        """After a start or restart: wait when asked to, else the 202 check-status answer."""
        query = query_of(request)
        timeout = query_seconds(query, "timeout")
        interval = query_seconds(query, "pollingInterval")
        if timeout is None or interval is None:
            return self._check_status_response(request, instance_id)
        if interval > timeout:
            message = f"Total timeout {timeout:g} should be bigger than retry timeout {interval:g}"
            return json_response(400, {"Message": message})
        status = await self._client.wait_for_completion(
            instance_id, timeout=timeout, poll_interval=max(interval, 0.0)
        )
        if status is not None and status.runtime_status is OrchestrationStatus.Completed:
            return json_response(200, parse_payload(status.output))
        if status is not None and status.runtime_status.is_terminal:
            return await self.get_status(request, instance_id)
        return self._check_status_response(request, instance_id)

    # ----------------------------------------------------------------------- responses

    def _check_status_response(self, request: web.Request, instance_id: str) -> web.Response:
        query = query_of(request)
        body = check_status_payload(
            self._endpoints,
            instance_id,
            origin=f"{request.scheme}://{request.host}",
            hub_name=query.get("taskHub") or None,
            connection_name=query.get("connection") or None,
        )
        headers = {"Location": body["statusQueryGetUri"], "Retry-After": "10"}
        return json_response(202, body, headers)

    def _status_response(
        self,
        request: web.Request,
        status: InstanceStatus,
        *,
        show_input: bool = True,
        show_history_output: bool = False,
    ) -> web.Response:
        query = query_of(request)
        body = status_payload(
            status, show_history_output=show_history_output, show_input=show_input
        )
        if not show_input:
            body["input"] = None
        runtime = status.runtime_status
        if not runtime.is_terminal:
            headers = {"Location": str(request.url), "Retry-After": "5"}
            return json_response(202, body, headers)
        if runtime is OrchestrationStatus.Failed and query_bool(
            query, "returnInternalServerErrorOnFailure"
        ):
            return json_response(500, body)
        return json_response(200, body)
