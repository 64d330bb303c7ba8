"""`TaskHubSidecarService` for durable clients: every client call on the engine client.

`durable-host start` serves this one to the 2.x SDK's `DurableFunctionsClient` (the app's
own functions run in-process, so a worker's calls are refused with a pointer to
`durable-host sidecar`, which adds them: grpc_api/sidecar_service.py).
"""

from __future__ import annotations

from typing import Any

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as pb_grpc
from google.protobuf import empty_pb2

from durable_host.engine.client.api import ManagementApi
from durable_host.grpc_api.entity_calls import EntityCalls
from durable_host.grpc_api.history_calls import HistoryCalls
from durable_host.grpc_api.instance_calls import InstanceCalls
from durable_host.grpc_api.query_calls import QueryCalls

__all__ = ["WORKER_CALLS", "ClientService"]

WORKER_CALLS = (
    "GetWorkItems",
    "CompleteActivityTask",
    "CompleteOrchestratorTask",
    "CompleteEntityTask",
    "AbandonTaskActivityWorkItem",
    "AbandonTaskOrchestratorWorkItem",
    "AbandonTaskEntityWorkItem",
    "CreateTaskHub",
    "DeleteTaskHub",
    "SkipGracefulOrchestrationTerminations",
)


class ClientService(
    InstanceCalls, QueryCalls, EntityCalls, HistoryCalls, pb_grpc.TaskHubSidecarServiceServicer
):
    def __init__(self, api: ManagementApi) -> None:
        self.api = api

    async def Hello(
        self,
        request: empty_pb2.Empty,
        context: grpc.aio.ServicerContext[empty_pb2.Empty, empty_pb2.Empty],
    ) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def _worker_call(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "This endpoint serves durable clients only: `durable-host start` runs the app's "
            "own functions. To run durabletask workers on a task hub, use "
            "`durable-host sidecar`.",
        )

    async def _worker_stream(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        await self._worker_call(request, context)
        yield pb.WorkItem()  # pragma: no cover - never reached: abort raises


for _name in WORKER_CALLS:
    setattr(
        ClientService,
        _name,
        ClientService._worker_stream if _name == "GetWorkItems" else ClientService._worker_call,
    )
