"""Reading instances: one status, a page of a history, a filtered list, waiting for the end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from durable_host.engine.client.api import HistorySlice, InstancePage, InstanceQuery, InstanceStatus
from durable_host.engine.client.base import ClientBase
from durable_host.taskhub.events import HistoryEvent, OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.odata import instances_filter


def query_filter(query: InstanceQuery) -> str | None:
    """The Instances table filter for `query`."""
    return instances_filter(
        statuses=query.runtime_status,
        created_from=query.created_time_from,
        created_to=query.created_time_to,
        instance_id_prefix=query.instance_id_prefix,
        name_prefix=query.name_prefix,
        orchestrations_only=query.orchestrations_only,
    )


class Queries(ClientBase):
    async def get_status(
        self,
        instance_id: str,
        *,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> InstanceStatus | None:
        record = await self.storage.get_instance(instance_id)
        if record is None:
            return None
        history: list[HistoryEvent] | None = None
        if show_history:
            loaded = await self.storage.load_history(instance_id)
            history = loaded.events
        return _status(record, show_input=show_input, history=history)

    async def get_history_slice(
        self, instance_id: str, first: int, count: int
    ) -> HistorySlice | None:
        record = await self.storage.get_instance(instance_id)
        if record is None:
            return None
        if not record.execution_id:
            return HistorySlice(events=[], first=first, total=0)
        execution = record.execution_id
        total, events = await asyncio.gather(
            self.storage.history_length(instance_id, execution),
            self.storage.load_history_slice(instance_id, execution, first, count),
        )
        return HistorySlice(events=events, first=first, total=total)

    async def list_instances(
        self, query: InstanceQuery, *, top: int = 100, continuation_token: str | None = None
    ) -> InstancePage:
        records, token = await self.storage.query_instances(
            query_filter(query), top=top, continuation_token=continuation_token
        )
        return InstancePage(
            instances=[_status(r, show_input=True, history=None) for r in records],
            continuation_token=token,
        )

    async def wait_for_completion(
        self, instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        with self.time_skipping():
            return await self._wait_until(instance_id, timeout, poll_interval, _finished)

    async def wait_for_start(
        self, instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        # No time skipping: a start is never waiting on a timer of its own.
        return await self._wait_until(instance_id, timeout, poll_interval, _started)

    async def _wait_until(
        self,
        instance_id: str,
        timeout: float,
        poll_interval: float,
        done: Callable[[InstanceStatus], bool],
    ) -> InstanceStatus | None:
        deadline = time.monotonic() + timeout
        notifier = self.notifier
        end_only = done is _finished
        # The row as this host wrote it last, while this host runs the instance: if it says
        # the instance is still going, its next checkpoints wake us, so no first read.
        fresh = self._known_row(instance_id, done)
        read_at = time.monotonic()
        while True:
            # Register before reading, so a checkpoint between the two is not missed.
            waiter = notifier.register(instance_id, end_only=end_only) if notifier else None
            if fresh is not None:
                status: InstanceStatus | None = _status(fresh, show_input=True, history=None)
            else:
                status = await self.get_status(instance_id)
                read_at = time.monotonic()
            remaining = deadline - time.monotonic()
            if status is None or done(status) or remaining <= 0:
                if notifier is not None and waiter is not None:
                    await notifier.wait(instance_id, waiter, 0)
                break
            if notifier is None or waiter is None:
                await asyncio.sleep(min(remaining, max(poll_interval, 0.01)))
                continue
            # Checkpoints by this host wake us at once, with the row they wrote; poll slowly
            # for other hosts' work, and more slowly while this host holds the instance (in
            # case its lease moves).
            poll = _OWNED_POLL if notifier.covers(instance_id) else _POLL
            fresh = await notifier.wait(instance_id, waiter, min(remaining, poll))
            if fresh is None and not waiter.done() and time.monotonic() - read_at < _KNOWN_POLL:
                # A poll while the row this host wrote last still stands (this host kept the
                # partition, or the row would be forgotten): that row, read now and then.
                fresh = self._known_row(instance_id, done)
        return status

    def _known_row(
        self, instance_id: str, done: Callable[[InstanceStatus], bool]
    ) -> InstanceRecord | None:
        """The row this host wrote last, if it runs the instance and the row is not `done`."""
        if self.notifier is None or not self.notifier.covers(instance_id):
            return None
        row = self.rows.known.row(instance_id)
        if row is None or done(_status(row, show_input=True, history=None)):
            return None
        return row


# Seconds between reads of a waited-for instance that another host may be running, and
# one that this host runs (its checkpoints wake the waiter; the read is a safety net);
# while the row this host wrote last stands, it is read only this often.
_POLL = 1.0
_OWNED_POLL = 5.0
_KNOWN_POLL = 30.0


def _finished(status: InstanceStatus) -> bool:
    return status.runtime_status.is_terminal


def _started(status: InstanceStatus) -> bool:
    return status.runtime_status != OrchestrationStatus.Pending


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
        version=record.version,
        tags=record.tags,
        scheduled_start_time=record.scheduled_start_time,
    )
