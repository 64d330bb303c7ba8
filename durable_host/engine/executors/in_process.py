"""`InProcessChannel`: the protobuf protocol to a 2.x Functions app loaded in this process.

As the extension invokes such functions: an orchestrator or entity trigger gets the base64
request as its context's `body` and returns the base64 answer; an activity gets its input
JSON text through the activity trigger's converter, as in 1.x.
"""

from __future__ import annotations

from typing import Any

from durable_host.functions import DurableKind, FunctionInvoker
from durable_host.protobuf.failures import failure_to_proto
from durable_host.protobuf.messages import messages, read_string, string_value
from durable_host.protobuf.requests import decode_base64, encode_base64
from durable_host.taskhub.events import FailureDetails

__all__ = ["InProcessChannel"]


class InProcessChannel:
    def __init__(self, invoker: FunctionInvoker) -> None:
        self._invoker = invoker

    async def orchestrate(self, name: str, request: Any) -> Any:
        answer = await self._invoker.invoke_protobuf(
            DurableKind.ORCHESTRATOR, name, encode_base64(request)
        )
        return decode_base64(answer, "OrchestratorResponse")

    async def run_entity_batch(self, name: str, request: Any) -> Any:
        answer = await self._invoker.invoke_protobuf(
            DurableKind.ENTITY, name, encode_base64(request)
        )
        return decode_base64(answer, "EntityBatchResult")

    async def run_activity(self, name: str, request: Any) -> Any:
        outcome = await self._invoker.invoke_activity(name, read_string(request, "input"))
        response = messages().ActivityResponse(
            instanceId=request.orchestrationInstance.instanceId, taskId=request.taskId
        )
        if outcome.error is not None:
            failure = FailureDetails(
                error_type=outcome.error.error_type,
                error_message=outcome.error.message,
                stack_trace=outcome.error.stack_trace,
            )
            response.failureDetails.CopyFrom(failure_to_proto(failure))
        elif outcome.result_json is not None:
            response.result.CopyFrom(string_value(outcome.result_json))
        return response
