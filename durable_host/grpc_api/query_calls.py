"""The client calls on many orchestrations: query with continuation, list finished ids,
purge one or by filter. All read or delete through the engine client's Instances queries."""

from __future__ import annotations

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import wrappers_pb2

from durable_host.engine.client.api import InstanceQuery, ManagementApi
from durable_host.grpc_api.states import (
    instance_query,
    orchestration_state,
    purge_query,
    statuses,
    to_datetime,
)
from durable_host.grpc_api.status_codes import RpcRefusal, rpc
from durable_host.taskhub.events import OrchestrationStatus

__all__ = ["DEFAULT_PAGE_SIZE", "QueryCalls"]

# A query without a page size gets the Durable HTTP API's default page.
DEFAULT_PAGE_SIZE = 100


class QueryCalls:
    api: ManagementApi

    @rpc
    async def QueryInstances(
        self,
        request: pb.QueryInstancesRequest,
        context: grpc.aio.ServicerContext[pb.QueryInstancesRequest, pb.QueryInstancesResponse],
    ) -> pb.QueryInstancesResponse:
        query = request.query
        token = query.continuationToken.value if query.HasField("continuationToken") else None
        page = await self.api.list_instances(
            instance_query(query),
            top=query.maxInstanceCount or DEFAULT_PAGE_SIZE,
            continuation_token=token or None,
        )
        response = pb.QueryInstancesResponse(
            orchestrationState=[
                orchestration_state(s, with_payloads=query.fetchInputsAndOutputs)
                for s in page.instances
            ]
        )
        if page.continuation_token:
            response.continuationToken.value = page.continuation_token
        return response

    @rpc
    async def ListInstanceIds(
        self,
        request: pb.ListInstanceIdsRequest,
        context: grpc.aio.ServicerContext[pb.ListInstanceIdsRequest, pb.ListInstanceIdsResponse],
    ) -> pb.ListInstanceIdsResponse:
        """Finished instances only, as the call is defined; the completed-time range is checked
        on each page read (the Instances table has no index on CompletedTime)."""
        terminal = frozenset(s for s in OrchestrationStatus if s.is_terminal)
        wanted = statuses(request.runtimeStatus) & terminal if request.runtimeStatus else terminal
        if not wanted:
            return pb.ListInstanceIdsResponse()
        after = (
            to_datetime(request.completedTimeFrom)
            if request.HasField("completedTimeFrom")
            else None
        )
        before = (
            to_datetime(request.completedTimeTo) if request.HasField("completedTimeTo") else None
        )
        token = request.lastInstanceKey.value if request.HasField("lastInstanceKey") else None
        page = await self.api.list_instances(
            InstanceQuery(runtime_status=wanted, orchestrations_only=True),
            top=request.pageSize or DEFAULT_PAGE_SIZE,
            continuation_token=token or None,
        )
        ids = [
            s.instance_id
            for s in page.instances
            if s.completed_time is not None
            and (after is None or s.completed_time >= after)
            and (before is None or s.completed_time < before)
        ]
        next_key = (
            wrappers_pb2.StringValue(value=page.continuation_token)
            if page.continuation_token
            else None
        )
        return pb.ListInstanceIdsResponse(instanceIds=ids, lastInstanceKey=next_key)

    @rpc
    async def PurgeInstances(
        self,
        request: pb.PurgeInstancesRequest,
        context: grpc.aio.ServicerContext[pb.PurgeInstancesRequest, pb.PurgeInstancesResponse],
    ) -> pb.PurgeInstancesResponse:
        which = request.WhichOneof("request")
        if which == "instanceId":
            deleted = await self._purge_one(request.instanceId)
        elif which == "purgeInstanceFilter":
            query = purge_query(request.purgeInstanceFilter)
            deleted = await self.api.purge_by(query) if query is not None else 0
        elif which == "instanceBatch":
            deleted = 0
            for instance_id in request.instanceBatch.instanceIds:
                deleted += await self._purge_one(instance_id)
        else:
            raise RpcRefusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                "PurgeInstances needs an instanceId, a purgeInstanceFilter or an instanceBatch.",
            )
        return pb.PurgeInstancesResponse(
            deletedInstanceCount=deleted, isComplete=wrappers_pb2.BoolValue(value=True)
        )

    async def _purge_one(self, instance_id: str) -> int:
        """A running instance is not purged (its history is still being written): the
        caller gets a count of 0, as from the other durabletask backends."""
        status = await self.api.get_status(instance_id, show_input=False)
        if status is None or not status.runtime_status.is_terminal:
            return 0
        return await self.api.purge(instance_id)
