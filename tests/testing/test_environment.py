"""DurableTestEnvironment used directly, without the pytest fixtures."""

from __future__ import annotations

import os
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from azure.data.tables import TableServiceClient

import durable_host
from durable_host.errors import ConfigurationError
from durable_host.taskhub.events import EventRaised, ExecutionStarted, TaskScheduled
from durable_host.taskhub.names import TaskHubNames
from durable_host.testing import DurableTestEnvironment, OrchestrationAssertionError

APP_DIR = Path(__file__).resolve().parent / "app"
SETTING = "PLUGIN_TEST_GREETING"


def hub_tables(connection: str, hub: str) -> list[str]:
    names = TaskHubNames(hub, 2)
    with TableServiceClient.from_connection_string(connection) as tables:
        wanted = {names.instances_table, names.history_table}
        return sorted(t.name for t in tables.list_tables() if t.name in wanted)


async def test_the_hub_and_the_app_settings_live_as_long_as_the_environment(
    azurite: str,
) -> None:
    assert SETTING not in os.environ
    env = await DurableTestEnvironment.start(APP_DIR, storage=azurite)
    async with env:
        hub = env.hub_name
        assert os.environ[SETTING] == "Hello"
        assert hub_tables(azurite, hub) == [f"{hub}History", f"{hub}Instances"]
        assert await env.run("greet", "Ada") == "Hello Ada"
    assert SETTING not in os.environ
    assert hub_tables(azurite, hub) == []


async def test_starting_and_stopping_warns_nothing(azurite: str) -> None:
    # A user's pytest shows every DeprecationWarning; aiohttp's "shutdown_timeout should be
    # set on BaseRunner" came from the host's site once per test.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with await DurableTestEnvironment.start(APP_DIR, storage=azurite) as env:
            assert await env.run("greet", "Ada") == "Hello Ada"
    # (azure-functions' own notice about df_loads is the worker's too, and not ours to fix.)
    packages = [Path(aiohttp.__file__).parent, Path(durable_host.__file__).parent]
    ours = [w for w in caught if any(Path(w.filename).is_relative_to(p) for p in packages)]
    assert [str(w.message) for w in ours] == []


async def test_virtual_time_starts_where_asked_and_history_is_typed(azurite: str) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    async with await DurableTestEnvironment.start(
        APP_DIR, storage=azurite, start_time=start
    ) as env:
        assert env.now() == start
        instance_id = await env.start_orchestration("wait_for_go", instance_id="go-1")
        await env.wait_for_custom_status(instance_id, "waiting")
        await env.advance_time(timedelta(days=2))
        assert env.now() == start + timedelta(days=2)
        await env.raise_event(instance_id, "go", "now")
        await env.wait_for_completion(instance_id)

        history = await env.history(instance_id)
        assert isinstance(history[1], ExecutionStarted)
        assert history[1].timestamp == start
        raised = [e for e in history if isinstance(e, EventRaised)]
        assert [e.name for e in raised] == ["go"]
        assert raised[0].timestamp == start + timedelta(days=2)


async def test_expected_status_and_the_error_it_raises(azurite: str) -> None:
    async with await DurableTestEnvironment.start(APP_DIR, storage=azurite) as env:
        instance_id = await env.start_orchestration("doomed")
        failed = await env.wait_for_completion(instance_id, expected_status="Failed")
        assert "boom" in str(failed.output)

        with pytest.raises(OrchestrationAssertionError) as caught:
            await env.wait_for_completion(instance_id)
        assert caught.value.runtime_status == "Failed"
        assert caught.value.instance_id == instance_id
        assert "boom: the answer is not 42" in str(caught.value.output)

        with pytest.raises(OrchestrationAssertionError, match="does not exist"):
            await env.wait_for_completion("no-such-instance", timeout=0.2)
        assert [e.name for e in await env.history(instance_id) if isinstance(e, TaskScheduled)] == [
            "explode"
        ]


async def test_real_time_cannot_be_advanced(azurite: str) -> None:
    async with await DurableTestEnvironment.start(
        APP_DIR, storage=azurite, virtual_time=False
    ) as env:
        assert not env.virtual_time
        with pytest.raises(ConfigurationError, match="VirtualClock"):
            await env.advance_time(timedelta(hours=1))
