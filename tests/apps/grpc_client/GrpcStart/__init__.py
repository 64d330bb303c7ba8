"""A durable client as the 2.x SDK builds it: durabletask's gRPC client on the binding's
rpcBaseUrl (the 2.x DurableFunctionsClient is an AsyncTaskHubGrpcClient made this way)."""

import json

import azure.functions as func
from durabletask.client import AsyncTaskHubGrpcClient


async def main(req: func.HttpRequest, client: str) -> func.HttpResponse:
    binding = json.loads(client)
    grpc_client = AsyncTaskHubGrpcClient(host_address=binding["rpcBaseUrl"])
    try:
        instance_id = await grpc_client.schedule_new_orchestration(
            req.route_params["name"], input=req.get_json()
        )
        state = await grpc_client.wait_for_orchestration_completion(instance_id, timeout=60)
    finally:
        await grpc_client.close()
    body = {
        "instanceId": instance_id,
        "status": state.runtime_status.name if state else None,
        "output": state.get_output() if state else None,
        "binding": binding,
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
