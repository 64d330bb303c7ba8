"""`SidecarService`: `TaskHubSidecarService` for durabletask workers and clients.

The client calls of `ClientService`, plus the worker's: `GetWorkItems` streams the engine's
work items (WorkerHub), `Complete*Task` hands each answer back to the dispatcher that waits
for it, the abandon calls put a work item back in line. `durable-host sidecar` serves it
(server/sidecar.py); docs/protocol.md §8 maps every call onto the task hub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb

from durable_host.engine.client.api import ManagementApi
from durable_host.grpc_api.service import ClientService
from durable_host.grpc_api.status_codes import RpcRefusal, rpc
from durable_host.grpc_api.worker_hub import WorkerFilter, WorkerHub

__all__ = ["SidecarService"]


class SidecarService(ClientService):
    def __init__(self, api: ManagementApi, hub: WorkerHub) -> None:
        super().__init__(api)
        self.hub = hub

    async def GetWorkItems(
        self,
        request: pb.GetWorkItemsRequest,
        context: grpc.aio.ServicerContext[pb.GetWorkItemsRequest, pb.WorkItem],
    ) -> AsyncIterator[pb.WorkItem]:
        async for item in self.hub.stream(WorkerFilter.of(request)):
            yield item

    @rpc
    async def CompleteOrchestratorTask(
        self,
        request: pb.OrchestratorResponse,
        context: grpc.aio.ServicerContext[pb.OrchestratorResponse, pb.CompleteTaskResponse],
    ) -> pb.CompleteTaskResponse:
        return self._complete(request)

    @rpc
    async def CompleteActivityTask(
        self,
        request: pb.ActivityResponse,
        context: grpc.aio.ServicerContext[pb.ActivityResponse, pb.CompleteTaskResponse],
    ) -> pb.CompleteTaskResponse:
        return self._complete(request)

    @rpc
    async def CompleteEntityTask(
        self,
        request: pb.EntityBatchResult,
        context: grpc.aio.ServicerContext[pb.EntityBatchResult, pb.CompleteTaskResponse],
    ) -> pb.CompleteTaskResponse:
        return self._complete(request)

    def _complete(self, response: Any) -> pb.CompleteTaskResponse:
        if not response.completionToken:
            raise RpcRefusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                "A completion needs the completionToken of the work item it answers.",
            )
        self.hub.complete(response.completionToken, response)
        return pb.CompleteTaskResponse()

    @rpc
    async def AbandonTaskOrchestratorWorkItem(
        self,
        request: pb.AbandonOrchestrationTaskRequest,
        context: grpc.aio.ServicerContext[
            pb.AbandonOrchestrationTaskRequest, pb.AbandonOrchestrationTaskResponse
        ],
    ) -> pb.AbandonOrchestrationTaskResponse:
        self.hub.abandon(request.completionToken)
        return pb.AbandonOrchestrationTaskResponse()

    @rpc
    async def AbandonTaskActivityWorkItem(
        self,
        request: pb.AbandonActivityTaskRequest,
        context: grpc.aio.ServicerContext[
            pb.AbandonActivityTaskRequest, pb.AbandonActivityTaskResponse
        ],
    ) -> pb.AbandonActivityTaskResponse:
        self.hub.abandon(request.completionToken)
        return pb.AbandonActivityTaskResponse()

    @rpc
    async def AbandonTaskEntityWorkItem(
        self,
        request: pb.AbandonEntityTaskRequest,
        context: grpc.aio.ServicerContext[
            pb.AbandonEntityTaskRequest, pb.AbandonEntityTaskResponse
        ],
    ) -> pb.AbandonEntityTaskResponse:
        self.hub.abandon(request.completionToken)
        return pb.AbandonEntityTaskResponse()

    @rpc
    async def CreateTaskHub(
        self,
        request: pb.CreateTaskHubRequest,
        context: grpc.aio.ServicerContext[pb.CreateTaskHubRequest, pb.CreateTaskHubResponse],
    ) -> pb.CreateTaskHubResponse:
        """The sidecar created its hub when it started (queues, tables, containers)."""
        if request.recreateIfExists:
            raise RpcRefusal(
                grpc.StatusCode.FAILED_PRECONDITION,
                "The sidecar serves its task hub while it runs and cannot recreate it: stop it, "
                "delete the hub (`durable-host durable delete-task-hub`), and start it again.",
            )
        return pb.CreateTaskHubResponse()

    @rpc
    async def DeleteTaskHub(
        self,
        request: pb.DeleteTaskHubRequest,
        context: grpc.aio.ServicerContext[pb.DeleteTaskHubRequest, pb.DeleteTaskHubResponse],
    ) -> pb.DeleteTaskHubResponse:
        raise RpcRefusal(
            grpc.StatusCode.FAILED_PRECONDITION,
            "The sidecar serves its task hub while it runs and cannot delete it: stop it and "
            "use `durable-host durable delete-task-hub`.",
        )
