"""Aggregator: the `metric` entity fed by signals (SDK client and the app's HTTP route), read back,
reported by metrics_report, and rolled up by the eternal metrics_rollup."""

from __future__ import annotations

import aiohttp
import azure.durable_functions as df

from durable_host.taskhub.events import ContinueAsNew, ExecutionStarted, TimerFired
from durable_host.testing import DurableTestEnvironment

DAY = 86400


async def record(env: DurableTestEnvironment, key: str, *values: float) -> None:
    for value in values:
        await env.client.signal_entity(df.EntityId("metric", key), "record", {"value": value})


async def test_signals_accumulate_in_the_entity(durable_env: DurableTestEnvironment) -> None:
    await record(durable_env, "cpu", 42.5, 57)

    state = await durable_env.wait_for_entity("metric", "cpu", lambda s: s and s["count"] == 2)
    assert state == {"count": 2, "sum": 99.5, "min": 42.5, "max": 57, "last": 57}
    assert await durable_env.read_entity("metric", "memory") is None


async def test_the_http_route_signals_and_reads(durable_env: DurableTestEnvironment) -> None:
    url = f"{durable_env.base_url}/api/metrics/disk"
    async with aiohttp.ClientSession() as http:
        for value in (10, 30):
            async with http.post(url, json={"value": value}) as response:
                assert response.status == 202
        await durable_env.wait_for_entity("metric", "disk", lambda s: s and s["count"] == 2)
        async with http.get(url) as response:
            assert response.status == 200
            body = await response.json()
    assert body["count"] == 2
    assert body["mean"] == 20


async def test_the_report_calls_each_entity(durable_env: DurableTestEnvironment) -> None:
    await record(durable_env, "cpu", 40, 60, 80)
    await durable_env.wait_for_entity("metric", "cpu", lambda s: s and s["count"] == 3)

    output = await durable_env.run("metrics_report", {"keys": ["cpu", "memory"]})

    assert output["samples"] == 3
    assert output["busiest"] == "cpu"
    assert output["empty"] == ["memory"]
    assert output["metrics"]["cpu"]["mean"] == 60


async def test_a_30_day_eternal_rollup_runs_in_virtual_time(
    durable_env: DurableTestEnvironment,
) -> None:
    await record(durable_env, "cpu", 1, 2, 3)
    await durable_env.wait_for_entity("metric", "cpu", lambda s: s and s["count"] == 3)
    request = {"key": "cpu", "intervalSeconds": DAY, "maxCycles": 30}
    started_at = durable_env.now()
    instance_id = await durable_env.start_orchestration("metrics_rollup", request)
    # Real time would take 29 days; the wait's wall-clock deadline fails a run that waits.
    status = await durable_env.wait_for_completion(instance_id, timeout=60)

    assert status.output["cycles"] == 30
    assert status.output["lastRollup"]["cycle"] == 29
    # continue_as_new keeps one cycle of history: the last generation started on day 29.
    history = await durable_env.history(instance_id)
    started = next(e for e in history if isinstance(e, ExecutionStarted))
    assert (started.timestamp - started_at).days == 29
    assert not [e for e in history if isinstance(e, (ContinueAsNew, TimerFired))]
    assert await durable_env.read_entity("metric", "cpu") == {
        "count": 0,
        "sum": 0,
        "min": None,
        "max": None,
        "last": None,
    }
