"""InstanceRowWriter: every write of an instance's Instances row, under one ETag policy.

The row (docs/task-hub-layout.md §4) has two kinds of writers: the instance's owner, after
each episode and when it repairs a row a crash left behind, and a client, which writes the
Pending row of a start, restart or rewind after sending the message that does it. So the row
can change between a writer's read and its write, and a write can land late (queued behind a
storage stall while the partition moved to another host).

The policy: no write is blind. Each is conditioned on a version of the row (its ETag): the
one this host last wrote (for the first episode of a start made through this host's client,
the Pending row that client inserted: one read fewer per start) or has just read; where
there is no row, it is an insert, which fails if one appeared meanwhile. So after each write
this host knows the row exactly (known_rows.py), which a client waiting here is handed.
When that version is no longer current, the row changed meanwhile, and who wins depends on
the writer:

- The owner (`write_owned`, `repair`) reads the row again and writes over it, unless it is a
  finished row of the same execution and this write does not finish it: that row's writer
  saw more history than this episode (the partition's next owner). A row that keeps changing
  (3 reads) raises CheckpointConflictError, so the episode's messages stay queued and their
  redelivery repairs the row.
- A client (`write_pending`, `mark_rewinding`) yields: the row changed because a worker has
  already run the message the client sent first, and the worker's row is the newer one (the
  provider's `SetNewExecutionAsync` ignores that race the same way).

An entity's row (`write_entity`) is the exception: it is merged without a condition, right
after the entity batch's ETag-guarded history write, which already decided who owns the
entity; an entity never finishes, so there is no end to protect.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from durable_host.engine.dispatch.known_rows import KnownRows
from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.replay.decision import Completion
from durable_host.errors import CheckpointConflictError
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionStarted,
    ExecutionSuspended,
    HistoryEvent,
    OrchestrationStatus,
)
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.storage import TaskHubStorage

__all__ = ["InstanceRowWriter", "entity_row_fields"]

log = logging.getLogger("durable_host.orchestrations")

# Fields written even when None: "null" is their text for "none" (instances.py).
_NULLABLE = frozenset({"custom_status", "tags"})
# Reads and conditional writes of a row that other writers keep changing, before giving up.
_ROW_WRITE_ATTEMPTS = 3


class InstanceRowWriter:
    def __init__(self, storage: TaskHubStorage, hub_name: str) -> None:
        self._storage = storage
        self._hub_name = hub_name
        # The rows as this writer wrote them last: the first episode of a start made through
        # this host's client merges into the Pending row's version instead of reading the row
        # first (if the row changed meanwhile the merge fails and it reads).
        self.known = KnownRows()

    # -- the owner --------------------------------------------------------------------------------

    async def write_owned(self, session: Session, fields: dict[str, Any]) -> InstanceRecord | None:
        """Merge an episode's fields into the row, never over a newer owner's end; returns
        the row as it now is, when known (known_rows.py).

        Conditioned on the version this session last wrote, or, for its first write, on the
        version this writer wrote last for the execution (the Pending row it inserted for the
        start), else (a host that just took the partition over has no ETag yet) on the row
        as read now.
        """
        instance_id = session.instance_id
        known = session.row_etag or self.known.etag(instance_id, session.execution_id)
        if known is not None:
            try:
                written = await self._storage.merge_instance(instance_id, fields, etag=known)
                session.wrote_row(written)
                return self.known.merged(instance_id, known, written, fields)
            except CheckpointConflictError:
                session.wrote_row(None)
                self.known.forget(instance_id)
        for _ in range(_ROW_WRITE_ATTEMPTS):
            write_over, etag = await self._version_to_write_over(session, fields)
            if not write_over:
                return self.known.row(instance_id)
            try:
                session.wrote_row(await self._write_version(instance_id, fields, etag))
                return self.known.row(instance_id)
            except CheckpointConflictError:
                log.warning(
                    "Instance %s: its row changed while being written; reading it again",
                    session.instance_id,
                )
        raise CheckpointConflictError(
            f"The Instances row of {session.instance_id} kept changing while this host wrote "
            "it; the episode's messages stay queued and their redelivery repairs the row."
        )

    async def _write_version(
        self, instance_id: str, fields: dict[str, Any], etag: str | None
    ) -> str:
        if etag is not None:
            written = await self._storage.merge_instance(instance_id, fields, etag=etag)
            self.known.merged(instance_id, etag, written, fields)
            return written
        values = {"name": "", **fields}
        record = InstanceRecord(instance_id=instance_id, **values)
        written = await self._storage.insert_instance(record)
        self.known.wrote(record, written)
        return written

    async def _version_to_write_over(
        self, session: Session, fields: dict[str, Any]
    ) -> tuple[bool, str | None]:
        """Whether to write, and the ETag of the row to merge into (None: no row yet)."""
        current = await self._storage.get_instance_with_etag(session.instance_id)
        if current is None:
            return True, None
        record, etag = current
        self.known.wrote(record, etag)
        newer_end = (
            record.runtime_status.is_terminal
            and record.execution_id == session.execution_id
            and "completed_time" not in fields
        )
        if newer_end:
            log.warning(
                "Instance %s: its row already says %s (written by the host that finished "
                "it); not writing this host's older status over it",
                session.instance_id,
                record.runtime_status.name,
            )
            return False, etag
        return True, etag

    async def repair(
        self,
        session: Session,
        now: datetime,
        custom_status: Callable[[], Awaitable[str | None]] | None = None,
    ) -> None:
        """Make the row say what the session's history says (status and execution), and what
        `custom_status` gives: the last episode's (only the row holds it; soak seed 1).

        A crash after an episode's history write but before its row write leaves the row
        behind (Pending after the first episode, Running after the last); the episode's
        messages then come back and are all discarded as duplicates, so without this nothing
        would bring the row up to date, and clients waiting for a status would wait forever.
        Written as the owner: this host's history can be behind a newer owner's, whose final
        row must not be put back to Running.
        """
        started = session.started
        status = session.status
        if started is None or status is None:
            return
        record = await self._storage.get_instance(session.instance_id)
        if record is None:
            if await _purged(self._storage, session.instance_id):
                return
        elif record.runtime_status == status and record.execution_id == session.execution_id:
            return
        log.warning(
            "Instance %s is %s by its history but its Instances row says %s; rewriting the row",
            session.instance_id,
            status.name,
            record.runtime_status.name if record is not None else "nothing",
        )
        completion, when = _completion(session.history, now)
        custom = await _last_custom_status(custom_status, record)
        fields = self.episode_fields(
            session,
            started,
            session.history,
            completion,
            custom,
            when,
            suspended=status == OrchestrationStatus.Suspended,
        )
        if custom_status is None:
            del fields["custom_status"]  # not in the history: leave whatever the row has
        session.wrote_row(None)
        await self.write_owned(session, fields)

    def episode_fields(
        self,
        session: Session,
        started: ExecutionStarted,
        new_events: Sequence[HistoryEvent],
        completion: Completion | None,
        custom_status: str | None,
        now: datetime,
        *,
        suspended: bool,
    ) -> dict[str, Any]:
        """The row's fields after an episode that appended `new_events` to the history, as the
        provider's UpdateStateAsync sets them (AzureTableTrackingStore.cs 984-1061): a value
        that is None is left out (the merge keeps what the row has), a suspension's or a
        resumption's reason is the Output, and only an execution's end sets CompletedTime."""
        fields: dict[str, Any] = {
            "custom_status": custom_status,
            "execution_id": session.execution_id,
            "last_updated_time": now,
            "task_hub_name": self._hub_name,
        }
        for event in new_events:
            if isinstance(event, ExecutionStarted):
                fields.update(
                    name=started.name,
                    version=started.version or "",
                    input=started.input,
                    created_time=started.timestamp,
                    generation=started.generation,
                    # TagsSerializer.Serialize: "null" without tags (instances.py).
                    tags=started.tags,
                )
            elif isinstance(event, (ExecutionSuspended, ExecutionResumed)):
                fields["output"] = event.reason
        if completion is not None:
            fields.update(runtime_status=completion.status, output=completion.result)
            if completion.status != OrchestrationStatus.ContinuedAsNew:
                fields["completed_time"] = now
        elif suspended:
            fields["runtime_status"] = OrchestrationStatus.Suspended
        else:
            fields["runtime_status"] = OrchestrationStatus.Running
        return {
            name: value for name, value in fields.items() if value is not None or name in _NULLABLE
        }

    async def write_entity(self, instance_id: str, fields: dict[str, Any]) -> None:
        """The row of an entity whose batch was just stored (`entity_row_fields`)."""
        self.known.forget(instance_id)
        await self._storage.merge_instance(instance_id, {**fields, "task_hub_name": self._hub_name})

    # -- a client ---------------------------------------------------------------------------------

    async def write_pending(self, started: ExecutionStarted, *, read_etag: str | None) -> bool:
        """Insert the Pending row of the instance `started` starts, or replace the row read
        before (`read_etag`: a restart of a finished instance).

        False when a worker wrote the row first: it already ran the start message, which went
        out before this write, and moved the row on to Running; that row is kept.
        """
        execution = started.orchestration_instance
        record = InstanceRecord(
            instance_id=execution.instance_id,
            name=started.name,
            runtime_status=OrchestrationStatus.Pending,
            version=started.version,
            execution_id=execution.execution_id,
            input=started.input,
            created_time=started.timestamp,
            last_updated_time=started.timestamp,
            scheduled_start_time=started.scheduled_start_time,
            generation=started.generation,
            tags=started.tags,
            task_hub_name=self._hub_name,
        )
        try:
            if read_etag is None:
                etag = await self._storage.insert_instance(record)
            else:
                etag = await self._storage.insert_or_replace_instance(record, etag=read_etag)
        except CheckpointConflictError:
            log.debug("Instance %s: a worker wrote its row first; keeping that", record.instance_id)
            return False
        self.known.wrote(record, etag)
        return True

    async def mark_rewinding(self, instance_id: str, *, read_etag: str) -> bool:
        """Set the Failed row read before (`read_etag`) to Pending, after the rewind was sent.

        False when a worker has already run the rewind and moved the row on; that row is kept.
        """
        fields: dict[str, Any] = {"runtime_status": OrchestrationStatus.Pending}
        try:
            written = await self._storage.merge_instance(instance_id, fields, etag=read_etag)
        except CheckpointConflictError:
            log.debug("Instance %s: a worker ran the rewind first; keeping its row", instance_id)
            return False
        self.known.merged(instance_id, read_etag, written, fields)
        return True


def entity_row_fields(started: ExecutionStarted, custom_status: str | None) -> dict[str, Any]:
    """The row's fields after an entity batch stored as the execution `started`."""
    return {
        "name": started.name,
        "version": started.version,
        "runtime_status": OrchestrationStatus.Running,
        "execution_id": started.orchestration_instance.execution_id,
        "input": started.input,
        "custom_status": custom_status,
        "created_time": started.timestamp,
        "last_updated_time": started.timestamp,
        "generation": started.generation,
    }


async def _purged(storage: TaskHubStorage, instance_id: str) -> bool:
    """No row and no history: purged (by another host, whose purge this host's cached copy
    outlived). Writing the row from that copy would list it again, with no history."""
    if (await storage.load_history(instance_id)).events:
        return False
    log.info("Instance %s was purged; its row is not rewritten", instance_id)
    return True


def _completion(history: list[HistoryEvent], now: datetime) -> tuple[Completion | None, datetime]:
    """The execution's end by its history, and when (`now` while it runs)."""
    completed = next((e for e in reversed(history) if isinstance(e, ExecutionCompleted)), None)
    if completed is None:
        return None, now
    status = completed.orchestration_status
    return Completion(status, completed.result, completed.failure_details), completed.timestamp


async def _last_custom_status(
    get: Callable[[], Awaitable[str | None]] | None, record: InstanceRecord | None
) -> str | None:
    """`get`'s answer; the row's own when deciding the last episode again failed (the
    orchestrator's executor unreachable, say): the status and end are repaired all the same."""
    if get is None:
        return None
    try:
        return await get()
    except Exception:
        log.warning(
            "Could not decide the last episode again for its custom status; keeping the row's",
            exc_info=True,
        )
        return record.custom_status if record is not None else None
