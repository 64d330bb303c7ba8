from __future__ import annotations

import json

import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.durable_functions.models.RpcManagementOptions import RpcManagementOptions

from durable_host.errors import ConfigurationError
from durable_host.http.binding import (
    ClientEndpoints,
    check_status_payload,
    client_binding_json,
    management_urls,
)

LOCAL = ClientEndpoints(
    origin="http://localhost:7071", rpc_origin="http://127.0.0.1:7071", hub_name="TestHubName"
)
KEYED = ClientEndpoints(
    origin="http://myhost:7071",
    rpc_origin="http://127.0.0.1:7071",
    hub_name="MyHub",
    system_key="KEY",
)
BASE = "http://localhost:7071/runtime/webhooks/durabletask"


def test_binding_json_shape_matches_spec_section_4() -> None:
    text = client_binding_json(LOCAL)
    data = json.loads(text)
    assert list(data) == [
        "taskHubName",
        "connectionName",
        "creationUrls",
        "managementUrls",
        "baseUrl",
        "requiredQueryStringParameters",
        "rpcBaseUrl",
        "httpBaseUrl",
    ]
    assert data["taskHubName"] == "TestHubName"
    assert data["connectionName"] is None
    assert data["httpBaseUrl"] is None
    assert data["baseUrl"] == BASE
    assert data["rpcBaseUrl"] == "http://127.0.0.1:7071/durabletask/"
    assert data["requiredQueryStringParameters"] == ""
    assert data["creationUrls"] == {
        "createNewInstancePostUri": f"{BASE}/orchestrators/{{functionName}}[/{{instanceId}}]?",
        "createAndWaitOnNewInstancePostUri": f"{BASE}/orchestrators/{{functionName}}"
        "[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&",
    }
    urls = data["managementUrls"]
    q = "taskHub=TestHubName&connection=Storage"
    assert urls == {
        "id": "INSTANCEID",
        "statusQueryGetUri": f"{BASE}/instances/INSTANCEID?{q}",
        "sendEventPostUri": f"{BASE}/instances/INSTANCEID/raiseEvent/{{eventName}}?{q}",
        "terminatePostUri": f"{BASE}/instances/INSTANCEID/terminate?reason={{text}}&{q}",
        "rewindPostUri": f"{BASE}/instances/INSTANCEID/rewind?reason={{text}}&{q}",
        "purgeHistoryDeleteUri": f"{BASE}/instances/INSTANCEID?{q}",
        "restartPostUri": f"{BASE}/instances/INSTANCEID/restart?{q}",
        "suspendPostUri": f"{BASE}/instances/INSTANCEID/suspend?reason={{text}}&{q}",
        "resumePostUri": f"{BASE}/instances/INSTANCEID/resume?reason={{text}}&{q}",
    }


def test_keyed_binding_adds_code_everywhere() -> None:
    data = json.loads(client_binding_json(KEYED, task_hub="Other", connection_name="Conn"))
    assert data["taskHubName"] == "Other"
    assert data["connectionName"] == "Conn"
    assert data["requiredQueryStringParameters"] == "code=KEY"
    assert data["creationUrls"]["createNewInstancePostUri"].endswith("?code=KEY")
    assert data["managementUrls"]["statusQueryGetUri"].endswith(
        "?taskHub=Other&connection=Conn&code=KEY"
    )


def test_rpc_disabled_gives_null_rpc_base() -> None:
    endpoints = ClientEndpoints(
        "http://localhost:1", "http://127.0.0.1:1", "Hub", local_rpc_enabled=False
    )
    assert json.loads(client_binding_json(endpoints))["rpcBaseUrl"] is None


def test_management_urls_encode_the_id_like_webutility() -> None:
    urls = management_urls(LOCAL, "a b&c", return_internal_server_error_on_failure=True)
    assert urls["id"] == "a b&c"
    assert urls["statusQueryGetUri"] == (
        f"{BASE}/instances/a+b%26c?taskHub=TestHubName&connection=Storage"
        "&returnInternalServerErrorOnFailure=true"
    )
    assert "rewindPostUri" not in check_status_payload(LOCAL, "x")


def test_the_real_sdk_accepts_the_binding_and_builds_our_urls() -> None:
    client = DurableOrchestrationClient(client_binding_json(LOCAL))
    assert client._orchestration_bindings.task_hub_name == "TestHubName"
    rpc = client._orchestration_bindings.rpc_base_url
    assert rpc == "http://127.0.0.1:7071/durabletask/"
    assert client._get_start_new_url("id1", "hello") == f"{rpc}orchestrators/hello/id1"
    assert client._get_raise_event_url("id1", "ev", None, None) == (
        f"{rpc}instances/id1/raiseEvent/ev"
    )
    status_url = RpcManagementOptions(instance_id="id1", show_input=True).to_url(rpc)
    assert status_url == f"{rpc}instances/id1?showInput=True"
    payload = client.create_http_management_payload("id1")
    assert payload["id"] == "id1"
    assert payload["statusQueryGetUri"] == (
        f"{BASE}/instances/id1?taskHub=TestHubName&connection=Storage"
    )
    assert payload["rewindPostUri"] == (
        f"{BASE}/instances/id1/rewind?reason={{text}}&taskHub=TestHubName&connection=Storage"
    )


def test_grpc_binding_points_the_2x_client_at_the_grpc_endpoint() -> None:
    """What the 2.x SDK's DurableFunctionsClient reads: rpcBaseUrl is the gRPC address it
    connects to, httpBaseUrl the webhook base its management payloads are built on."""
    served = ClientEndpoints(
        origin="http://localhost:7071",
        rpc_origin="http://127.0.0.1:7071",
        hub_name="TestHubName",
        grpc_origin="http://127.0.0.1:40123",
    )
    data = json.loads(client_binding_json(served, grpc=True))
    assert data["rpcBaseUrl"] == "http://127.0.0.1:40123"
    assert data["httpBaseUrl"] == BASE
    assert data["taskHubName"] == "TestHubName"
    assert data["maxGrpcMessageSizeInBytes"] == 4 * 1024 * 1024


def test_grpc_binding_without_a_grpc_endpoint_says_so() -> None:
    with pytest.raises(ConfigurationError, match="durableRequiresGrpc"):
        client_binding_json(LOCAL, grpc=True)
