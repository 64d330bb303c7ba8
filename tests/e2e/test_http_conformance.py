"""Answers of the Durable HTTP API that follow the extension's HttpApiHandler/DurableClient
in detail (docs/compatibility.md lists where they do not, and why): starting an id that is
still running, history inputs, entity state text, continuation tokens.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp
import azure.durable_functions as df
import pytest

from tests.e2e.host_process import HostProcess
from tests.e2e.test_patterns import EXPENSE
from tests.e2e.user import send as _send
from tests.e2e.user import wait_until_done

WEBHOOK = "/runtime/webhooks/durabletask"
ALREADY_EXISTS = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"
ARGUMENT_MESSAGE = "One or more of the arguments submitted is incorrect"


async def _api_start(
    http: aiohttp.ClientSession, host: HostProcess, instance_id: str, body: Any
) -> tuple[int, Any]:
    url = f"{host.base_url}{WEBHOOK}/orchestrators/expense_approval/{instance_id}"
    return await _send(http, "POST", url, json=body)


def _assert_already_exists(body: dict[str, Any]) -> None:
    assert body["ExceptionType"] == ALREADY_EXISTS
    assert body["ExceptionMessage"] == (
        "An Orchestration instance with the status Running already exists."
    )
    assert body["Message"] == "A non-terminal instance with this instance ID already exists."


# --------------------------------------------------------------------------- a running id


async def test_api_start_of_a_running_instance_id_is_409(
    host: HostProcess, http: aiohttp.ClientSession, waiting: dict[str, Any]
) -> None:
    status, body = await _api_start(http, host, waiting["id"], EXPENSE)
    assert status == 409
    _assert_already_exists(body)
    # The running instance is untouched: still waiting, on its original input (which the
    # starter's SDK client sent JSON-encoded once more).
    status, current = await _send(http, "GET", waiting["statusQueryGetUri"])
    assert status == 202
    assert json.loads(current["input"])["timeoutSeconds"] == 600


async def test_restart_under_the_same_id_of_a_running_instance_is_409(
    http: aiohttp.ClientSession, waiting: dict[str, Any]
) -> None:
    url = waiting["restartPostUri"] + "&restartWithNewInstanceId=false"
    status, body = await _send(http, "POST", url)
    assert status == 409
    _assert_already_exists(body)


async def test_sdk_start_new_of_a_running_instance_id_raises_the_409_body(
    sdk_client: df.DurableOrchestrationClient, waiting: dict[str, Any]
) -> None:
    # The SDK raises a bare Exception carrying the body of any answer but 2xx and 400.
    with pytest.raises(Exception) as raised:
        await sdk_client.start_new("expense_approval", waiting["id"], EXPENSE)
    (body,) = raised.value.args
    _assert_already_exists(body)


async def test_app_starter_of_a_running_instance_id_is_409(
    host: HostProcess, http: aiohttp.ClientSession, waiting: dict[str, Any]
) -> None:
    url = f"{host.base_url}/api/orchestrators/expense_approval/{waiting['id']}"
    status, body = await _send(http, "POST", url, json=EXPENSE)
    assert status == 409
    assert f"instance id '{waiting['id']}' already exists" in body["error"]


# --------------------------------------------------------------------------- history inputs


async def test_history_events_keep_their_inputs_unless_show_input_is_false(
    host: HostProcess, http: aiohttp.ClientSession, waiting: dict[str, Any]
) -> None:
    event_url = waiting["sendEventPostUri"].replace("{eventName}", "ApprovalDecision")
    status, _ = await _send(http, "POST", event_url, json={"approved": True, "by": "lena"})
    assert status == 202
    done = await wait_until_done(http, waiting)
    assert done["output"]["status"] == "approved"

    status, body = await _send(http, "GET", waiting["statusQueryGetUri"] + "&showHistory=true")
    assert status == 200
    events = {event["EventType"]: event for event in body["historyEvents"]}
    # ExecutionStarted keeps the input as stored: JSON text of the JSON the SDK client sent.
    started_input = json.loads(json.loads(events["ExecutionStarted"]["Input"]))
    assert started_input == {**EXPENSE, "timeoutSeconds": 600}
    assert json.loads(events["EventRaised"]["Input"]) == {"approved": True, "by": "lena"}
    # A completion carries its scheduled activity's input: one JSON text per argument.
    completed = [e for e in body["historyEvents"] if e["EventType"] == "TaskCompleted"]
    assert completed and all(e["FunctionName"] for e in completed)
    first_argument = json.loads(json.loads(completed[0]["Input"])[0])
    assert first_argument["expenseId"] == EXPENSE["expenseId"]

    url = waiting["statusQueryGetUri"] + "&showHistory=true&showInput=false"
    status, hidden = await _send(http, "GET", url)
    assert status == 200
    assert len(hidden["historyEvents"]) == len(body["historyEvents"])
    assert [e for e in hidden["historyEvents"] if "Input" in e] == []
    assert hidden["input"] is None


# --------------------------------------------------------------------------- entity state


async def test_entity_state_is_compact_json(host: HostProcess, http: aiohttp.ClientSession) -> None:
    key = f"conf-{uuid.uuid4().hex[:8]}"
    url = f"{host.base_url}{WEBHOOK}/entities/metric/{key}"
    for sample in (40, 59.5):
        # The SDK's entity input is JSON text inside JSON, as its own client sends it.
        status, _ = await _send(http, "POST", f"{url}?op=record", json=json.dumps(sample))
        assert status == 202
    deadline = time.monotonic() + 30
    while True:
        async with http.get(url) as response:
            text = await response.text()
            if response.status == 200 and json.loads(text)["count"] == 2:
                break
        assert time.monotonic() < deadline, f"{url}: {response.status} {text}"
        await asyncio.sleep(0.05)
    state = json.loads(text)
    assert state["sum"] == 99.5
    assert text == json.dumps(state, separators=(",", ":"))


# --------------------------------------------------------------------------- continuation tokens


@pytest.mark.parametrize("path", ["instances", "entities", "entities/metric"])
async def test_an_unreadable_continuation_token_is_400(
    host: HostProcess, http: aiohttp.ClientSession, path: str
) -> None:
    url = f"{host.base_url}{WEBHOOK}/{path}"
    headers = {"x-ms-continuation-token": "not a token of this host"}
    status, body = await _send(http, "GET", url, headers=headers)
    assert status == 400
    assert body["Message"] == ARGUMENT_MESSAGE
    assert body["ExceptionType"] == "System.ArgumentException"
    assert "x-ms-continuation-token" in body["ExceptionMessage"]


async def test_a_one_character_continuation_token_means_the_first_page(
    host: HostProcess, http: aiohttp.ClientSession, waiting: dict[str, Any]
) -> None:
    url = f"{host.base_url}{WEBHOOK}/instances"
    status, first = await _send(http, "GET", url, params={"top": "1"})
    assert status == 200 and len(first) == 1
    status, again = await _send(
        http, "GET", url, params={"top": "1"}, headers={"x-ms-continuation-token": "x"}
    )
    assert status == 200
    assert [s["instanceId"] for s in again] == [s["instanceId"] for s in first]
