"""Pure entity formats: ids, the stored SchedulerState, request messages, SDK batches.

No I/O here; `entities.py` does the receiving, invoking and checkpointing.
Formats: docs/task-hub-layout.md §6 (SchedulerState, RequestMessage) and
docs/protocol.md §2 (the batch the SDK's entity function reads and the
result it returns).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from durable_host.engine.replay.entity_sorter import MessageSorter, parse_ticks
from durable_host.taskhub.timestamps import parse_timestamp

__all__ = [
    "EntityResult",
    "OperationOutcome",
    "OperationRequest",
    "SchedulerState",
    "build_batch_json",
    "entity_instance_id",
    "parse_entity_result",
    "parse_operation_time",
    "response_json",
    "split_entity_id",
]

log = logging.getLogger("durable_host.entities")

OPERATION_EVENT = "op"
# The other entity messages (Core's EntityMessageEventNames.cs 23-35).
RELEASE_EVENT = "release"
CONTINUE_EVENT = "continue"


def entity_instance_id(name: str, key: str) -> str:
    """`@<lower-cased name>@<key>`: the instance id the extension gives an entity."""
    if not name or "@" in name:
        raise ValueError(
            f"Entity name {name!r} is not valid: it must be non-empty and must not contain '@'."
        )
    return f"@{name.lower()}@{key}"


def split_entity_id(instance_id: str) -> tuple[str, str]:
    """`@name@key` -> (name, key); the key may itself contain '@'."""
    if not instance_id.startswith("@") or "@" not in instance_id[1:]:
        raise ValueError(f"{instance_id!r} is not an entity instance id ('@name@key').")
    name, key = instance_id[1:].split("@", 1)
    return name, key


@dataclass(frozen=True)
class OperationRequest:
    """One RequestMessage (an `op` EventRaised's Input).

    `timestamp` and `predecessor` are the sender's ordering labels in .NET ticks (0: none),
    `position` a forwarded lock request's place, `scheduled` whether it has a `due` time;
    `body` is the message as received, kept to store it again while it waits in the sorter.
    """

    request_id: str
    operation: str | None
    signal: bool
    input: str | None
    parent: str | None
    parent_execution: str | None
    is_lock_request: bool = False
    timestamp: int = 0
    predecessor: int = 0
    position: int = 0
    scheduled: bool = False
    body: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, text: str | None) -> OperationRequest:
        return cls.from_body(json.loads(text or ""))

    @classmethod
    def from_body(cls, body: Any) -> OperationRequest:
        """From the parsed JSON object; ValueError if it is not a request message."""
        if not isinstance(body, dict) or "id" not in body:
            raise ValueError("an entity request message must be a JSON object with an 'id'")
        operation = body.get("op")
        return cls(
            request_id=str(body["id"]),
            operation=operation,
            signal=bool(body.get("signal", False)),
            input=body.get("input"),
            parent=body.get("parent"),
            parent_execution=body.get("parentExecution"),
            is_lock_request=operation is None
            and (bool(body.get("lockset")) or bool(body.get("IsLockRequest"))),
            timestamp=_label(body, "Timestamp"),
            predecessor=_label(body, "Predecessor"),
            position=int(body.get("pos") or 0),
            scheduled=bool(body.get("due")),
            body=body,
        )

    @property
    def expects_response(self) -> bool:
        return not self.signal and bool(self.parent)


def _label(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    return parse_ticks(value) if isinstance(value, str) and value else 0


EntitySorter = MessageSorter[OperationRequest]


@dataclass(frozen=True)
class SchedulerState:
    """ExecutionStarted.Input of an entity: whether it exists, its state (JSON text), the
    requests waiting in its queue, the orchestration holding its lock, and the sorter that
    orders requests per sender (entity_sorter.py), with the requests it holds back.

    Two writers use two formats (docs/task-hub-layout.md §6): the extension's `SchedulerState`
    (EntityScheduler/SchedulerState.cs 12-48: `exists`, `state`, `queue`, `lockedBy`,
    `suspended`, `sorter`) and DurableTask.Core's (Entities/StateFormat/SchedulerState.cs
    24-58: the same members but no `exists`; an entity exists when `state` is not null, 28).
    Both are read; the extension's is written unless `core_format` (Core's Newtonsoft reader
    ignores the extra `exists`, so the extension's format serves both), every member left out
    at its default as both writers do.
    """

    exists: bool = False
    state: str | None = None
    sorter: EntitySorter = field(default_factory=MessageSorter)
    queue: tuple[OperationRequest, ...] = ()
    locked_by: str | None = None
    suspended: bool = False

    def to_json(self, *, core_format: bool = False) -> str:
        body: dict[str, Any] = {}
        if self.exists and not core_format:
            body["exists"] = True
        if self.exists and self.state is not None:
            body["state"] = self.state
        if self.queue:
            body["queue"] = [request.body for request in self.queue]
        if self.locked_by is not None:
            body["lockedBy"] = self.locked_by
        if self.suspended:
            body["suspended"] = True
        body["sorter"] = self.sorter.to_json(lambda request: request.body)
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SchedulerState:
        if not text:
            return cls()
        try:
            body = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(body, dict):
            return cls()
        state = body.get("state")
        state = state if isinstance(state, str) else None
        # The extension's format says `exists`; Core's leaves it out (a state means it exists).
        exists = bool(body["exists"]) if "exists" in body else state is not None
        locked_by = body.get("lockedBy")
        return cls(
            exists=exists,
            state=state if exists else None,
            sorter=_read_sorter(body.get("sorter")),
            queue=_read_queue(body.get("queue")),
            locked_by=locked_by if isinstance(locked_by, str) else None,
            suspended=bool(body.get("suspended", False)),
        )

    def custom_status(self) -> str:
        """The Instances row's CustomStatus, the extension's `EntityStatus` (EntityScheduler/
        EntityStatus.cs 12-37; TaskEntityShim.cs 131-136): every member left out at its
        default, so a deleted entity's is `{}` (Core's `EntityStatus.TestEntityExists` is a
        substring test for `entityExists`, EntityStatus.cs 35-38)."""
        body: dict[str, Any] = {}
        if self.exists:
            body["entityExists"] = True
        if self.queue:
            body["queueSize"] = len(self.queue)
        if self.locked_by is not None:
            body["lockedBy"] = self.locked_by
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _read_queue(body: Any) -> tuple[OperationRequest, ...]:
    if not isinstance(body, list):
        return ()
    queue: list[OperationRequest] = []
    for item in body:
        try:
            queue.append(OperationRequest.from_body(item))
        except (ValueError, TypeError) as exc:
            log.warning("Dropping an unreadable request from an entity's queue (%s)", exc)
    return tuple(queue)


def _read_sorter(body: Any) -> EntitySorter:
    try:
        return MessageSorter.from_json(body, OperationRequest.from_body)
    except (ValueError, TypeError, AttributeError) as exc:
        # Ordering is lost, not the entity: its state is still good.
        log.warning("Ignoring an entity's unreadable message sorter (%s)", exc)
        return MessageSorter()


def request_json(
    *,
    request_id: str,
    operation: str,
    input_json: str | None,
    signal: bool,
    now: datetime,
    parent: str | None = None,
    parent_execution: str | None = None,
) -> str:
    """A RequestMessage as the extension writes it (`input` is JSON text, itself a string)."""
    body = {
        "op": operation,
        "signal": signal,
        "input": input_json,
        "id": request_id,
        "parent": parent,
        "parentExecution": parent_execution,
        "Timestamp": _dotnet_o(now),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def parse_operation_time(event_name: str) -> datetime | None:
    """The due time of a scheduled operation `op@<time>`; None for a plain `op`."""
    if not event_name.startswith(OPERATION_EVENT + "@"):
        return None
    text = event_name[len(OPERATION_EVENT) + 1 :]
    try:
        return parse_timestamp(text)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def scheduled_operation_name(due: datetime) -> str:
    return f"{OPERATION_EVENT}@{_dotnet_o(due)}"


def is_operation_event(event_name: str) -> bool:
    return event_name == OPERATION_EVENT or event_name.startswith(OPERATION_EVENT + "@")


def build_batch_json(
    name: str, key: str, state: SchedulerState, operations: list[OperationRequest]
) -> str:
    """The entity trigger payload (docs/protocol.md §2.1)."""
    payload = {
        "self": {"name": name, "key": key},
        "exists": state.exists,
        "state": state.state if state.exists else None,
        "batch": [
            {"name": op.operation, "input": op.input, "isSignal": op.signal} for op in operations
        ],
    }
    return json.dumps(payload, ensure_ascii=False)


@dataclass(frozen=True)
class OperationOutcome:
    result: str | None
    is_error: bool


@dataclass(frozen=True)
class EntityResult:
    state: SchedulerState
    outcomes: list[OperationOutcome]


def parse_entity_result(text: str, operation_count: int) -> EntityResult:
    """The SDK's batch result (docs/protocol.md §2.2); ValueError if it is not one."""
    body = json.loads(text)
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ValueError("the entity function returned no 'results' list")
    results = body["results"]
    if len(results) != operation_count:
        raise ValueError(
            f"the entity function returned {len(results)} results for {operation_count} operations"
        )
    exists = bool(body.get("entityExists", False))
    raw_state = body.get("entityState")
    state = SchedulerState(
        exists=exists, state=raw_state if exists and isinstance(raw_state, str) else None
    )
    outcomes = [
        OperationOutcome(result=r.get("result"), is_error=bool(r.get("isError", False)))
        for r in results
    ]
    return EntityResult(state=state, outcomes=outcomes)


def response_json(outcome: OperationOutcome) -> str:
    """The Input of the EventRaised that answers a call (an extension ResponseMessage)."""
    body: dict[str, Any] = {"result": outcome.result}
    if outcome.is_error:
        body["exceptionType"] = "Error"
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def error_outcome(message: str) -> OperationOutcome:
    """An operation that could not run at all: the caller gets `message` as its error."""
    return OperationOutcome(result=json.dumps(message, ensure_ascii=False), is_error=True)


def _dotnet_o(value: datetime) -> str:
    """.NET "o" format in UTC: 7 fractional digits and `Z`."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
