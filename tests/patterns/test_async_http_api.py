"""Async HTTP API (export_report): progress in the custom status; the app's HTTP starter."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from durable_host.testing import DurableTestEnvironment

REQUEST = {"dataset": "sales-2024", "rows": 120000, "stepDelaySeconds": 5}


def stage(name: str, completed: int) -> dict[str, object]:
    percent = completed * 100 // 3
    return {"stage": name, "completedSteps": completed, "totalSteps": 3, "percent": percent}


async def test_progress_moves_with_time(durable_env: DurableTestEnvironment) -> None:
    instance_id = await durable_env.start_orchestration("export_report", REQUEST)
    await durable_env.wait_for_custom_status(instance_id, stage("extract", 0))

    await durable_env.advance_time(timedelta(seconds=4))
    assert (await durable_env.client.get_status(instance_id)).custom_status == stage("extract", 0)
    await durable_env.advance_time(timedelta(seconds=1))
    await durable_env.wait_for_custom_status(instance_id, stage("transform", 1))
    # advance_time returns once the host is idle again: the last step has run by then.
    await durable_env.advance_time(timedelta(seconds=5))
    assert (await durable_env.client.get_status(instance_id)).runtime_status.value == "Completed"

    status = await durable_env.wait_for_completion(instance_id)
    assert status.custom_status == stage("done", 3)
    assert status.output["rows"] == 120000 - 120000 // 97
    assert status.output["location"] == f"exports/sales-2024/{status.output['checksum']}.csv"


async def test_the_http_starter_answers_with_the_management_urls(
    durable_env: DurableTestEnvironment,
) -> None:
    url = f"{durable_env.base_url}/api/orchestrators/export_report/export-1"
    async with aiohttp.ClientSession() as http, http.post(url, json=REQUEST) as response:
        assert response.status == 202
        body = await response.json()
    assert body["id"] == "export-1"
    assert body["statusQueryGetUri"].startswith(durable_env.base_url)

    status = await durable_env.wait_for_completion("export-1")
    assert status.output["dataset"] == "sales-2024"
    async with aiohttp.ClientSession() as http, http.get(body["statusQueryGetUri"]) as response:
        assert response.status == 200
        assert (await response.json())["runtimeStatus"] == "Completed"
