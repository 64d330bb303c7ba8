"""An in-memory ManagementApi for unit tests of the HTTP mapping (no storage involved)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from durable_host.engine.client.api import (
    EntityPage,
    EntityState,
    HistorySlice,
    InstancePage,
    InstanceQuery,
    InstanceStatus,
)
from durable_host.errors import (
    FunctionNotFoundError,
    InstanceAlreadyExistsError,
    InstanceFinishedError,
    InstanceNotFoundError,
    InvalidOperationError,
)
from durable_host.taskhub.events import OrchestrationStatus

T0 = datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)


class FakeManagementApi:
    def __init__(self, orchestrators: tuple[str, ...] = ("hello",)) -> None:
        self.orchestrators = orchestrators
        self.instances: dict[str, InstanceStatus] = {}
        # (operation, *arguments) of every call, for the tests to read back.
        self.calls: list[tuple[Any, ...]] = []

    def put(self, instance_id: str, status: OrchestrationStatus, **fields: object) -> None:
        self.instances[instance_id] = InstanceStatus(
            instance_id=instance_id,
            name=str(fields.pop("name", "hello")),
            runtime_status=status,
            created_time=T0,
            last_updated_time=T0,
            **fields,  # type: ignore[arg-type]
        )

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
        if orchestrator_name not in self.orchestrators:
            raise FunctionNotFoundError(
                f"The function '{orchestrator_name}' doesn't exist, is disabled, or is not an "
                "orchestrator function. Additional info: The following are the known "
                f"orchestrator functions: '{', '.join(self.orchestrators)}'."
            )
        new_id = instance_id or uuid.uuid4().hex  # as the engine makes one
        existing = self.instances.get(new_id)
        if existing is not None and not existing.runtime_status.is_terminal:
            raise InstanceAlreadyExistsError(new_id, existing.runtime_status.name)
        self.put(new_id, OrchestrationStatus.Pending, name=orchestrator_name, input=input_json)
        self.calls.append(("start_new", orchestrator_name, new_id, input_json))
        return new_id

    async def get_status(
        self,
        instance_id: str,
        *,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> InstanceStatus | None:
        flags = (show_history, show_history_output, show_input)
        self.calls.append(("get_status", instance_id, *flags))
        status = self.instances.get(instance_id)
        if status is not None and not show_history:
            status = replace(status, history=None)
        return status

    async def list_instances(
        self, query: InstanceQuery, *, top: int = 100, continuation_token: str | None = None
    ) -> InstancePage:
        self.calls.append(("list", query, top, continuation_token))
        matching = [
            s
            for s in self.instances.values()
            if (not query.runtime_status or s.runtime_status in query.runtime_status)
            and (not query.instance_id_prefix or s.instance_id.startswith(query.instance_id_prefix))
        ]
        start = int((continuation_token or "offset-0").removeprefix("offset-"))
        page = matching[start : start + top]
        more = start + top < len(matching)
        return InstancePage(page, f"offset-{start + top}" if more else None)

    def _running(self, instance_id: str) -> InstanceStatus:
        status = self.instances.get(instance_id)
        if status is None:
            raise InstanceNotFoundError(instance_id)
        if status.runtime_status.is_terminal:
            raise InstanceFinishedError(instance_id)
        return status

    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None:
        self._running(instance_id)
        self.calls.append(("raise_event", instance_id, event_name, data_json))

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        self._running(instance_id)
        self.calls.append(("terminate", instance_id, reason))

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        self._running(instance_id)
        self.calls.append(("suspend", instance_id, reason))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        self._running(instance_id)
        self.calls.append(("resume", instance_id, reason))

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        status = self.instances[instance_id]
        if status.runtime_status is not OrchestrationStatus.Failed:
            raise InvalidOperationError("only failed instances can be rewound")
        self.calls.append(("rewind", instance_id, reason))

    async def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        status = self.instances.get(instance_id)
        if status is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
        if not new_instance_id and not status.runtime_status.is_terminal:
            raise InstanceAlreadyExistsError(instance_id, status.runtime_status.name)
        new_id = "restarted" if new_instance_id else instance_id
        self.put(new_id, OrchestrationStatus.Pending, name=status.name, input=status.input)
        self.calls.append(("restart", instance_id, new_instance_id))
        return new_id

    async def purge(self, instance_id: str) -> int:
        self.calls.append(("purge", instance_id))
        return 1 if self.instances.pop(instance_id, None) is not None else 0

    async def purge_by(self, query: InstanceQuery) -> int:
        self.calls.append(("purge_by", query))
        doomed = [
            i
            for i, s in self.instances.items()
            if not query.runtime_status or s.runtime_status in query.runtime_status
        ]
        for instance_id in doomed:
            del self.instances[instance_id]
        return len(doomed)

    async def wait_for_completion(
        self, instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        self.calls.append(("wait", instance_id, timeout, poll_interval))
        return self.instances.get(instance_id)

    # The rest of ManagementApi: the HTTP mapping tests that use this fake never reach them.

    async def get_history_slice(
        self, instance_id: str, first: int, count: int
    ) -> HistorySlice | None:
        raise NotImplementedError("FakeManagementApi keeps no history slices")

    async def wait_for_start(
        self, instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        raise NotImplementedError("FakeManagementApi does not wait for starts")

    async def signal_entity(
        self,
        name: str,
        key: str,
        operation: str,
        input_json: str | None = None,
        *,
        scheduled_time: datetime | None = None,
    ) -> None:
        raise NotImplementedError("FakeManagementApi has no entities")

    async def read_entity(self, name: str, key: str) -> EntityState | None:
        raise NotImplementedError("FakeManagementApi has no entities")

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
        raise NotImplementedError("FakeManagementApi has no entities")
