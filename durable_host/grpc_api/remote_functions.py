"""The functions of whatever durabletask workers connect, as the engine sees them.

The sidecar loads no app: its orchestrators, activities and entities are the ones the workers
registered, which only the workers know. `WorkerFunctions` takes every name (a worker answers
a name it lacks with a failure, as durabletask's workers do against any backend), and
`RemoteExecutors` runs every function through the protobuf protocol over the `WorkerHub`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from durable_host.engine.dispatch.executors import (
    ActivityExecutor,
    EntityExecutor,
    OrchestrationExecutor,
)
from durable_host.engine.executors.proto_protocol import ProtoExecutor
from durable_host.functions import DurableKind, DurableProtocol, FunctionIndex
from durable_host.functions.function_index import DurableFunction
from durable_host.grpc_api.worker_hub import WorkerHub

__all__ = ["RemoteExecutors", "WorkerFunctions"]


def _runs_remotely(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
    raise RuntimeError("a durabletask worker runs this function, not the sidecar")


class WorkerFunctions(FunctionIndex):
    """A function index in which every durable name exists, run by the workers."""

    def has(self, kind: DurableKind, name: str) -> bool:
        return True

    def _get(self, kind: DurableKind, name: str) -> DurableFunction:
        return DurableFunction(
            name=name,
            function_name=name,
            kind=kind,
            user_function=_runs_remotely,
            trigger_param="",
            requires_context=False,
            is_async=True,
            function_id=name,
            function_directory="",
            protocol=DurableProtocol.PROTOBUF,
        )


class RemoteExecutors:
    """The `Executors` of the sidecar: every function on the connected workers."""

    def __init__(self, hub: WorkerHub, *, entity_reorder_window: timedelta) -> None:
        self._executor = ProtoExecutor(hub, entity_reorder_window=entity_reorder_window)

    def orchestration(self, name: str) -> OrchestrationExecutor:
        return self._executor

    def entity(self, name: str) -> EntityExecutor:
        return self._executor

    def activity(self, name: str) -> ActivityExecutor:
        return self._executor
