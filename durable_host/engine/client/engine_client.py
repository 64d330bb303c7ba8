"""EngineClient: start, query, raise events to, terminate, suspend, resume, rewind, restart, purge.

Every operation is a message to the instance's control queue or a read of the
Instances/History tables, as the real durable client does; nothing bypasses storage.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING

from durable_host.engine.client.api import (
    EntityPage,
    EntityState,
    EntityStatus,
    HistorySlice,
    InstancePage,
    InstanceQuery,
    InstanceStatus,
)
from durable_host.engine.dispatch.entity_state import (
    OPERATION_EVENT,
    SchedulerState,
    entity_instance_id,
    request_json,
    scheduled_operation_name,
    split_entity_id,
)
from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.notifier import InstanceNotifier
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.time.clock import Clock
from durable_host.errors import (
    InstanceAlreadyExistsError,
    InstanceFinishedError,
    InstanceNotFoundError,
    InvalidOperationError,
)
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
)
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.storage import TaskHubStorage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

log = logging.getLogger("durable_host.client")

_RUNNING_STATES = {
    OrchestrationStatus.Running,
    OrchestrationStatus.Pending,
    OrchestrationStatus.ContinuedAsNew,
    OrchestrationStatus.Suspended,
}


class EngineClient:
    """Implements durable_host.engine.client.api.ManagementApi over the task hub."""

    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        router: MessageRouter,
        clock: Clock,
        hub_name: str,
        resolve_orchestrator: Callable[[str], str],
        notifier: InstanceNotifier | None = None,
        resolve_entity: Callable[[str], str] | None = None,
    ) -> None:
        self._resolve_entity = resolve_entity
        self._storage = storage
        self._router = router
        self._clock = clock
        self._hub_name = hub_name
        self._resolve_orchestrator = resolve_orchestrator
        self._notifier = notifier
        self._rows = InstanceRowWriter(storage, hub_name)
        # Set by the Engine under a virtual clock: time jumps to the next timer while we wait.
        self.time_skipping: Callable[[], AbstractContextManager[None]] = nullcontext
        self.tracer: DurableTracer | None = None  # set by the Engine when tracing is on

    # -- start ----------------------------------------------------------------------------------

    async def start_new(
        self,
        orchestrator_name: str,
        instance_id: str | None = None,
        input_json: str | None = None,
        *,
        scheduled_start_time: datetime | None = None,
    ) -> str:
        name = self._resolve_orchestrator(orchestrator_name)
        instance_id = instance_id or uuid.uuid4().hex
        _check_instance_id(instance_id)
        existing = await self._storage.get_instance_with_etag(instance_id)
        etag: str | None = None
        generation = 0
        if existing is not None:
            record, etag = existing
            if record.runtime_status in _RUNNING_STATES:
                raise InstanceAlreadyExistsError(instance_id, record.runtime_status.name)
            generation = record.generation + 1
        now = self._clock.now()
        execution = OrchestrationInstance(instance_id, uuid.uuid4().hex)
        started = ExecutionStarted(
            timestamp=now,
            orchestration_instance=execution,
            name=name,
            version="",
            input=input_json,
            scheduled_start_time=scheduled_start_time,
            generation=generation,
        )
        # The provider enqueues first, then writes the row: a crash in between leaves a message
        # that starts the instance, never a Pending row that nothing will run.
        with (
            self.tracer.creating_orchestration(started) if self.tracer else nullcontext(started)
        ) as started:
            hand_over = await self._router.send_to_instance(
                execution, started, visible_at=scheduled_start_time, defer_local=True
            )
        try:
            await self._write_pending_row(
                instance_id,
                name,
                execution,
                input_json,
                now,
                scheduled_start_time,
                generation,
                etag,
            )
        finally:
            # The local dispatcher checks a restart against this row, so it gets the message
            # only after the row is written.
            hand_over()
        return instance_id

    async def _write_pending_row(
        self,
        instance_id: str,
        name: str,
        execution: OrchestrationInstance,
        input_json: str | None,
        now: datetime,
        scheduled_start_time: datetime | None,
        generation: int,
        etag: str | None,
    ) -> None:
        record = InstanceRecord(
            instance_id=instance_id,
            name=name,
            runtime_status=OrchestrationStatus.Pending,
            version="",
            execution_id=execution.execution_id,
            input=input_json,
            created_time=now,
            last_updated_time=now,
            scheduled_start_time=scheduled_start_time,
            generation=generation,
            task_hub_name=self._hub_name,
        )
        await self._rows.write_pending(record, read_etag=etag)

    # -- queries --------------------------------------------------------------------------------

    async def get_status(
        self,
        instance_id: str,
        *,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> InstanceStatus | None:
        record = await self._storage.get_instance(instance_id)
        if record is None:
            return None
        history: list[HistoryEvent] | None = None
        if show_history:
            loaded = await self._storage.load_history(instance_id)
            history = loaded.events
        return _status(record, show_input=show_input, history=history)

    async def get_history_slice(
        self, instance_id: str, first: int, count: int
    ) -> HistorySlice | None:
        record = await self._storage.get_instance(instance_id)
        if record is None:
            return None
        if not record.execution_id:
            return HistorySlice(events=[], first=first, total=0)
        execution = record.execution_id
        total, events = await asyncio.gather(
            self._storage.history_length(instance_id, execution),
            self._storage.load_history_slice(instance_id, execution, first, count),
        )
        return HistorySlice(events=events, first=first, total=total)

    async def list_instances(
        self, query: InstanceQuery, *, top: int = 100, continuation_token: str | None = None
    ) -> InstancePage:
        records, token = await self._storage.query_instances(
            instance_filter(query), top=top, continuation_token=continuation_token
        )
        return InstancePage(
            instances=[_status(r, show_input=True, history=None) for r in records],
            continuation_token=token,
        )

    async def wait_for_completion(
        self, instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        with self.time_skipping():
            return await self._wait_for_completion(instance_id, timeout, poll_interval)

    async def _wait_for_completion(
        self, instance_id: str, timeout: float, poll_interval: float
    ) -> InstanceStatus | None:
        deadline = time.monotonic() + timeout
        while True:
            # Register before reading, so a checkpoint between the two is not missed.
            waiter = self._notifier.register(instance_id) if self._notifier else None
            status = await self.get_status(instance_id)
            remaining = deadline - time.monotonic()
            if status is None or status.runtime_status not in _RUNNING_STATES or remaining <= 0:
                if waiter is not None:
                    await self._notifier.wait(instance_id, waiter, 0)  # type: ignore[union-attr]
                break
            if waiter is not None and self._notifier is not None:
                # Checkpoints by this host wake us at once; poll slowly for other hosts' work.
                await self._notifier.wait(instance_id, waiter, min(remaining, 1.0))
            else:
                await asyncio.sleep(min(remaining, max(poll_interval, 0.01)))
        return status

    # -- operations -----------------------------------------------------------------------------

    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None:
        await self._running(instance_id, "raise an event to")
        now = self._clock.now()
        await self._send_event(
            instance_id, EventRaised(timestamp=now, name=event_name, input=data_json)
        )

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        await self._running(instance_id, "terminate")
        await self._router.send_to_instance(
            OrchestrationInstance(instance_id, None),
            ExecutionTerminated(timestamp=self._clock.now(), input=reason),
        )

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._running(instance_id, "suspend")
        await self._router.send_to_instance(
            OrchestrationInstance(instance_id, None),
            ExecutionSuspended(timestamp=self._clock.now(), reason=reason),
        )

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._running(instance_id, "resume")
        await self._router.send_to_instance(
            OrchestrationInstance(instance_id, None),
            ExecutionResumed(timestamp=self._clock.now(), reason=reason),
        )

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        found = await self._storage.get_instance_with_etag(instance_id)
        if found is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
        record, etag = found
        if record.runtime_status in _RUNNING_STATES:
            raise InvalidOperationError(
                f"Instance '{instance_id}' is {record.runtime_status.name}; only a Failed "
                "orchestration can be rewound."
            )
        if record.runtime_status != OrchestrationStatus.Failed:
            raise InstanceFinishedError(
                f"Instance '{instance_id}' is {record.runtime_status.name}; only a Failed "
                "orchestration can be rewound."
            )
        await self._router.send_to_instance(
            OrchestrationInstance(instance_id, None),
            ExecutionRewound(timestamp=self._clock.now(), reason=reason),
        )
        await self._rows.mark_rewinding(instance_id, read_etag=etag)

    async def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        record = await self._storage.get_instance(instance_id)
        if record is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
        # Under the same id, start_new refuses an unfinished instance (InstanceAlreadyExistsError),
        # as the extension's RestartAsync leaves that check to StartNewAsync.
        loaded = await self._storage.load_history(instance_id)
        original_input = record.input
        for event in loaded.events:
            if isinstance(event, ExecutionStarted):
                original_input = event.input
                break
        return await self.start_new(
            record.name,
            None if new_instance_id else instance_id,
            original_input,
        )

    async def purge(self, instance_id: str) -> int:
        record = await self._storage.get_instance(instance_id)
        if record is None:
            return 0
        await self._storage.delete_history(instance_id)
        await self._storage.delete_instance(instance_id)
        return 1

    async def purge_by(self, query: InstanceQuery) -> int:
        deleted = 0
        token: str | None = None
        while True:
            records, token = await self._storage.query_instances(
                instance_filter(query), top=100, continuation_token=token
            )
            for record in records:
                deleted += await self.purge(record.instance_id)
            if not token:
                return deleted

    # -- entities -------------------------------------------------------------------------------

    async def signal_entity(
        self,
        name: str,
        key: str,
        operation: str,
        input_json: str | None = None,
        *,
        scheduled_time: datetime | None = None,
    ) -> None:
        """`input_json` is the JSON text of the operation input, as the extension stores it
        (for the SDK's `get_input`, a JSON string holding JSON: `json.dumps(json.dumps(v))`)."""
        instance_id = entity_instance_id(name, key)
        if self._resolve_entity is not None:
            self._resolve_entity(name)
        now = self._clock.now()
        payload = request_json(
            request_id=str(uuid.uuid4()),
            operation=operation,
            input_json=input_json,
            signal=True,
            now=now,
        )
        event_name = scheduled_operation_name(scheduled_time) if scheduled_time else OPERATION_EVENT
        await self._send_event(
            instance_id,
            EventRaised(timestamp=now, name=event_name, input=payload),
            visible_at=scheduled_time,
        )

    async def _send_event(
        self, instance_id: str, event: EventRaised, *, visible_at: datetime | None = None
    ) -> None:
        with (
            self.tracer.raising_event(instance_id, event) if self.tracer else nullcontext(event)
        ) as event:
            await self._router.send_to_instance(
                OrchestrationInstance(instance_id, None), event, visible_at=visible_at
            )

    async def read_entity(self, name: str, key: str) -> EntityState | None:
        record = await self._storage.get_instance(entity_instance_id(name, key))
        if record is None:
            return None
        state = SchedulerState.from_json(record.input)
        if not state.exists:
            return None
        return EntityState(state=state.state, last_operation_time=record.last_updated_time)

    async def list_entities(
        self,
        name: str | None = None,
        *,
        fetch_state: bool = False,
        top: int = 100,
        continuation_token: str | None = None,
        last_operation_from: datetime | None = None,
        last_operation_to: datetime | None = None,
    ) -> EntityPage:
        from durable_host.taskhub.key_escaping import escape_partition_key

        # Entity ids sort between '@' and 'A'; one entity function's between '@name@' and '@name`'.
        prefix = escape_partition_key(f"@{name.lower()}@" if name else "@")
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        clauses = [f"PartitionKey ge {_odata(prefix)} and PartitionKey lt {_odata(upper)}"]
        if last_operation_from is not None:
            clauses.append(f"LastUpdatedTime ge {_odata_time(last_operation_from)}")
        if last_operation_to is not None:
            clauses.append(f"LastUpdatedTime le {_odata_time(last_operation_to)}")
        records, token = await self._storage.query_instances(
            " and ".join(clauses), top=top, continuation_token=continuation_token
        )
        entities: list[EntityStatus] = []
        for record in records:
            state = SchedulerState.from_json(record.input)
            if not state.exists:
                continue
            entity_name, key = split_entity_id(record.instance_id)
            updated = record.last_updated_time or record.created_time
            assert updated is not None
            entities.append(
                EntityStatus(
                    name=entity_name,
                    key=key,
                    last_operation_time=updated,
                    state=state.state if fetch_state else None,
                )
            )
        return EntityPage(entities=entities, continuation_token=token)

    async def _running(self, instance_id: str, what: str) -> InstanceRecord:
        record = await self._storage.get_instance(instance_id)
        if record is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
        if record.runtime_status not in _RUNNING_STATES:
            raise InstanceFinishedError(
                f"Cannot {what} instance '{instance_id}': it is already "
                f"{record.runtime_status.name}."
            )
        return record


def _check_instance_id(instance_id: str) -> None:
    if not instance_id.strip():
        raise ValueError("An instance id must not be empty or whitespace.")
    if len(instance_id) > 256:
        raise ValueError("An instance id must be at most 256 characters long.")


def _status(
    record: InstanceRecord, *, show_input: bool, history: list[HistoryEvent] | None
) -> InstanceStatus:
    created = record.created_time or record.last_updated_time
    assert created is not None
    return InstanceStatus(
        instance_id=record.instance_id,
        name=record.name,
        runtime_status=record.runtime_status,
        created_time=created,
        last_updated_time=record.last_updated_time or created,
        input=record.input if show_input else None,
        output=record.output,
        custom_status=record.custom_status,
        execution_id=record.execution_id,
        completed_time=record.completed_time,
        history=history,
    )


def _odata(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _odata_time(value: datetime) -> str:
    return "datetime'" + value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


def instance_filter(query: InstanceQuery) -> str | None:
    """The OData filter for the Instances table."""
    from durable_host.taskhub.key_escaping import escape_partition_key

    clauses: list[str] = []
    if query.runtime_status:
        statuses = " or ".join(
            f"RuntimeStatus eq {_odata(s.name)}" for s in sorted(query.runtime_status, key=str)
        )
        clauses.append(f"({statuses})")
    if query.created_time_from is not None:
        clauses.append(f"CreatedTime ge {_odata_time(query.created_time_from)}")
    if query.created_time_to is not None:
        clauses.append(f"CreatedTime le {_odata_time(query.created_time_to)}")
    if query.instance_id_prefix:
        prefix = escape_partition_key(query.instance_id_prefix)
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        clauses.append(f"PartitionKey ge {_odata(prefix)} and PartitionKey lt {_odata(upper)}")
    if query.name_prefix:
        upper = query.name_prefix[:-1] + chr(ord(query.name_prefix[-1]) + 1)
        clauses.append(f"Name ge {_odata(query.name_prefix)} and Name lt {_odata(upper)}")
    if query.orchestrations_only:
        # Entity ids are '@name@key', and sort between '@' and 'A'.
        clauses.append("(PartitionKey lt '@' or PartitionKey ge 'A')")
    return " and ".join(clauses) or None
