"""Starts the orchestrator named in the route and answers with its management URLs."""

import azure.durable_functions as df
import azure.functions as func


async def main(req: func.HttpRequest, starter: str) -> func.HttpResponse:
    client = df.DurableOrchestrationClient(starter)
    instance_id = await client.start_new(req.route_params["functionName"], None, None)
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response
