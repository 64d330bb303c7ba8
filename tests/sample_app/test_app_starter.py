"""The generic HTTP starter: validation answers 400 before the client is used; a valid
request starts the orchestrator through the SDK client and answers 202 with management URLs.

The success path talks to a small loopback stand-in for the extension's RPC endpoint
(`rpcBaseUrl`), which records what the real DurableOrchestrationClient sends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import pytest
from aiohttp import web
from azure.durable_functions.models.utils import http_utils

ORIGIN = "http://localhost:7071"
WEBHOOK = f"{ORIGIN}/runtime/webhooks/durabletask"
QUERY = "taskHub=DurablePatternsHub&connection=Storage&code=KEY"
# Nothing listens here: the 400 paths must not reach the client.
UNREACHABLE_RPC = "http://127.0.0.1:9/durabletask/"


def binding(rpc_base_url: str) -> str:
    """The durable client binding string the host passes (docs/protocol.md §4 shape)."""
    instance = f"{WEBHOOK}/instances/INSTANCEID"
    return json.dumps(
        {
            "taskHubName": "DurablePatternsHub",
            "connectionName": "Storage",
            "creationUrls": {
                "createNewInstancePostUri": f"{WEBHOOK}/orchestrators/{{functionName}}"
                "[/{instanceId}]?code=KEY",
                "createAndWaitOnNewInstancePostUri": f"{WEBHOOK}/orchestrators/{{functionName}}"
                "[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}"
                "&code=KEY",
            },
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": f"{instance}?{QUERY}",
                "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{QUERY}",
                "terminatePostUri": f"{instance}/terminate?reason={{text}}&{QUERY}",
                "rewindPostUri": f"{instance}/rewind?reason={{text}}&{QUERY}",
                "purgeHistoryDeleteUri": f"{instance}?{QUERY}",
                "restartPostUri": f"{instance}/restart?{QUERY}",
                "suspendPostUri": f"{instance}/suspend?reason={{text}}&{QUERY}",
                "resumePostUri": f"{instance}/resume?reason={{text}}&{QUERY}",
            },
            "baseUrl": WEBHOOK,
            "requiredQueryStringParameters": "code=KEY",
            "rpcBaseUrl": rpc_base_url,
            "httpBaseUrl": None,
        }
    )


def request(name: str, body: bytes = b"", instance_id: str | None = None) -> func.HttpRequest:
    route = {"functionName": name}
    path = f"/api/orchestrators/{name}"
    if instance_id is not None:
        route["instanceId"] = instance_id
        path += f"/{instance_id}"
    return func.HttpRequest(
        method="POST",
        url=f"{ORIGIN}{path}",
        headers={"Content-Type": "application/json"},
        params={},
        route_params=route,
        body=body,
    )


async def start(functions: dict[str, Any], req: func.HttpRequest, rpc: str) -> func.HttpResponse:
    starter = functions["start_orchestration"].get_user_function()
    response: func.HttpResponse = await starter(req=req, client=binding(rpc))
    return response


async def test_unknown_orchestrator_is_a_400_listing_the_known_ones(
    functions: dict[str, Any],
) -> None:
    response = await start(functions, request("hello_tokyo", b"{}"), UNREACHABLE_RPC)
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    error = json.loads(response.get_body())["error"]
    assert error.startswith(
        "The function 'hello_tokyo' doesn't exist, is disabled, or is not an orchestrator function."
    )
    assert "process_order, process_order_batch" in error


async def test_an_activity_is_not_startable(functions: dict[str, Any]) -> None:
    response = await start(functions, request("validate_order", b"{}"), UNREACHABLE_RPC)
    assert response.status_code == 400


async def test_malformed_json_body_is_a_400(functions: dict[str, Any]) -> None:
    response = await start(functions, request("process_order", b'{"orderId": '), UNREACHABLE_RPC)
    assert response.status_code == 400
    error = json.loads(response.get_body())["error"]
    assert error.startswith("The request body is not valid JSON (")


async def test_bad_instance_id_is_a_400(functions: dict[str, Any]) -> None:
    req = request("process_order", b"{}", instance_id="a#b")
    response = await start(functions, req, UNREACHABLE_RPC)
    assert response.status_code == 400
    assert "Instance id 'a#b' is not valid" in json.loads(response.get_body())["error"]


@pytest.fixture
async def rpc_endpoint() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def start_new(req: web.Request) -> web.Response:
        received.append(
            {
                "function": req.match_info["function"],
                "instance": req.match_info.get("instance"),
                "body": await req.text(),
            }
        )
        return web.json_response(
            {"id": req.match_info.get("instance") or "generated-1"}, status=202
        )

    app = web.Application()
    app.router.add_post("/durabletask/orchestrators/{function}", start_new)
    app.router.add_post("/durabletask/orchestrators/{function}/{instance}", start_new)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/durabletask/", received
    finally:
        # SDK 1.7.0 keeps one module-global aiohttp session, bound to the loop that made it;
        # close it with this test's loop so the next test's loop gets a fresh one.
        await http_utils._close_session()
        await runner.cleanup()


async def test_valid_request_starts_the_orchestrator_and_answers_202(
    functions: dict[str, Any], rpc_endpoint: tuple[str, list[dict[str, Any]]]
) -> None:
    rpc, received = rpc_endpoint
    body = {"buildId": "build-42", "pollIntervalSeconds": 30, "expirySeconds": 600}
    # The host matches function names case-insensitively; the starter does too.
    req = request("Monitor_Build", json.dumps(body).encode(), instance_id="watch-42")
    response = await start(functions, req, rpc)

    assert response.status_code == 202
    assert received == [
        {"function": "monitor_build", "instance": "watch-42", "body": json.dumps(json.dumps(body))}
    ]
    payload = json.loads(response.get_body())
    assert payload["id"] == "watch-42"
    status_uri = f"{WEBHOOK}/instances/watch-42?{QUERY}"
    assert payload["statusQueryGetUri"] == status_uri
    assert response.headers["Location"] == status_uri
    assert payload["sendEventPostUri"].startswith(f"{WEBHOOK}/instances/watch-42/raiseEvent/")


async def test_empty_body_starts_with_no_input(
    functions: dict[str, Any], rpc_endpoint: tuple[str, list[dict[str, Any]]]
) -> None:
    rpc, received = rpc_endpoint
    response = await start(functions, request("metrics_report"), rpc)
    assert response.status_code == 202
    assert json.loads(response.get_body())["id"] == "generated-1"
    assert received[0]["function"] == "metrics_report"
    assert received[0]["instance"] is None
    assert received[0]["body"] in ("", "null")
