import json

import azure.functions as func
from azure.durable_functions import DurableOrchestrationClient, EntityId


async def main(req: func.HttpRequest, starter: str) -> func.HttpResponse:
    client = DurableOrchestrationClient(starter)
    entity_name, entity_key = req.route_params["entityName"], req.route_params["entityKey"]
    response = await client.read_entity_state(EntityId(entity_name, entity_key))
    if not response.entity_exists:
        return func.HttpResponse("Entity not found", status_code=404)
    return func.HttpResponse(
        json.dumps({"entity": entity_name, "key": entity_key, "state": response.entity_state}),
        mimetype="application/json",
    )
