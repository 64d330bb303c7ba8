"""HTTP side of the aggregator: record samples (signal) and read a metric (entity state).

POST /api/metrics/{key}  body {"value": 12.5}  -> 202, the sample is queued for the entity
GET  /api/metrics/{key}                        -> 200 with the metric's window, 404 if unknown
"""

from __future__ import annotations

import json
import re
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from entities.metric import ENTITY_NAME, parse_sample, summarize
from orchestrators._validation import InvalidInputError

bp = df.Blueprint()

# Entity keys become part of the instance id "@metric@<key>" and of URLs: keep them plain.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


def _json(status: int, body: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def _entity_id(req: func.HttpRequest) -> df.EntityId:
    key = req.route_params.get("key", "")
    if not KEY_PATTERN.match(key):
        raise InvalidInputError(
            f"Metric key '{key}' is not valid: use 1-100 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit."
        )
    return df.EntityId(ENTITY_NAME, key)


@bp.route(route="metrics/{key}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def record_metric(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    try:
        entity_id = _entity_id(req)
        try:
            body = req.get_json()
        except ValueError:
            raise InvalidInputError(
                'The request body must be JSON such as {"value": 12.5}.'
            ) from None
        sample = parse_sample(body)
    except InvalidInputError as error:
        return _json(400, {"error": str(error)})
    # Always send an object: the SDK drops falsy signal inputs, so a bare 0 would be lost.
    await client.signal_entity(entity_id, "record", {"value": sample})
    return _json(202, {"entity": {"name": ENTITY_NAME, "key": entity_id.key}, "queued": sample})


@bp.route(route="metrics/{key}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def read_metric(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    try:
        entity_id = _entity_id(req)
    except InvalidInputError as error:
        return _json(400, {"error": str(error)})
    response = await client.read_entity_state(entity_id)
    if not response.entity_exists:
        return _json(404, {"error": f"No samples were recorded for metric '{entity_id.key}' yet."})
    state = response.entity_state
    if isinstance(state, str):
        state = json.loads(state)
    return _json(200, summarize(entity_id.key, state))
