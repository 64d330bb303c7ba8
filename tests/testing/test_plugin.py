"""The pytest plugin as its users meet it: test files run by pytester against a small app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from durable_host.taskhub.names import TaskHubNames
from durable_host.testing import STORAGE_ENV

pytest_plugins = ["pytester"]

APP_DIR = Path(__file__).resolve().parent / "app"
# Every inner run is bounded: a hang fails the test instead of stalling the suite.
RUN_TIMEOUT = 60


@pytest.fixture
def tester(
    pytester: pytest.Pytester, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A pytester project whose tests use the plugin on the session's Azurite and our app."""
    monkeypatch.setenv(STORAGE_ENV, azurite)
    pytester.makeini(
        f"""
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        durable_host_app_dir = {APP_DIR}
        """
    )
    return pytester


def run(tester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return tester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT)


def test_what_a_user_test_can_do(tester: pytest.Pytester, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "host.json").write_text('{"version": "2.0"}')
    (other / "function_app.py").write_text(
        "import azure.durable_functions as df\n"
        "app = df.DFApp()\n"
        "@app.orchestration_trigger(context_name='context')\n"
        "def answer(context):\n"
        "    return 42\n"
    )
    tester.makepyfile(
        f"""
        import json
        import time
        from datetime import timedelta

        import pytest
        from durable_host.errors import FunctionNotFoundError

        async def test_start_wait_assert(durable_env):
            assert await durable_env.run("greet", "Ada") == "Hello Ada"

        async def test_the_sdk_client(durable_client, durable_env):
            instance_id = await durable_client.start_new("greet", client_input="Bob")
            status = await durable_env.wait_for_completion(instance_id)
            assert status.output == "Hello Bob"
            assert (await durable_client.get_status(instance_id)).output == "Hello Bob"

        async def test_events_and_custom_status(durable_env):
            instance_id = await durable_env.start_orchestration("wait_for_go")
            await durable_env.wait_for_custom_status(instance_id, "waiting")
            await durable_env.raise_event(instance_id, "go", {{"speed": 3}})
            status = await durable_env.wait_for_completion(instance_id)
            # The SDK client encodes event data twice (azure-functions-durable-python#295):
            # the orchestrator receives the JSON text, as it would in Azure.
            assert json.loads(status.output) == {{"speed": 3}}

        async def test_event_data_sent_as_curl_sends_it(durable_env):
            instance_id = await durable_env.start_orchestration("wait_for_go")
            await durable_env.wait_for_custom_status(instance_id, "waiting")
            await durable_env.raise_event(instance_id, "go", {{"speed": 3}}, as_http=True)
            status = await durable_env.wait_for_completion(instance_id)
            assert status.output == {{"speed": 3}}

        async def test_a_week_long_nap_is_quick(durable_env):
            then = durable_env.now()
            # A real week would miss the run's wall-clock deadline.
            assert await durable_env.run("nap", 7 * 86400, timeout=30) == "rested"
            assert durable_env.now() - then >= timedelta(days=7)

        @pytest.mark.durable_host(virtual_time=False)
        async def test_real_time(durable_env):
            assert not durable_env.virtual_time
            began = time.monotonic()
            assert await durable_env.run("nap", 0.3) == "rested"
            assert time.monotonic() - began >= 0.3

        @pytest.mark.durable_host(app_dir={str(other)!r})
        async def test_another_app(durable_env):
            assert await durable_env.run("answer") == 42

        async def test_an_activity_double(durable_env):
            async def fake(name):
                return f"Hi {{name}}"

            double = durable_env.replace_activity("say_hello", fake)
            assert await durable_env.run("greet", "Ada") == "Hi Ada"
            assert double.calls == ["Ada"]

        async def test_the_real_activity_again_in_the_next_test(durable_env):
            assert await durable_env.run("greet", "Ada") == "Hello Ada"

        async def test_a_misspelt_activity_is_caught(durable_env):
            with pytest.raises(FunctionNotFoundError, match="say_helo"):
                durable_env.replace_activity("say_helo", lambda name: name)
        """
    )
    run(tester).assert_outcomes(passed=10)


def test_async_tests_run_as_the_readme_writes_them_in_strict_mode(
    pytester: pytest.Pytester, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest-asyncio's default mode is strict: no asyncio_mode in the ini, no marker in the file.
    monkeypatch.setenv(STORAGE_ENV, azurite)
    pytester.makeini(f"[pytest]\ndurable_host_app_dir = {APP_DIR}\n")
    pytester.makepyfile(
        """
        async def test_an_orchestration(durable_env):
            assert await durable_env.run("greet", "Ada") == "Hello Ada"

        async def test_with_the_client(durable_client, durable_env):
            instance_id = await durable_client.start_new("greet", client_input="Bob")
            assert (await durable_env.wait_for_completion(instance_id)).output == "Hello Bob"

        class TestInAClass:
            async def test_a_method(self, durable_env):
                assert await durable_env.run("greet", "Cy") == "Hello Cy"
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_failures_show_the_status_output_and_last_events(tester: pytest.Pytester) -> None:
    tester.makepyfile(
        """
        async def test_doomed(durable_env):
            await durable_env.run("doomed")

        async def test_never_told_to_go(durable_env):
            instance_id = await durable_env.start_orchestration("wait_for_go")
            await durable_env.wait_for_completion(instance_id, timeout=0.5)
        """
    )
    result = run(tester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*OrchestrationAssertionError: Orchestration 'doomed' (instance *) is Failed, "
            "expected Completed.",
            "*output: *boom: the answer is not 42*",
            "*last * of * history events:",
            "*TaskScheduled #0 name=explode*",
            "*TaskFailed task_scheduled_id=0 reason=*boom: the answer is not 42*",
            "*ExecutionCompleted orchestration_status=Failed*",
        ]
    )
    # A wait that times out says what the instance is waiting for.
    result.stdout.fnmatch_lines(
        [
            "*Orchestration 'wait_for_go' (instance *) is still Running after 0.* s of wall "
            "time; expected Completed.*",
            '*custom status: "waiting"',
            "*ExecutionStarted*name=wait_for_go*",
        ]
    )


def _hub_tables(connection: str, hub: str) -> list[str]:
    names = TaskHubNames(hub, 2)
    with TableServiceClient.from_connection_string(connection) as tables:
        wanted = {names.instances_table, names.history_table}
        return [t.name for t in tables.list_tables() if t.name in wanted]


@pytest.mark.parametrize(("scope", "seen"), [("test", [1, 1]), ("module", [1, 2])])
def test_a_fresh_task_hub_per_test_or_module_deleted_afterwards(
    tester: pytest.Pytester, azurite: str, scope: str, seen: list[int]
) -> None:
    tester.makeini(
        f"""
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        durable_host_app_dir = {APP_DIR}
        durable_host_hub_scope = {scope}
        """
    )
    tester.makepyfile(
        """
        async def check(env):
            await env.run("greet", "x")
            print("HUB", env.hub_name, len(await env.client.get_status_all()))

        async def test_one(durable_env):
            await check(durable_env)

        async def test_two(durable_env):
            await check(durable_env)
        """
    )
    result = run(tester, "-s")
    result.assert_outcomes(passed=2)
    lines = re.findall(r"HUB (\w+) (\d+)", result.stdout.str())
    assert [int(count) for _, count in lines] == seen
    hubs = {hub for hub, _ in lines}
    assert len(hubs) == (2 if scope == "test" else 1)
    for hub in hubs:
        assert _hub_tables(azurite, hub) == [], f"task hub {hub} was not deleted"


V1_APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "v1"


def test_a_v1_app(tester: pytest.Pytester) -> None:
    tester.makeini(
        f"""
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        durable_host_app_dir = {V1_APP_DIR}
        """
    )
    tester.makepyfile(
        """
        import aiohttp

        async def test_chaining(durable_env):
            output = await durable_env.run("E1_HelloSequence", ["Ada"])
            assert output == ["Hello Ada!", "Hello ADA! Hello ADA!"]

        async def test_a_double_for_a_v1_activity(durable_env):
            double = durable_env.replace_activity("E1_SayHello", lambda name: f"Hi {name}")
            output = await durable_env.run("E1_HelloSequence", ["Bob"])
            assert output[0] == "Hi Bob" and double.calls == ["Bob"]

        async def test_the_entity_and_its_http_function(durable_env):
            assert await durable_env.run("CounterOrchestration") == 3
            assert await durable_env.read_entity("Counter", "myCounter") == 3
            url = f"{durable_env.base_url}/api/entity/Counter/myCounter"
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                assert response.status == 200
                assert (await response.json())["state"] == 3
        """
    )
    run(tester).assert_outcomes(passed=3)
