"""Starting an orchestration, and restarting one with its original input."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from datetime import datetime

from durable_host.engine.client.base import ClientBase
from durable_host.errors import InstanceAlreadyExistsError
from durable_host.taskhub.events import ExecutionStarted, OrchestrationInstance
from durable_host.taskhub.instance_ids import check_instance_id


class Starts(ClientBase):
    async def start_new(
        self,
        orchestrator_name: str,
        instance_id: str | None = None,
        input_json: str | None = None,
        *,
        scheduled_start_time: datetime | None = None,
        version: str = "",
        tags: dict[str, str] | None = None,
    ) -> str:
        name = self.resolve_orchestrator(orchestrator_name)
        # An id made here (uuid4, as the extension's client makes them) names no instance
        # yet: no read of its row first, nor of its history before its first episode
        # (docs/compatibility.md, "Storage requests").
        fresh = not instance_id
        instance_id = instance_id or uuid.uuid4().hex
        check_instance_id(instance_id)
        existing = None if fresh else await self.storage.get_instance_with_etag(instance_id)
        etag: str | None = None
        generation = 0
        if existing is not None:
            record, etag = existing
            if not record.runtime_status.is_terminal:
                raise InstanceAlreadyExistsError(instance_id, record.runtime_status.name)
            generation = record.generation + 1
        started = ExecutionStarted(
            timestamp=self.clock.now(),
            orchestration_instance=OrchestrationInstance(instance_id, uuid.uuid4().hex),
            name=name,
            version=version,
            input=input_json,
            tags=tags or None,
            scheduled_start_time=scheduled_start_time,
            generation=generation,
        )
        # The provider enqueues first, then writes the row: a crash in between leaves a message
        # that starts the instance, never a Pending row that nothing will run.
        with (
            self.tracer.creating_orchestration(started) if self.tracer else nullcontext(started)
        ) as started:
            hand_over = await self.router.send_to_instance(
                started.orchestration_instance,
                started,
                visible_at=scheduled_start_time,
                defer_local=True,
            )
        try:
            written = await self.rows.write_pending(started, read_etag=etag)
            if fresh and written and scheduled_start_time is None:
                self.expect_new(instance_id)
        finally:
            # The local dispatcher checks a restart against this row, so it gets the message
            # only after the row is written.
            hand_over()
        return instance_id

    async def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        record = await self._existing(instance_id)
        # Under the same id, start_new refuses an unfinished instance (InstanceAlreadyExistsError),
        # as the extension's RestartAsync leaves that check to StartNewAsync.
        loaded = await self.storage.load_history(instance_id)
        started = next((e for e in loaded.events if isinstance(e, ExecutionStarted)), None)
        return await self.start_new(
            record.name,
            None if new_instance_id else instance_id,
            started.input if started is not None else record.input,
            version=started.version if started is not None else record.version or "",
            tags=started.tags if started is not None else record.tags,
        )
