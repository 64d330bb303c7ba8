"""Aggregator pattern over HTTP: samples signalled to the `metric` entity, read back, reported."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.e2e.host_process import HostProcess
from tests.e2e.user import (
    DEFAULT_DEADLINE,
    POLL_EVERY,
    send,
    start,
    wait_for_status,
    wait_until_done,
)


async def _record(http: aiohttp.ClientSession, host: HostProcess, key: str, body: Any) -> int:
    async with http.post(f"{host.base_url}/api/metrics/{key}", json=body) as response:
        payload = await response.json()
        if response.status == 202:
            assert payload["entity"] == {"name": "metric", "key": key}
        return response.status


async def test_samples_are_aggregated_and_reported(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    key = f"cpu-{uuid.uuid4().hex[:6]}"
    url = f"{host.base_url}/api/metrics/{key}"
    async with http.get(url) as response:
        assert response.status == 404  # no samples yet

    samples = [42.5, 57, 12.25, 88]
    for value in samples:
        assert await _record(http, host, key, {"value": value}) == 202

    # Signals are processed asynchronously: poll until all four are in.
    metric = await wait_for_status(http, url, lambda status, body: body.get("count") == 4)
    assert metric == {
        "key": key,
        "count": 4,
        "sum": sum(samples),
        "min": 12.25,
        "max": 88.0,
        "last": 88.0,
        "mean": round(sum(samples) / 4, 6),
    }

    empty = f"mem-{uuid.uuid4().hex[:6]}"
    started = await start(http, host.base_url, "metrics_report", {"keys": [key, empty]})
    body = await wait_until_done(http, started)
    assert body["runtimeStatus"] == "Completed", body
    report = body["output"]
    assert report["samples"] == 4
    assert report["busiest"] == key
    assert report["empty"] == [empty]
    assert report["metrics"][key]["mean"] == metric["mean"]


async def test_bad_samples_are_400_and_change_nothing(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    key = f"lat-{uuid.uuid4().hex[:6]}"
    assert await _record(http, host, key, {"value": "fast"}) == 400
    assert await _record(http, host, "bad key!", {"value": 1}) in (400, 404)
    assert await _record(http, host, key, 0) == 202  # a bare zero is a valid sample
    metric = await wait_for_status(
        http, f"{host.base_url}/api/metrics/{key}", lambda status, _: status == 200
    )
    assert metric["count"] == 1
    assert metric["sum"] == 0


async def test_eternal_rollup_closes_windows_and_stops_after_max_cycles(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    key = f"req-{uuid.uuid4().hex[:6]}"
    for value in (3, 5):
        assert await _record(http, host, key, {"value": value}) == 202
    await wait_for_status(
        http, f"{host.base_url}/api/metrics/{key}", lambda _, body: body.get("count") == 2
    )
    request = {"key": key, "intervalSeconds": 1, "maxCycles": 2}
    started = await start(
        http, host.base_url, "metrics_rollup", request, instance_id=f"rollup-{key}"
    )
    body = await wait_until_done(http, started)
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"]["key"] == key
    assert body["output"]["cycles"] == 2
    assert body["output"]["lastRollup"]["cycle"] == 1
    assert body["output"]["lastRollup"]["count"] == 0
    # continue_as_new carried cycle 0's rollup into the last generation's input (which the
    # SDK sends JSON-encoded once more, as it does start_new's).
    carried = json.loads(body["input"])["lastRollup"]
    assert (carried["cycle"], carried["count"], carried["mean"]) == (0, 2, 4.0)
    # The reset left the window empty.
    async with http.get(f"{host.base_url}/api/metrics/{key}") as response:
        assert (await response.json())["count"] == 0


async def test_signals_through_the_entity_route_reach_get_input_as_in_azure(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    # The extension stores an application/json body as its JSON text, any other body as a JSON
    # string, and the SDK's get_input() decodes that text twice (json.loads, then df_loads): a
    # bare `5` fails there, `"5"` (what the SDK client sends) and text/plain `5` give 5.
    key = f"raw-{uuid.uuid4().hex[:6]}"
    entity = f"{host.base_url}/runtime/webhooks/durabletask/entities/metric/{key}"
    scheduler = f"{host.base_url}/runtime/webhooks/durabletask/instances/@metric@{key}"

    async def record(body: str, content_type: str) -> None:
        status, _ = await send(
            http, "POST", f"{entity}?op=record", data=body, headers={"Content-Type": content_type}
        )
        assert status == 202

    async def until(url: str, condition: Callable[[int, Any], bool]) -> Any:
        deadline = time.monotonic() + DEFAULT_DEADLINE
        while not condition(*(answer := await send(http, "GET", url))):
            assert time.monotonic() < deadline, f"{url} still answers {answer}"
            await asyncio.sleep(POLL_EVERY)
        return answer[1]

    await record("5", "application/json")
    # The scheduler instance appears once the batch has run; the operation failed: no state.
    ran = await until(scheduler, lambda status, _: status != 404)
    # The extension's EntityStatus leaves members out at their defaults (issue 27, item 3).
    assert ran["customStatus"] == {}
    assert (await send(http, "GET", entity))[0] == 404
    await record("7", "text/plain")
    await record(json.dumps(json.dumps(9)), "application/json")
    state = await until(entity, lambda status, body: status == 200 and body["count"] == 2)
    assert (state["sum"], state["min"], state["max"]) == (16.0, 7.0, 9.0)
