"""`FunctionExecutors`: each function of a loaded app runs in the protocol its trigger asks
for (`durableRequiresGrpc: true`: the protobuf protocol; otherwise the 1.x JSON protocol)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.executors import (
    ActivityExecutor,
    EntityExecutor,
    OrchestrationExecutor,
)
from durable_host.engine.executors.json_protocol import JsonExecutor
from durable_host.functions import DurableKind, DurableProtocol, FunctionIndex, FunctionInvoker

if TYPE_CHECKING:
    from durable_host.engine.executors.proto_protocol import ProtoExecutor

__all__ = ["FunctionExecutors"]


class FunctionExecutors:
    """The `Executors` of a Functions app: 1.x JSON or 2.x protobuf, per function."""

    def __init__(
        self, index: FunctionIndex, invoker: FunctionInvoker, *, entity_reorder_window: timedelta
    ) -> None:
        self._index = index
        self._invoker = invoker
        self._reorder_window = entity_reorder_window
        self.json = JsonExecutor(invoker)
        self._proto: ProtoExecutor | None = None

    @property
    def proto(self) -> ProtoExecutor:
        if self._proto is None:
            # Imported on first use: the protobuf protocol needs `durabletask`, 1.x apps don't.
            from durable_host.engine.executors.in_process import InProcessChannel
            from durable_host.engine.executors.proto_protocol import ProtoExecutor

            self._proto = ProtoExecutor(
                InProcessChannel(self._invoker), entity_reorder_window=self._reorder_window
            )
        return self._proto

    def _protobuf(self, kind: DurableKind, name: str) -> bool:
        if not self._index.has(kind, name):
            return False  # the JSON executor reports the unknown function
        lookup = {
            DurableKind.ORCHESTRATOR: self._index.get_orchestrator,
            DurableKind.ACTIVITY: self._index.get_activity,
            DurableKind.ENTITY: self._index.get_entity,
        }[kind]
        return lookup(name).protocol is DurableProtocol.PROTOBUF

    def orchestration(self, name: str) -> OrchestrationExecutor:
        return self.proto if self._protobuf(DurableKind.ORCHESTRATOR, name) else self.json

    def entity(self, name: str) -> EntityExecutor:
        return self.proto if self._protobuf(DurableKind.ENTITY, name) else self.json

    def activity(self, name: str) -> ActivityExecutor:
        return self.proto if self._protobuf(DurableKind.ACTIVITY, name) else self.json
