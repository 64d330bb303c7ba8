"""The pytest plugin's `durable_env` on a 2.x app, in an environment without the 1.x SDK (as
with azure-functions-durable 2.x): the tests a 2.x user writes, run by a child pytest, start
orchestrations through the app's HTTP starter and through `durable_env.client` (durabletask's
async client on the host's gRPC endpoint), and timers of days fire on virtual time within
the waits' 10-second deadline (or at `advance_time`); activity doubles replace 2.x activities.
The plugin's replay check is on, so every completed instance is replayed too."""

from __future__ import annotations

import shutil
from pathlib import Path

from durable_host.testing import STORAGE_ENV
from tests.v2.conftest import APP_DIR, run_pytest_in_child

USER_TESTS = """
import json
from datetime import datetime, timedelta

import aiohttp
from durabletask import client as dt
from durabletask.entities import EntityInstanceId

DAYS = 24 * 3600


async def test_a_three_day_timer_fires_on_virtual_time(durable_env):
    began = durable_env.now()
    instance_id = await durable_env.start_orchestration("timer", 3 * DAYS)
    state = await durable_env.wait_for_completion(instance_id, timeout=10)
    fired = datetime.fromisoformat(json.loads(state.serialized_output))
    assert fired - began.replace(tzinfo=None) >= timedelta(days=3)
    history = [type(event).__name__ for event in await durable_env.history(instance_id)]
    assert "TimerFired" in history


async def test_an_http_starter_with_the_2x_client_binding(durable_env):
    url = f"{durable_env.base_url}/api/start/timer"
    async with aiohttp.ClientSession() as http, http.post(url, json=7 * DAYS) as response:
        assert response.status == 202, await response.text()
        instance_id = (await response.json())["id"]
    state = await durable_env.wait_for_completion(instance_id, timeout=10)
    assert state.runtime_status == dt.OrchestrationStatus.COMPLETED


async def test_the_grpc_client_waits_past_a_week_long_deadline(durable_env):
    instance_id = await durable_env.client.schedule_new_orchestration("approval", input=7 * DAYS)
    state = await durable_env.client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert json.loads(state.serialized_output) == {"approved": None}
    assert json.loads(state.serialized_custom_status) == {"stage": "timed out"}


async def test_an_event_before_the_deadline(durable_env):
    instance_id = await durable_env.start_orchestration("approval", 7 * DAYS)
    await durable_env.wait_for_custom_status(instance_id, {"stage": "waiting"})
    await durable_env.raise_event(instance_id, "approve", {"by": "ana"})
    state = await durable_env.wait_for_completion(instance_id)
    assert json.loads(state.serialized_output) == {"approved": {"by": "ana"}}


async def test_run_returns_the_output(durable_env):
    output = await durable_env.run("hello_chain")
    assert output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


async def test_advance_time_fires_the_deadline(durable_env):
    instance_id = await durable_env.start_orchestration("approval", DAYS)
    await durable_env.wait_for_custom_status(instance_id, {"stage": "waiting"})
    await durable_env.advance_time(timedelta(days=2))
    await durable_env.wait_for_custom_status(instance_id, {"stage": "timed out"})


async def test_an_activity_double(durable_env):
    double = durable_env.replace_activity("say_hello", lambda name: f"Hi {name}")
    assert await durable_env.run("hello_chain") == ["Hi Tokyo", "Hi Seattle", "Hi London"]
    assert double.calls == ["Tokyo", "Seattle", "London"]


async def test_entities(durable_env):
    await durable_env.client.signal_entity(EntityInstanceId("counter", "c1"), "add", input=5)
    assert await durable_env.wait_for_entity("counter", "c1", 5) == 5
    assert await durable_env.read_entity("counter", "nobody") is None


async def test_a_failure_is_reported_with_the_history(durable_env):
    instance_id = await durable_env.start_orchestration("failing", "boom")
    failed = dt.OrchestrationStatus.FAILED
    state = await durable_env.wait_for_completion(instance_id, expected_status=failed)
    assert "boom" in state.failure_details.message
"""


def test_durable_env_on_a_2x_app_without_the_1x_sdk(tmp_path: Path, azurite: str) -> None:
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pytest.ini").write_text(f"[pytest]\ndurable_host_app_dir = {app}\n")
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    done = run_pytest_in_child(tmp_path, env={STORAGE_ENV: azurite})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout, done.stdout
