"""An entity's queue and lock: which delivered requests run now and which wait (pure).

The extension's entity scheduler (DurableTaskExtension.cs 846-1010, `EntityMiddleware`; the
same rules in DurableTask.Core's TaskEntityDispatcher.DetermineWork) keeps waiting requests in
the SchedulerState's `queue` and the orchestration that holds the entity's lock in `lockedBy`:

1. each delivered request joins the queue, except the lock holder's, which go to its front
   (922-935, 964-968); a `release` from the holder frees the lock (938-954); a `continue`
   ends a suspension (957-961), as does a suspension older than 10 s (970-980);
2. unless suspended, requests leave the queue in order while the entity is unlocked or the
   head is the holder's (SchedulerState.cs 79-84), up to the first lock request, which is
   taken last (983-1012);
3. after the operations, the lock request locks the entity for its orchestration and goes on
   to the next entity of its lock set, or back to the orchestration when this one is the
   last (TaskEntityShim.cs 410-437).

A host that stopped a batch early (a timeout, shutdown) left the rest in the queue
(TaskEntityShim.cs 357-374); they run here like any waiting request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from durable_host.engine.dispatch.entity_state import (
    OPERATION_EVENT,
    OperationRequest,
    SchedulerState,
    entity_instance_id,
)
from durable_host.taskhub.storage import ReceivedMessage

__all__ = ["LockGrant", "Schedule", "grant_lock", "schedule"]

# DurableTaskExtension.cs 976: a suspension is never meant to last longer.
_SUSPENSION_LIMIT = timedelta(seconds=10)
# The ResponseMessage a lock's last entity sends (DurableEntityContext.cs 637-651).
_LOCK_ACQUIRED = json.dumps({"result": "Lock Acquisition Completed"}, separators=(",", ":"))

Delivered = tuple[ReceivedMessage | None, OperationRequest]


@dataclass(frozen=True)
class Schedule:
    """The state with its queue, lock and suspension after this batch's messages; the
    operations that run now (with their message, None for one that waited in the queue);
    the lock request to grant after them."""

    state: SchedulerState
    run: list[Delivered]
    lock_request: OperationRequest | None


def schedule(
    state: SchedulerState,
    delivered: list[Delivered],
    *,
    releases: list[tuple[int, str]],
    resumed: bool,
    suspended_since: datetime | None,
    now: datetime,
) -> Schedule:
    """`releases`: (number of requests delivered before it, releasing orchestration id)."""
    locked_by = state.locked_by
    waiting: list[Delivered] = [(None, request) for request in state.queue]
    holders: list[Delivered] = []
    pending_releases = sorted(releases)
    for index, item in enumerate([*delivered, None]):
        while pending_releases and pending_releases[0][0] <= index:
            _, releaser = pending_releases.pop(0)
            if locked_by == releaser:
                locked_by = None
        if item is None:
            break
        if locked_by is not None and locked_by == item[1].parent:
            holders.append(item)
        else:
            waiting.append(item)
    waiting = holders + waiting
    suspended = state.suspended and not resumed
    if suspended and suspended_since is not None and now - suspended_since > _SUSPENSION_LIMIT:
        suspended = False
    run: list[Delivered] = []
    lock_request: OperationRequest | None = None
    while not suspended and waiting and (locked_by is None or locked_by == waiting[0][1].parent):
        item = waiting.pop(0)
        if item[1].is_lock_request:
            lock_request = item[1]
            break
        run.append(item)
    new_state = replace(
        state,
        queue=tuple(request for _, request in waiting),
        locked_by=locked_by,
        suspended=suspended,
    )
    return Schedule(state=new_state, run=run, lock_request=lock_request)


@dataclass(frozen=True)
class LockGrant:
    """Where a granted lock request goes next: `target` (an instance id, with its execution
    when it is the orchestration), the event name and its input."""

    locked_by: str | None
    target: str
    target_execution: str | None
    event_name: str
    event_input: str


def grant_lock(request: OperationRequest) -> LockGrant:
    """ProcessLockRequest (TaskEntityShim.cs 410-437): lock for the requesting orchestration,
    then forward to the next entity of the lock set or answer the orchestration."""
    body = dict(request.body)
    lock_set = body.get("lockset") or []
    position = request.position + 1
    if position < len(lock_set):
        body["pos"] = position
        return LockGrant(
            locked_by=request.parent,
            target=_scheduler_id(lock_set[position]),
            target_execution=None,
            event_name=OPERATION_EVENT,
            event_input=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        )
    return LockGrant(
        locked_by=request.parent,
        target=request.parent or "",
        target_execution=request.parent_execution,
        event_name=request.request_id,
        event_input=_LOCK_ACQUIRED,
    )


def _scheduler_id(entity: Any) -> str:
    # EntityId is `{"name":…,"key":…}` in both writers (extension EntityId.cs 36-43, Core
    # EntityId.cs 44-51); its scheduler id `@name@key`, the name in lower case.
    if isinstance(entity, dict):
        return entity_instance_id(str(entity.get("name", "")), str(entity.get("key", "")))
    text = str(entity)
    return text if text.startswith("@") else f"@{text}"
