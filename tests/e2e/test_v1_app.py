"""A v1 (function.json) app under `python -m durable_host start`, driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import new_hub_name
from tests.e2e.host_process import HostProcess
from tests.e2e.user import start, wait_until_done

V1_APP = Path(__file__).resolve().parent.parent / "apps" / "v1"


@pytest.fixture(scope="module")
def v1_host(azurite: str) -> Iterator[HostProcess]:
    process = HostProcess(V1_APP, storage=azurite, hub_name=new_hub_name()).start()
    try:
        yield process
    finally:
        code = process.stop()
    assert code == 0, f"the host exited with {code} on SIGTERM:\n{process.output}"


def test_banner_lists_the_folders_functions_and_routes(v1_host: HostProcess) -> None:
    base = v1_host.base_url
    for line in (
        f"HttpStart: [POST,GET] {base}/api/orchestrators/{{functionName}}",
        f"DurableTrigger: [POST] {base}/api/counter-orchestrations",
        f"RetrieveEntity: [GET] {base}/api/entity/{{entityName}}/{{entityKey}}",
        "E1_HelloSequence: orchestrationTrigger",
        "E1_SayHello: activityTrigger",
        "Counter: entityTrigger",
    ):
        assert line in v1_host.output


async def test_the_chaining_sample_runs_through_its_http_starter(
    v1_host: HostProcess, http: aiohttp.ClientSession
) -> None:
    started = await start(http, v1_host.base_url, "E1_HelloSequence", ["Tokyo", "Oslo"])
    body = await wait_until_done(http, started)
    assert body["runtimeStatus"] == "Completed"
    # The last entry went through the custom class (to_json/from_json, relative imports).
    assert body["output"] == ["Hello Tokyo!", "Hello Oslo!", "Hello TOKYO! Hello TOKYO!"]
    assert "Executed 'Functions.E1_SayHello' (Succeeded" in v1_host.output


async def test_named_http_output_and_the_entity_sample(
    v1_host: HostProcess, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{v1_host.base_url}/api/counter-orchestrations") as response:
        assert response.status == 202
        started = await response.json()
    body = await wait_until_done(http, started)
    assert body["runtimeStatus"] == "Completed" and body["output"] == 3

    async with http.get(f"{v1_host.base_url}/api/entity/Counter/myCounter") as response:
        assert response.status == 200
        assert await response.json() == {"entity": "Counter", "key": "myCounter", "state": 3}
    async with http.get(f"{v1_host.base_url}/api/entity/Counter/nobody") as response:
        assert (response.status, await response.text()) == (404, "Entity not found")
    async with http.delete(f"{v1_host.base_url}/api/entity/Counter/myCounter") as response:
        assert response.status == 405  # the route takes GET only
