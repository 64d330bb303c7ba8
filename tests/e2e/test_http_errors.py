"""Every error answer of the app's starter and of the Durable HTTP API, over plain HTTP."""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.host_process import HostProcess
from tests.e2e.test_patterns import ORDER
from tests.e2e.user import send as _send
from tests.e2e.user import start, wait_until_done

WEBHOOK = "/runtime/webhooks/durabletask"


@pytest.fixture
async def finished(host: HostProcess, http: aiohttp.ClientSession) -> dict[str, str]:
    started = await start(http, host.base_url, "process_order", ORDER)
    body = await wait_until_done(http, started)
    assert body["runtimeStatus"] == "Completed"
    return started


# --------------------------------------------------------------------------- the app's starter


async def test_starter_unknown_orchestrator_is_400(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    status, body = await _send(http, "POST", f"{host.base_url}/api/orchestrators/nope", json={})
    assert status == 400
    assert "The function 'nope' doesn't exist" in body["error"]
    assert "process_order" in body["error"]


async def test_starter_malformed_json_is_400(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}/api/orchestrators/process_order"
    status, body = await _send(
        http, "POST", url, data="{bad", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert "not valid JSON" in body["error"]


async def test_unknown_route_is_404_and_wrong_method_is_405(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    status, _ = await _send(http, "GET", f"{host.base_url}/api/nothing-here")
    assert status == 404
    async with http.get(f"{host.base_url}/api/orchestrators/process_order") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"


# --------------------------------------------------------------------------- Durable HTTP API


async def test_api_start_unknown_orchestrator_is_400(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}{WEBHOOK}/orchestrators/nope"
    status, body = await _send(http, "POST", url, json={})
    assert status == 400
    assert body["Message"] == "One or more of the arguments submitted is incorrect"
    assert "nope" in body["ExceptionMessage"]
    assert body["ExceptionType"] == "System.ArgumentException"


async def test_api_start_with_malformed_json_is_400(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}{WEBHOOK}/orchestrators/process_order"
    status, body = await _send(
        http, "POST", url, data="{bad", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert body["Message"] == "Invalid JSON content"


async def test_api_start_answers_202_with_management_urls(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}{WEBHOOK}/orchestrators/process_order/api-start-1"
    status, body = await _send(http, "POST", url, json=ORDER)
    assert status == 202
    assert body["id"] == "api-start-1"
    assert "rewindPostUri" not in body  # the host's own check-status payload has none
    done = await wait_until_done(http, body)
    assert done["output"]["status"] == "confirmed"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "instances/no-such-id"),
        ("POST", "instances/no-such-id/raiseEvent/ApprovalDecision"),
        ("POST", "instances/no-such-id/terminate?reason=x"),
        ("POST", "instances/no-such-id/suspend?reason=x"),
        ("POST", "instances/no-such-id/resume?reason=x"),
        ("DELETE", "instances/no-such-id"),
    ],
)
async def test_unknown_instance_is_404(
    host: HostProcess, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    status, _ = await _send(http, method, f"{host.base_url}{WEBHOOK}/{path}", json={})
    assert status == 404


async def test_rewind_of_an_unknown_instance_is_404_with_a_message(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}{WEBHOOK}/instances/no-such-id/rewind?reason=x"
    status, body = await _send(http, "POST", url)
    assert status == 404
    assert body == 'No orchestration with instance ID "no-such-id" found.'


async def test_restart_of_an_unknown_instance_is_400(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}{WEBHOOK}/instances/no-such-id/restart"
    status, body = await _send(http, "POST", url)
    assert status == 400
    assert body == {
        "Message": "InstanceId does not match a valid orchestration instance.",
        # The extension's wording, its spelling included.
        "ExceptionMessage": "An orchestrastion with the instanceId no-such-id was not found.",
        "ExceptionType": "System.ArgumentException",
        "StackTrace": None,
    }


async def test_operations_on_a_finished_instance_are_410(
    http: aiohttp.ClientSession, finished: dict[str, str]
) -> None:
    event = finished["sendEventPostUri"].replace("{eventName}", "ApprovalDecision")
    status, _ = await _send(http, "POST", event, json={"approved": True})
    assert status == 410
    for key in ("terminatePostUri", "suspendPostUri", "resumePostUri"):
        status, _ = await _send(http, "POST", finished[key].replace("{text}", "late"))
        assert status == 410, key


async def test_rewind_of_a_completed_instance_is_412(
    http: aiohttp.ClientSession, finished: dict[str, str]
) -> None:
    status, body = await _send(http, "POST", finished["rewindPostUri"].replace("{text}", "x"))
    assert status == 412
    assert "has status Completed" in body
    assert '"Failed" state can be rewound' in body


async def test_rewind_of_a_running_instance_is_412(
    http: aiohttp.ClientSession, waiting: dict[str, str]
) -> None:
    # The check-status payload has no rewindPostUri; it is the instance URL + /rewind.
    url = waiting["terminatePostUri"].replace("/terminate?", "/rewind?").replace("{text}", "x")
    status, body = await _send(http, "POST", url)
    assert status == 412
    assert "has status Running" in body


async def test_purge_of_a_running_instance_is_412(
    http: aiohttp.ClientSession, waiting: dict[str, str]
) -> None:
    status, body = await _send(http, "DELETE", waiting["purgeHistoryDeleteUri"])
    assert status == 412
    assert "terminal state" in body
    running, _ = await _send(http, "GET", waiting["statusQueryGetUri"])
    assert running == 202  # still there, still running


async def test_event_without_json_content_type_is_400(
    http: aiohttp.ClientSession, waiting: dict[str, str]
) -> None:
    event = waiting["sendEventPostUri"].replace("{eventName}", "ApprovalDecision")
    status, body = await _send(
        http, "POST", event, data="approved", headers={"Content-Type": "text/plain"}
    )
    assert status == 400
    assert body["Message"] == "Only application/json request content is supported"


async def test_event_with_malformed_json_is_400(
    http: aiohttp.ClientSession, waiting: dict[str, str]
) -> None:
    event = waiting["sendEventPostUri"].replace("{eventName}", "ApprovalDecision")
    status, body = await _send(
        http, "POST", event, data="{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert body["Message"] == "Invalid JSON content"


async def test_purge_by_filter_needs_created_time_from(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}{WEBHOOK}/instances?runtimeStatus=Completed"
    status, body = await _send(http, "DELETE", url)
    assert status == 400
    assert body == "Please provide value for 'createdTimeFrom' parameter."


async def test_purge_by_filter_that_matches_nothing_is_404(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}{WEBHOOK}/instances"
    params = {"createdTimeFrom": "2001-01-01T00:00:00Z", "createdTimeTo": "2001-01-02T00:00:00Z"}
    status, _ = await _send(http, "DELETE", url, params=params)
    assert status == 404


async def test_purge_then_the_instance_is_gone(
    http: aiohttp.ClientSession, finished: dict[str, str]
) -> None:
    status, body = await _send(http, "DELETE", finished["purgeHistoryDeleteUri"])
    assert (status, body) == (200, {"instancesDeleted": 1})
    status, _ = await _send(http, "GET", finished["statusQueryGetUri"])
    assert status == 404
