import json

import azure.functions as func
from azure.durable_functions import DurableOrchestrationClient
from azure.durable_functions.models.utils.entity_utils import EntityId


async def main(req: func.HttpRequest, starter: str) -> func.HttpResponse:
    client = DurableOrchestrationClient(starter)
    name, key = req.route_params["entityName"], req.route_params["entityKey"]
    found = await client.read_entity_state(EntityId(name, key))
    if not found.entity_exists:
        return func.HttpResponse("Entity not found", status_code=404)
    return func.HttpResponse(json.dumps({"entity": name, "key": key, "state": found.entity_state}))
