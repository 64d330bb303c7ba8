"""Starts the orchestrator named in the route; the answer goes out through `message`."""

import azure.functions as func
from azure.durable_functions import DurableOrchestrationClient


async def main(req: func.HttpRequest, starter: str, message: func.Out[func.HttpResponse]) -> None:
    client = DurableOrchestrationClient(starter)
    instance_id = await client.start_new(req.route_params.get("functionName"))
    message.set(client.create_check_status_response(req, instance_id))
