"""The client calls on one orchestration: start, read, wait, raise an event, terminate,
suspend, resume, rewind, restart. Each is the engine client's operation of the same name,
the one the Durable HTTP API calls too (docs/protocol.md, "gRPC: TaskHubSidecarService")."""

from __future__ import annotations

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf.message import Message

from durable_host.engine.client.api import InstanceStatus, ManagementApi
from durable_host.errors import InstanceAlreadyExistsError
from durable_host.grpc_api.states import orchestration_state, statuses, to_datetime
from durable_host.grpc_api.status_codes import RpcRefusal, rpc
from durable_host.taskhub.events import ExecutionCompleted, FailureDetails, OrchestrationStatus

__all__ = ["NO_DEADLINE", "InstanceCalls"]

# How long a wait without a gRPC deadline may last: the SDKs always send one (60 s by default).
NO_DEADLINE = 24 * 3600.0


def _value(message: Message, field: str) -> str | None:
    """The text of an optional `StringValue` field, None when the caller left it out."""
    if not message.HasField(field):
        return None
    text: str = getattr(message, field).value
    return text


class InstanceCalls:
    api: ManagementApi

    @rpc
    async def StartInstance(
        self,
        request: pb.CreateInstanceRequest,
        context: grpc.aio.ServicerContext[pb.CreateInstanceRequest, pb.CreateInstanceResponse],
    ) -> pb.CreateInstanceResponse:
        if request.HasField("orchestrationIdReusePolicy"):
            await self._check_reuse(request.instanceId, request.orchestrationIdReusePolicy)
        scheduled = (
            to_datetime(request.scheduledStartTimestamp)
            if request.HasField("scheduledStartTimestamp")
            else None
        )
        instance_id = await self.api.start_new(
            request.name,
            request.instanceId or None,
            _value(request, "input"),
            scheduled_start_time=scheduled,
            version=_value(request, "version") or "",
            tags=dict(request.tags) or None,
        )
        return pb.CreateInstanceResponse(instanceId=instance_id)

    async def _check_reuse(self, instance_id: str, policy: pb.OrchestrationIdReusePolicy) -> None:
        """With a reuse policy, an existing instance may be replaced only in the statuses it
        names (a running one never: the engine refuses it with ALREADY_EXISTS anyway)."""
        if not instance_id:
            return
        existing = await self.api.get_status(instance_id, show_input=False)
        if existing is None or existing.runtime_status in statuses(policy.replaceableStatus):
            return
        raise InstanceAlreadyExistsError(instance_id, existing.runtime_status.name)

    @rpc
    async def GetInstance(
        self,
        request: pb.GetInstanceRequest,
        context: grpc.aio.ServicerContext[pb.GetInstanceRequest, pb.GetInstanceResponse],
    ) -> pb.GetInstanceResponse:
        status = await self.api.get_status(
            request.instanceId, show_input=request.getInputsAndOutputs
        )
        return await self._instance_response(status, request.getInputsAndOutputs)

    @rpc
    async def WaitForInstanceStart(
        self,
        request: pb.GetInstanceRequest,
        context: grpc.aio.ServicerContext[pb.GetInstanceRequest, pb.GetInstanceResponse],
    ) -> pb.GetInstanceResponse:
        timeout = context.time_remaining() or NO_DEADLINE
        status = await self.api.wait_for_start(request.instanceId, timeout=timeout)
        if status is not None and status.runtime_status == OrchestrationStatus.Pending:
            raise RpcRefusal(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"Instance '{request.instanceId}' is still Pending: no worker has started it "
                "yet. Is a worker connected that has this orchestrator registered?",
            )
        return await self._instance_response(status, request.getInputsAndOutputs)

    @rpc
    async def WaitForInstanceCompletion(
        self,
        request: pb.GetInstanceRequest,
        context: grpc.aio.ServicerContext[pb.GetInstanceRequest, pb.GetInstanceResponse],
    ) -> pb.GetInstanceResponse:
        timeout = context.time_remaining() or NO_DEADLINE
        status = await self.api.wait_for_completion(request.instanceId, timeout=timeout)
        if status is not None and not status.runtime_status.is_terminal:
            raise RpcRefusal(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"Instance '{request.instanceId}' is still {status.runtime_status.name}.",
            )
        return await self._instance_response(status, request.getInputsAndOutputs)

    async def _instance_response(
        self, status: InstanceStatus | None, with_payloads: bool
    ) -> pb.GetInstanceResponse:
        if status is None:
            return pb.GetInstanceResponse(exists=False)
        failure = None
        if with_payloads and status.runtime_status == OrchestrationStatus.Failed:
            failure = await self._failure_of(status)
        state = orchestration_state(status, with_payloads=with_payloads, failure=failure)
        return pb.GetInstanceResponse(exists=True, orchestrationState=state)

    async def _failure_of(self, status: InstanceStatus) -> FailureDetails:
        """A failed instance's FailureDetails: the Instances row keeps only the output, so they
        come from the history's ExecutionCompleted (the output text when it has none)."""
        with_history = await self.api.get_status(status.instance_id, show_history=True)
        for event in reversed((with_history.history or []) if with_history else []):
            if isinstance(event, ExecutionCompleted) and event.failure_details is not None:
                return event.failure_details
        return FailureDetails(error_type="", error_message=status.output or "")

    @rpc
    async def RaiseEvent(
        self,
        request: pb.RaiseEventRequest,
        context: grpc.aio.ServicerContext[pb.RaiseEventRequest, pb.RaiseEventResponse],
    ) -> pb.RaiseEventResponse:
        await self.api.raise_event(request.instanceId, request.name, _value(request, "input"))
        return pb.RaiseEventResponse()

    @rpc
    async def TerminateInstance(
        self,
        request: pb.TerminateRequest,
        context: grpc.aio.ServicerContext[pb.TerminateRequest, pb.TerminateResponse],
    ) -> pb.TerminateResponse:
        await self.api.terminate(request.instanceId, _value(request, "output"))
        return pb.TerminateResponse()

    @rpc
    async def SuspendInstance(
        self,
        request: pb.SuspendRequest,
        context: grpc.aio.ServicerContext[pb.SuspendRequest, pb.SuspendResponse],
    ) -> pb.SuspendResponse:
        await self.api.suspend(request.instanceId, _value(request, "reason"))
        return pb.SuspendResponse()

    @rpc
    async def ResumeInstance(
        self,
        request: pb.ResumeRequest,
        context: grpc.aio.ServicerContext[pb.ResumeRequest, pb.ResumeResponse],
    ) -> pb.ResumeResponse:
        await self.api.resume(request.instanceId, _value(request, "reason"))
        return pb.ResumeResponse()

    @rpc
    async def RewindInstance(
        self,
        request: pb.RewindInstanceRequest,
        context: grpc.aio.ServicerContext[pb.RewindInstanceRequest, pb.RewindInstanceResponse],
    ) -> pb.RewindInstanceResponse:
        await self.api.rewind(request.instanceId, _value(request, "reason"))
        return pb.RewindInstanceResponse()

    @rpc
    async def RestartInstance(
        self,
        request: pb.RestartInstanceRequest,
        context: grpc.aio.ServicerContext[pb.RestartInstanceRequest, pb.RestartInstanceResponse],
    ) -> pb.RestartInstanceResponse:
        try:
            instance_id = await self.api.restart(
                request.instanceId, new_instance_id=request.restartWithNewInstanceId
            )
        except InstanceAlreadyExistsError as exc:
            # Restarting in place needs a finished instance: the caller's precondition.
            raise RpcRefusal(grpc.StatusCode.FAILED_PRECONDITION, str(exc)) from exc
        return pb.RestartInstanceResponse(instanceId=instance_id)
