"""`StreamInstanceHistory`: an instance's stored history as protobuf `HistoryEvent`s, in
chunks (durabletask's `get_orchestration_history`; the 2.x SDK's history export)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb

from durable_host.engine.client.api import ManagementApi
from durable_host.errors import DurableHostError
from durable_host.grpc_api.status_codes import status_of
from durable_host.protobuf.history import event_to_proto

__all__ = ["HISTORY_CHUNK_EVENTS", "HistoryCalls"]

# Events per HistoryChunk: small enough that a chunk of large payloads stays a sane message.
HISTORY_CHUNK_EVENTS = 100


class HistoryCalls:
    api: ManagementApi

    async def StreamInstanceHistory(
        self,
        request: pb.StreamInstanceHistoryRequest,
        context: grpc.aio.ServicerContext[pb.StreamInstanceHistoryRequest, pb.HistoryChunk],
    ) -> AsyncIterator[pb.HistoryChunk]:
        try:
            status = await self.api.get_status(
                request.instanceId, show_history=True, show_history_output=True
            )
        except DurableHostError as exc:
            await context.abort(*status_of(exc))
            return
        wanted = request.executionId.value if request.HasField("executionId") else ""
        if status is None or (wanted and wanted != status.execution_id):
            which = f"execution '{wanted}' of " if wanted else ""
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"No {which}instance '{request.instanceId}' in this task hub (only the current "
                "execution's history is kept).",
            )
            return
        events = status.history or []
        for first in range(0, len(events), HISTORY_CHUNK_EVENTS):
            chunk = events[first : first + HISTORY_CHUNK_EVENTS]
            yield pb.HistoryChunk(events=[event_to_proto(e) for e in chunk])
