"""Acting on one instance: raise an event, terminate, suspend, resume, rewind.

Each is a message to the instance's control queue, sent once the Instances row shows the
instance in a state the action applies to, as the extension's client checks it.
"""

from __future__ import annotations

from durable_host.engine.client.base import ClientBase
from durable_host.errors import InstanceFinishedError, InstanceNotFoundError, InvalidOperationError
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionSuspended,
    ExecutionTerminated,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
)


class InstanceActions(ClientBase):
    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None:
        await self._running(instance_id, "raise an event to")
        now = self.clock.now()
        await self._send_event(
            instance_id, EventRaised(timestamp=now, name=event_name, input=data_json)
        )

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        await self._running(instance_id, "terminate")
        await self._send_to(
            instance_id, ExecutionTerminated(timestamp=self.clock.now(), input=reason)
        )

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._running(instance_id, "suspend")
        await self._send_to(
            instance_id, ExecutionSuspended(timestamp=self.clock.now(), reason=reason)
        )

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._running(instance_id, "resume")
        await self._send_to(
            instance_id, ExecutionResumed(timestamp=self.clock.now(), reason=reason)
        )

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        found = await self.storage.get_instance_with_etag(instance_id)
        if found is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
        record, etag = found
        status = record.runtime_status
        if status != OrchestrationStatus.Failed:
            error = InvalidOperationError if not status.is_terminal else InstanceFinishedError
            raise error(
                f"Instance '{instance_id}' is {status.name}; only a Failed orchestration can "
                "be rewound."
            )
        await self._send_to(
            instance_id, ExecutionRewound(timestamp=self.clock.now(), reason=reason)
        )
        await self.rows.mark_rewinding(instance_id, read_etag=etag)

    async def _send_to(self, instance_id: str, event: HistoryEvent) -> None:
        await self.router.send_to_instance(OrchestrationInstance(instance_id, None), event)
