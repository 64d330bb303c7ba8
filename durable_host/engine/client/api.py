"""The engine's management API as seen by the HTTP layer and tests.

`EngineClient` (engine/client/engine_client.py) implements `ManagementApi`. The HTTP layer
(http/durable_api.py) and the pytest plugin code against this protocol only.

Payloads (`input`, `output`, `custom_status`, event data) are JSON *text*, as
stored in the task hub; the HTTP layer parses them for response bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from durable_host.taskhub.events import HistoryEvent, OrchestrationStatus


@dataclass(frozen=True)
class InstanceStatus:
    """One orchestration (or entity) instance, from the Instances row (+ history if asked)."""

    instance_id: str
    name: str
    runtime_status: OrchestrationStatus
    created_time: datetime
    last_updated_time: datetime
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    execution_id: str | None = None
    completed_time: datetime | None = None
    history: list[HistoryEvent] | None = None
    version: str | None = None
    tags: dict[str, str] | None = None
    scheduled_start_time: datetime | None = None


@dataclass(frozen=True)
class InstanceQuery:
    """Filter for listing and purging instances. Empty fields do not filter."""

    runtime_status: frozenset[OrchestrationStatus] = field(default_factory=frozenset)
    created_time_from: datetime | None = None
    created_time_to: datetime | None = None
    instance_id_prefix: str | None = None
    # The dashboard's filters; the Durable HTTP API has neither.
    name_prefix: str | None = None
    orchestrations_only: bool = False


@dataclass(frozen=True)
class InstancePage:
    instances: list[InstanceStatus]
    continuation_token: str | None


@dataclass(frozen=True)
class HistorySlice:
    """Part of an instance's current execution: `events` start at index `first` of `total`."""

    events: list[HistoryEvent]
    first: int
    total: int


@dataclass(frozen=True)
class EntityState:
    """An existing entity's state: JSON text (None when the entity has no state)."""

    state: str | None
    last_operation_time: datetime | None = None


@dataclass(frozen=True)
class EntityStatus:
    """One entity in a listing; `state` is JSON text, and None unless the state was fetched."""

    name: str
    key: str
    last_operation_time: datetime
    state: str | None = None
    # False for an entity row without state (deleted, or only ever locked): listed only when
    # asked for (`include_empty`), for cleaning entity storage.
    exists: bool = True


@dataclass(frozen=True)
class EntityPage:
    entities: list[EntityStatus]
    continuation_token: str | None


class ManagementApi(Protocol):
    """Errors: InstanceNotFoundError (404), InstanceFinishedError (410),
    FunctionNotFoundError (400), InstanceAlreadyExistsError (409, from start_new and an
    in-place restart), InvalidOperationError (per route), all in durable_host.errors."""

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
        """Start an orchestration; returns its id. Unknown orchestrator: FunctionNotFoundError;
        an unfinished instance with that id: InstanceAlreadyExistsError."""
        ...

    async def get_status(
        self,
        instance_id: str,
        *,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> InstanceStatus | None: ...

    async def list_instances(
        self, query: InstanceQuery, *, top: int = 100, continuation_token: str | None = None
    ) -> InstancePage: ...

    async def get_history_slice(
        self, instance_id: str, first: int, count: int
    ) -> HistorySlice | None:
        """Events `first..first+count` of the current execution (None: no such instance)."""
        ...

    async def raise_event(
        self, instance_id: str, event_name: str, data_json: str | None
    ) -> None: ...

    async def terminate(self, instance_id: str, reason: str | None) -> None: ...

    async def suspend(self, instance_id: str, reason: str | None) -> None: ...

    async def resume(self, instance_id: str, reason: str | None) -> None: ...

    async def rewind(self, instance_id: str, reason: str | None) -> None: ...

    async def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        """Restart with the original input; returns the (new or same) instance id."""
        ...

    async def purge(self, instance_id: str) -> int: ...

    async def purge_by(self, query: InstanceQuery) -> int: ...

    async def wait_for_completion(
        self, instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        """Wait until the instance reaches a terminal status or the timeout passes; returns the
        last status seen (None if the instance does not exist)."""
        ...

    async def wait_for_start(
        self, instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        """Wait until the instance has left Pending or the timeout passes; returns the last
        status seen (None if the instance does not exist)."""
        ...

    async def signal_entity(
        self,
        name: str,
        key: str,
        operation: str,
        input_json: str | None = None,
        *,
        scheduled_time: datetime | None = None,
    ) -> None:
        """Send operation `operation` to entity `@name@key` (fire and forget). `input_json` is
        the operation input as JSON text. Unknown entity function: FunctionNotFoundError."""
        ...

    async def read_entity(self, name: str, key: str) -> EntityState | None:
        """The entity's state, or None if it does not exist."""
        ...

    async def list_entities(
        self,
        name: str | None = None,
        *,
        fetch_state: bool = False,
        top: int = 100,
        continuation_token: str | None = None,
        last_operation_from: datetime | None = None,
        last_operation_to: datetime | None = None,
        instance_id_prefix: str | None = None,
        include_empty: bool = False,
    ) -> EntityPage:
        """Existing entities (of entity function `name`, or whose `@name@key` id starts with
        `instance_id_prefix`, if given), one page at a time."""
        ...
