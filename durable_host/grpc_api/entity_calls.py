"""The client calls on entities: signal, read, query with continuation, clean storage.

Entity ids are `@name@key` on both sides (durabletask's `EntityInstanceId` and the task
hub's Instances rows); an operation's input is stored as the JSON text the client sent, as
the extension's gRPC endpoint stores it."""

from __future__ import annotations

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb

from durable_host.engine.client.api import ManagementApi
from durable_host.engine.dispatch.entity_state import split_entity_id
from durable_host.grpc_api.states import entity_metadata, to_datetime
from durable_host.grpc_api.status_codes import RpcRefusal, rpc

__all__ = ["EntityCalls"]


def _entity_id(instance_id: str) -> tuple[str, str]:
    try:
        return split_entity_id(instance_id)
    except ValueError as exc:
        raise RpcRefusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"'{instance_id}' is not an entity id: entity ids are '@name@key'.",
        ) from exc


class EntityCalls:
    api: ManagementApi

    @rpc
    async def SignalEntity(
        self,
        request: pb.SignalEntityRequest,
        context: grpc.aio.ServicerContext[pb.SignalEntityRequest, pb.SignalEntityResponse],
    ) -> pb.SignalEntityResponse:
        name, key = _entity_id(request.instanceId)
        await self.api.signal_entity(
            name,
            key,
            request.name,
            request.input.value if request.HasField("input") else None,
            scheduled_time=(
                to_datetime(request.scheduledTime) if request.HasField("scheduledTime") else None
            ),
        )
        return pb.SignalEntityResponse()

    @rpc
    async def GetEntity(
        self,
        request: pb.GetEntityRequest,
        context: grpc.aio.ServicerContext[pb.GetEntityRequest, pb.GetEntityResponse],
    ) -> pb.GetEntityResponse:
        name, key = _entity_id(request.instanceId)
        state = await self.api.read_entity(name, key)
        if state is None:
            return pb.GetEntityResponse(exists=False)
        entity = pb.EntityMetadata(instanceId=f"@{name.lower()}@{key}")
        if state.last_operation_time is not None:
            entity.lastModifiedTime.FromDatetime(state.last_operation_time)
        if request.includeState and state.state is not None:
            entity.serializedState.value = state.state
        return pb.GetEntityResponse(exists=True, entity=entity)

    @rpc
    async def QueryEntities(
        self,
        request: pb.QueryEntitiesRequest,
        context: grpc.aio.ServicerContext[pb.QueryEntitiesRequest, pb.QueryEntitiesResponse],
    ) -> pb.QueryEntitiesResponse:
        query = request.query
        prefix = query.instanceIdStartsWith.value if query.HasField("instanceIdStartsWith") else ""
        if prefix and not prefix.startswith("@"):
            # DTFx's entity queries take a bare name prefix as the start of an entity id.
            prefix = "@" + prefix
        token = query.continuationToken.value if query.HasField("continuationToken") else None
        page = await self.api.list_entities(
            fetch_state=query.includeState,
            top=query.pageSize.value
            if query.HasField("pageSize") and query.pageSize.value
            else 100,
            continuation_token=token or None,
            last_operation_from=(
                to_datetime(query.lastModifiedFrom) if query.HasField("lastModifiedFrom") else None
            ),
            last_operation_to=(
                to_datetime(query.lastModifiedTo) if query.HasField("lastModifiedTo") else None
            ),
            instance_id_prefix=prefix or None,
            # Transient entities: rows without state (deleted, or only ever locked).
            include_empty=query.includeTransient,
        )
        response = pb.QueryEntitiesResponse(
            entities=[entity_metadata(e, with_state=query.includeState) for e in page.entities]
        )
        if page.continuation_token:
            response.continuationToken.value = page.continuation_token
        return response

    @rpc
    async def CleanEntityStorage(
        self,
        request: pb.CleanEntityStorageRequest,
        context: grpc.aio.ServicerContext[
            pb.CleanEntityStorageRequest, pb.CleanEntityStorageResponse
        ],
    ) -> pb.CleanEntityStorageResponse:
        """Removes entity rows without state, one page per call. The engine's entities take
        no locks that could be orphaned, so none are ever released."""
        response = pb.CleanEntityStorageResponse()
        if not request.removeEmptyEntities:
            return response
        token = request.continuationToken.value if request.HasField("continuationToken") else None
        page = await self.api.list_entities(
            top=100, continuation_token=token or None, include_empty=True
        )
        for entity in page.entities:
            if not entity.exists:
                response.emptyEntitiesRemoved += await self.api.purge(
                    f"@{entity.name}@{entity.key}"
                )
        if page.continuation_token:
            response.continuationToken.value = page.continuation_token
        return response
