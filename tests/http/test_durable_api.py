from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from durable_host.engine.client.api import InstanceStatus
from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints
from durable_host.http.durable_api import DurableApi
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionCompleted,
    ExecutionStarted,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
    TaskCompleted,
    TaskScheduled,
)
from tests.http.fake_management import T0, FakeManagementApi

# The aiohttp test client of the host's HTTP app.
AppClient = TestClient[web.Request, web.Application]

S = OrchestrationStatus
WEBHOOK = "/runtime/webhooks/durabletask"
BASES = [WEBHOOK + "/", "/durabletask/"]


@pytest.fixture
def fake() -> FakeManagementApi:
    return FakeManagementApi()


@pytest.fixture
async def client(fake: FakeManagementApi) -> AsyncIterator[AppClient]:
    endpoints = ClientEndpoints(
        origin="http://localhost:7071", rpc_origin="http://127.0.0.1:7071", hub_name="TestHubName"
    )
    app = create_app(durable_api=DurableApi(fake, endpoints))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture(params=BASES)
def base(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --------------------------------------------------------------------------- start


async def test_start_returns_check_status_payload(
    client: AppClient, fake: FakeManagementApi, base: str
) -> None:
    resp = await client.post(f"{base}orchestrators/hello/my-id", json={"city": "Tokyo"})
    assert resp.status == 202
    body = await resp.json()
    origin = f"http://{resp.url.host}:{resp.url.port}"
    prefix = f"{origin}{WEBHOOK}/instances/my-id"
    query = "taskHub=TestHubName&connection=Storage"
    assert body == {
        "id": "my-id",
        "statusQueryGetUri": f"{prefix}?{query}",
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{prefix}?{query}",
        "restartPostUri": f"{prefix}/restart?{query}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{query}",
    }
    assert resp.headers["Location"] == body["statusQueryGetUri"]
    assert resp.headers["Retry-After"] == "10"
    assert fake.calls[-1] == ("start_new", "hello", "my-id", '{"city": "Tokyo"}')


async def test_start_as_the_python_sdk_sends_it(client: AppClient, fake: FakeManagementApi) -> None:
    # DurableOrchestrationClient.start_new: body df_dumps(input) sent again through json=.
    resp = await client.post("/durabletask/orchestrators/hello", json=json.dumps([1, 2]))
    assert resp.status == 202
    body = await resp.json()
    assert len(body["id"]) == 32
    assert fake.calls[-1] == ("start_new", "hello", body["id"], '"[1, 2]"')


async def test_start_without_body_and_with_query_hub(
    client: AppClient, fake: FakeManagementApi
) -> None:
    resp = await client.post(f"{WEBHOOK}/orchestrators/hello/x?taskHub=Other&connection=Conn")
    assert resp.status == 202
    assert (await resp.json())["statusQueryGetUri"].endswith("?taskHub=Other&connection=Conn")
    assert fake.calls[-1] == ("start_new", "hello", "x", None)


async def test_start_unknown_function_is_400_with_http_error(client: AppClient, base: str) -> None:
    resp = await client.post(f"{base}orchestrators/nope")
    assert resp.status == 400
    body = await resp.json()
    assert body["Message"] == "One or more of the arguments submitted is incorrect"
    assert body["ExceptionMessage"].startswith(
        "The function 'nope' doesn't exist, is disabled, or is not an orchestrator function."
    )
    assert body["ExceptionType"] == "System.ArgumentException"
    assert "StackTrace" in body


async def test_start_bad_json_is_400(client: AppClient) -> None:
    resp = await client.post(f"{WEBHOOK}/orchestrators/hello", data=b"{not json")
    assert resp.status == 400
    body = await resp.json()
    assert body["Message"] == "Invalid JSON content"
    assert body["ExceptionType"] == "Newtonsoft.Json.JsonReaderException"


async def test_start_invalid_instance_id_is_400(client: AppClient) -> None:
    resp = await client.post(f"{WEBHOOK}/orchestrators/hello/@bad")
    assert resp.status == 400
    assert "must not start with @" in (await resp.json())["ExceptionMessage"]


async def test_start_get_is_404(client: AppClient) -> None:
    resp = await client.get(f"{WEBHOOK}/orchestrators/hello")
    assert resp.status == 404
    assert await resp.read() == b""


async def test_wait_variant_outcomes(client: AppClient, fake: FakeManagementApi) -> None:
    outcome: dict[str, str] = {}

    async def wait(
        instance_id: str, *, timeout: float, poll_interval: float = 0.05
    ) -> InstanceStatus | None:
        fake.put(instance_id, OrchestrationStatus[outcome["status"]], output=outcome.get("output"))
        return fake.instances[instance_id]

    fake.wait_for_completion = wait  # type: ignore[method-assign]
    url = f"{WEBHOOK}/orchestrators/hello/{{}}?timeout=3&pollingInterval=1"

    outcome.update(status="Completed", output='{"n": 1}')
    resp = await client.post(url.format("a"))
    assert (resp.status, await resp.json()) == (200, {"n": 1})

    outcome.update(status="Failed", output="boom")
    resp = await client.post(url.format("b"))
    assert resp.status == 200
    assert (await resp.json())["output"] == "boom"
    resp = await client.post(url.format("c") + "&returnInternalServerErrorOnFailure=true")
    assert resp.status == 500
    assert (await resp.json())["runtimeStatus"] == "Failed"

    outcome.update(status="Running", output="")
    resp = await client.post(url.format("d"))
    assert resp.status == 202
    assert resp.headers["Retry-After"] == "10"

    resp = await client.post(f"{WEBHOOK}/orchestrators/hello/e?timeout=1&pollingInterval=5")
    assert resp.status == 400
    message = "Total timeout 1 should be bigger than retry timeout 5"
    assert (await resp.json()) == {"Message": message}


# --------------------------------------------------------------------------- status


async def test_status_running_is_202_with_location(
    client: AppClient, fake: FakeManagementApi, base: str
) -> None:
    for status in (S.Running, S.Pending, S.ContinuedAsNew, S.Suspended):
        fake.put("i1", status, input='"[1, 2]"', custom_status="not json {")
        resp = await client.get(f"{base}instances/i1")
        assert resp.status == 202
        assert resp.headers["Retry-After"] == "5"
        assert resp.headers["Location"] == str(resp.url)
        body = await resp.json()
        assert body == {
            "name": "hello",
            "instanceId": "i1",
            "runtimeStatus": status.name,
            "input": "[1, 2]",
            "customStatus": "not json {",
            "output": None,
            "createdTime": "2024-03-01T10:00:00Z",
            "lastUpdatedTime": "2024-03-01T10:00:00Z",
        }


@pytest.mark.parametrize(
    ("status", "flag", "code"),
    [
        (S.Completed, "", 200),
        (S.Terminated, "", 200),
        (S.Canceled, "", 200),
        (S.Failed, "", 200),
        (S.Failed, "?returnInternalServerErrorOnFailure=true", 500),
        (S.Completed, "?returnInternalServerErrorOnFailure=true", 200),
    ],
)
async def test_status_finished(
    client: AppClient, fake: FakeManagementApi, status: S, flag: str, code: int
) -> None:
    fake.put("i1", status, output='{"a": [1]}')
    resp = await client.get(f"{WEBHOOK}/instances/i1{flag}")
    assert resp.status == code
    assert "Location" not in resp.headers
    assert (await resp.json())["output"] == {"a": [1]}


async def test_status_unknown_is_404_empty(client: AppClient) -> None:
    resp = await client.get("/durabletask/instances/missing")
    assert resp.status == 404
    assert await resp.read() == b""


async def test_status_query_flags_as_the_sdk_sends_them(
    client: AppClient, fake: FakeManagementApi
) -> None:
    fake.put("i1", S.Completed, input="5")
    resp = await client.get(
        "/durabletask/instances/i1?showInput=False&showHistory=True&showHistoryOutput=True"
    )
    assert resp.status == 200
    assert fake.calls[-1] == ("get_status", "i1", True, True, False)
    body = await resp.json()
    assert body["input"] is None
    assert "historyEvents" not in body  # no history came back from the engine


def _history() -> list[Any]:
    t = T0
    inst = OrchestrationInstance("i1", "e1")
    return [
        OrchestratorStarted(timestamp=t),
        ExecutionStarted(timestamp=t, orchestration_instance=inst, name="hello", input='"x"'),
        TaskScheduled(timestamp=t, event_id=0, name="say", input='["Tokyo"]'),
        OrchestratorCompleted(timestamp=t),
        OrchestratorStarted(timestamp=t + timedelta(seconds=1)),
        TaskCompleted(timestamp=t + timedelta(seconds=1), task_scheduled_id=0, result='"Hi"'),
        EventRaised(timestamp=t + timedelta(seconds=1), name="approve", input="true"),
        TaskScheduled(timestamp=t + timedelta(seconds=1), event_id=1, name="pending"),
        ExecutionCompleted(
            timestamp=t + timedelta(seconds=2),
            orchestration_status=S.Completed,
            result='["Hi"]',
        ),
    ]


async def test_status_history_events_shape(client: AppClient, fake: FakeManagementApi) -> None:
    fake.put("i1", S.Completed, history=_history())
    resp = await client.get(f"{WEBHOOK}/instances/i1?showHistory=true")
    events = (await resp.json())["historyEvents"]
    assert [e["EventType"] for e in events] == [
        "ExecutionStarted",
        "TaskCompleted",
        "EventRaised",
        "TaskScheduled",
        "ExecutionCompleted",
    ]
    started, completed, raised, pending, done = events
    assert started["FunctionName"] == "hello"
    assert "OrchestrationInstance" not in started
    assert "EventId" not in completed and "IsPlayed" not in completed
    assert completed["FunctionName"] == "say"
    assert completed["ScheduledTime"] == "2024-03-01T10:00:00.123456Z"
    assert completed["Timestamp"] == "2024-03-01T10:00:01.123456Z"
    assert "Result" not in completed and "TaskScheduledId" not in completed
    # Inputs stay as stored (text); a completion carries its scheduled task's input.
    assert started["Input"] == '"x"'
    assert completed["Input"] == '["Tokyo"]'
    assert raised["Input"] == "true" and raised["Name"] == "approve"
    assert pending["Name"] == "pending" and pending["Input"] is None
    assert done["OrchestrationStatus"] == "Completed" and "Result" not in done

    resp = await client.get(f"{WEBHOOK}/instances/i1?showHistory=true&showInput=false")
    events = (await resp.json())["historyEvents"]
    assert len(events) == 5
    assert [e for e in events if "Input" in e] == []

    resp = await client.get(f"{WEBHOOK}/instances/i1?showHistory=true&showHistoryOutput=true")
    events = (await resp.json())["historyEvents"]
    assert events[1]["Result"] == "Hi"
    assert events[-1]["Result"] == ["Hi"]


# --------------------------------------------------------------------------- list


async def test_list_with_filters_and_continuation(
    client: AppClient, fake: FakeManagementApi
) -> None:
    for n in range(3):
        fake.put(f"job-{n}", S.Completed, input='{"k": 1}')
    fake.put("other", S.Running)
    resp = await client.get(
        "/durabletask/instances/?runtimeStatus=Completed,Bogus,1&instanceIdPrefix=job-"
        "&createdTimeFrom=2024-01-01T00:00:00.000000Z&top=2"
    )
    assert resp.status == 200
    body = await resp.json()
    assert [s["instanceId"] for s in body] == ["job-0", "job-1"]
    assert body[0]["input"] == {"k": 1}
    token = resp.headers["x-ms-continuation-token"]
    _, query, top, _ = fake.calls[-1]
    assert query.runtime_status == frozenset({S.Completed})
    assert query.instance_id_prefix == "job-"
    assert query.created_time_from is not None and query.created_time_from.year == 2024
    assert top == 2

    resp = await client.get(
        f"{WEBHOOK}/instances?instanceIdPrefix=job-&top=2&showInput=false",
        headers={"x-ms-continuation-token": token},
    )
    body = await resp.json()
    assert [s["instanceId"] for s in body] == ["job-2"]
    assert body[0]["input"] is None
    assert "x-ms-continuation-token" not in resp.headers


async def test_list_default_page_size(client: AppClient, fake: FakeManagementApi) -> None:
    resp = await client.get(f"{WEBHOOK}/instances/?top=abc")
    assert (resp.status, await resp.json()) == (200, [])
    assert fake.calls[-1][2] == 100


async def test_a_one_character_continuation_token_means_the_first_page(
    client: AppClient, fake: FakeManagementApi
) -> None:
    fake.put("only", S.Completed)
    resp = await client.get(f"{WEBHOOK}/instances", headers={"x-ms-continuation-token": "x"})
    assert resp.status == 200
    assert [s["instanceId"] for s in await resp.json()] == ["only"]
    assert fake.calls[-1][3] is None


# --------------------------------------------------------------------------- purge


async def test_purge_one(client: AppClient, fake: FakeManagementApi, base: str) -> None:
    fake.put("done", S.Completed)
    fake.put("busy", S.Running)
    resp = await client.delete(f"{base}instances/done")
    assert (resp.status, await resp.json()) == (200, {"instancesDeleted": 1})
    resp = await client.delete(f"{base}instances/done")
    assert resp.status == 404
    resp = await client.delete(f"{base}instances/busy")
    assert resp.status == 412
    assert "terminal state" in await resp.json()
    assert "busy" in fake.instances


async def test_purge_by_filter(client: AppClient, fake: FakeManagementApi) -> None:
    resp = await client.delete(f"{WEBHOOK}/instances/")
    assert resp.status == 400
    assert await resp.json() == "Please provide value for 'createdTimeFrom' parameter."

    fake.put("a", S.Completed)
    fake.put("b", S.Failed)
    fake.put("c", S.Running)
    resp = await client.delete(
        "/durabletask/instances/?createdTimeFrom=2020-01-01T00:00:00.000000Z"
        "&runtimeStatus=Completed,Failed"
    )
    assert (resp.status, await resp.json()) == (200, {"instancesDeleted": 2})
    query = fake.calls[-1][1]
    assert query.runtime_status == frozenset({S.Completed, S.Failed})
    assert query.created_time_to is not None  # defaults to now
    resp = await client.delete(
        "/durabletask/instances/?createdTimeFrom=2020-01-01&runtimeStatus=Completed"
    )
    assert resp.status == 404


# --------------------------------------------------------------------------- raise event


async def test_raise_event(client: AppClient, fake: FakeManagementApi, base: str) -> None:
    fake.put("i1", S.Running)
    # The Python SDK sends json.dumps(data) through json=, i.e. JSON text inside a JSON string.
    resp = await client.post(f"{base}instances/i1/raiseEvent/Approval", json=json.dumps(True))
    assert resp.status == 202
    assert fake.calls[-1] == ("raise_event", "i1", "Approval", '"true"')
    resp = await client.post(f"{base}instances/i1/RAISEEVENT/ev", json={"a": [1, 2]})
    assert resp.status == 202
    assert fake.calls[-1] == ("raise_event", "i1", "ev", '{"a":[1,2]}')


async def test_raise_event_errors(client: AppClient, fake: FakeManagementApi) -> None:
    fake.put("i1", S.Running)
    fake.put("done", S.Completed)
    url = f"{WEBHOOK}/instances/{{}}/raiseEvent/ev"
    resp = await client.post(url.format("missing"), json=1)
    assert resp.status == 404
    resp = await client.post(url.format("done"), json=1)
    assert resp.status == 410
    resp = await client.post(url.format("i1"), data="1", headers={"Content-Type": "text/plain"})
    assert resp.status == 400
    assert await resp.json() == {"Message": "Only application/json request content is supported"}
    resp = await client.post(
        url.format("i1"), data="{oops", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert (await resp.json())["Message"] == "Invalid JSON content"
    resp = await client.get(url.format("i1"))
    assert resp.status == 404


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("operation", ["terminate", "suspend", "resume"])
async def test_lifecycle_operations(
    client: AppClient, fake: FakeManagementApi, operation: str, base: str
) -> None:
    fake.put("i1", S.Running)
    fake.put("done", S.Terminated)
    resp = await client.post(f"{base}instances/i1/{operation}?reason=because%20I%20said")
    assert resp.status == 202
    assert fake.calls[-1] == (operation, "i1", "because I said")
    resp = await client.post(f"{base}instances/missing/{operation}?reason=x")
    assert resp.status == 404
    resp = await client.post(f"{base}instances/done/{operation}?reason=x")
    assert resp.status == 410


async def test_unknown_operation_and_wrong_verbs_are_404(
    client: AppClient, fake: FakeManagementApi
) -> None:
    fake.put("i1", S.Running)
    for method, path in [
        ("POST", "instances/i1/explode"),
        ("GET", "instances/i1/terminate"),
        ("PUT", "instances/i1"),
        ("POST", "instances/"),
        ("GET", "nothing/here"),
        ("GET", "instances/a/b/c/d/e"),
    ]:
        resp = await client.request(method, f"{WEBHOOK}/{path}")
        assert resp.status == 404, (method, path)


async def test_rewind(client: AppClient, fake: FakeManagementApi, base: str) -> None:
    fake.put("failed", S.Failed)
    fake.put("running", S.Running)
    fake.put("done", S.Completed)
    resp = await client.post(f"{base}instances/failed/rewind?reason=retry")
    assert resp.status == 202
    assert fake.calls[-1] == ("rewind", "failed", "retry")
    resp = await client.post(f"{base}instances/missing/rewind?reason=x")
    assert resp.status == 404
    for instance_id, status in (("running", "Running"), ("done", "Completed")):
        resp = await client.post(f"{base}instances/{instance_id}/rewind?reason=x")
        assert resp.status == 412
        assert f"This orchestration has status {status}" in await resp.json()


async def test_restart(client: AppClient, fake: FakeManagementApi, base: str) -> None:
    fake.put("old", S.Completed, input='"in"')
    resp = await client.post(f"{base}instances/old/restart")
    assert resp.status == 202
    body = await resp.json()
    assert body["id"] == "restarted"
    assert fake.calls[-1] == ("restart", "old", True)
    resp = await client.post(f"{base}instances/old/restart?restartWithNewInstanceId=false")
    assert (await resp.json())["id"] == "old"
    assert fake.calls[-1] == ("restart", "old", False)
    resp = await client.post(f"{base}instances/missing/restart")
    assert resp.status == 400
    body = await resp.json()
    assert body["Message"] == "InstanceId does not match a valid orchestration instance."
    assert body["ExceptionMessage"] == (
        "An orchestrastion with the instanceId missing was not found."
    )
    assert body["ExceptionType"] == "System.ArgumentException"
    fake.put("busy", S.Running)
    resp = await client.post(f"{base}instances/busy/restart?restartWithNewInstanceId=false")
    assert resp.status == 409
    assert await resp.json() == ALREADY_RUNNING


ALREADY_RUNNING = {
    "Message": "A non-terminal instance with this instance ID already exists.",
    "ExceptionMessage": "An Orchestration instance with the status Running already exists.",
    "ExceptionType": "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException",
    "StackTrace": None,
}


async def test_start_of_an_unfinished_instance_id_is_409(
    client: AppClient, fake: FakeManagementApi, base: str
) -> None:
    fake.put("busy", S.Running)
    resp = await client.post(f"{base}orchestrators/hello/busy", json=1)
    assert resp.status == 409
    assert await resp.json() == ALREADY_RUNNING
    fake.put("done", S.Completed)
    resp = await client.post(f"{base}orchestrators/hello/done", json=1)
    assert resp.status == 202


async def test_makeprimary(client: AppClient, base: str) -> None:
    for method in ("GET", "POST"):
        resp = await client.request(method, f"{base}makeprimary/")
        assert resp.status == 200


async def test_engine_failure_is_500_http_error(client: AppClient, fake: FakeManagementApi) -> None:

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("storage is down")

    fake.get_status = broken  # type: ignore[method-assign]
    resp = await client.get(f"{WEBHOOK}/instances/x")
    assert resp.status == 500
    body = await resp.json()
    assert body["Message"] == "Something went wrong while processing your request"
    assert body["ExceptionMessage"] == "storage is down"
