"""The Durable HTTP API's instance actions: raise event, terminate, suspend, resume,
rewind and restart (`instances/{id}/{action}`, `instances/{id}/raiseEvent/{event}`).

Each checks the instance first, so a missing one is a 404 and a finished one a 410
(or the extension's own 412 text for rewind), as the extension answers.
"""

from __future__ import annotations

from aiohttp import web

from durable_host.engine.client.api import InstanceStatus, ManagementApi
from durable_host.errors import InstanceNotFoundError, InvalidOperationError
from durable_host.http.api_common import (
    BadArgument,
    compact_json,
    empty,
    json_response,
    query_bool,
    query_of,
)
from durable_host.http.api_instances import InstanceHandlers
from durable_host.http.payloads import http_error
from durable_host.taskhub.events import OrchestrationStatus

LIFECYCLE_ACTIONS = ("terminate", "suspend", "resume")


class InstanceActionHandlers:
    """Actions on one existing instance; restart answers like a start (`InstanceHandlers`)."""

    def __init__(self, client: ManagementApi, instances: InstanceHandlers) -> None:
        self._client = client
        self._instances = instances

    async def _existing(self, instance_id: str) -> InstanceStatus | None:
        return await self._client.get_status(instance_id, show_input=False)

    async def _refuse_unless_running(self, instance_id: str) -> web.Response | None:
        """404 for a missing instance, 410 for a finished one, None for one still running."""
        status = await self._existing(instance_id)
        if status is None:
            return empty(404)
        if status.runtime_status.is_terminal:
            return empty(410)
        return None

    async def lifecycle(
        self, operation: str, instance_id: str, reason: str | None
    ) -> web.StreamResponse:
        """One of LIFECYCLE_ACTIONS on a running instance."""
        refusal = await self._refuse_unless_running(instance_id)
        if refusal is not None:
            return refusal
        if operation == "terminate":
            await self._client.terminate(instance_id, reason)
        elif operation == "suspend":
            await self._client.suspend(instance_id, reason)
        else:
            await self._client.resume(instance_id, reason)
        return empty(202)

    async def rewind(self, instance_id: str, reason: str | None) -> web.StreamResponse:
        status = await self._existing(instance_id)
        if status is None:
            return json_response(404, f'No orchestration with instance ID "{instance_id}" found.')
        if status.runtime_status is not OrchestrationStatus.Failed:
            return json_response(
                412,
                f"This orchestration has status {status.runtime_status.name}, but only "
                'orchestrations in the "Failed" state can be rewound.',
            )
        try:
            await self._client.rewind(instance_id, reason)
        except InvalidOperationError as exc:
            # The instance changed state between the check and the rewind.
            return json_response(412, str(exc))
        return empty(202)

    async def restart(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        new_instance_id = query_bool(query_of(request), "restartWithNewInstanceId")
        try:
            new_id = await self._client.restart(
                instance_id, new_instance_id=True if new_instance_id is None else new_instance_id
            )
        except InstanceNotFoundError:
            # The extension's ArgumentException text, its spelling included.
            reason = BadArgument(
                f"An orchestrastion with the instanceId {instance_id} was not found."
            )
            return json_response(
                400,
                http_error("InstanceId does not match a valid orchestration instance.", reason),
            )
        return await self._instances.wait_or_check_status(request, new_id)

    async def raise_event(
        self, request: web.Request, instance_id: str, event_name: str
    ) -> web.StreamResponse:
        refusal = await self._refuse_unless_running(instance_id)
        if refusal is not None:
            return refusal
        if request.content_type.lower() != "application/json":
            return json_response(
                400, http_error("Only application/json request content is supported")
            )
        text = await request.text()
        data_json: str | None = None
        if text.strip():
            try:
                data_json = compact_json(text)
            except ValueError as exc:
                return json_response(400, http_error("Invalid JSON content", exc))
        await self._client.raise_event(instance_id, event_name, data_json)
        return empty(202)
