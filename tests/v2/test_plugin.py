"""The pytest plugin on a 2.x-style app: its tests pass with the replay check on, which replays
its protobuf orchestrators through the app's own worker and fails a test whose orchestrator
does not replay as it ran."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from durable_host.testing import STORAGE_ENV
from tests.v2.conftest import APP_DIR, run_pytest_in_child

pytest_plugins = ["pytester"]


FIRST_CALL = 'first = yield ctx.call_activity("say_hello", input="Tokyo")'
# The activity's name read from module state: the same in every episode of the test, another
# one when the test changes it before the replay check.
FROM_STATE = 'first = yield ctx.call_activity(FIRST_ACTIVITY[0], input="Tokyo")'


def plugin_app(
    pytester: pytest.Pytester, azurite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    (app / "host.json").write_text('{"version": "2.0"}')
    monkeypatch.setenv(STORAGE_ENV, azurite)
    pytester.makeini(f"[pytest]\ndurable_host_app_dir = {app}\n")
    return app


def test_a_2x_app_tested_with_the_plugin_and_the_replay_check_on(
    pytester: pytest.Pytester, azurite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugin_app(pytester, azurite, monkeypatch, tmp_path)
    pytester.makepyfile(
        """
        async def test_the_chain(durable_env):
            instance_id = await durable_env.client.start_new("hello_chain")
            status = await durable_env.wait_for_completion(instance_id)
            assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=1)


def test_the_replay_check_fails_a_test_whose_2x_orchestrator_replays_otherwise(
    azurite: str, tmp_path: Path
) -> None:
    # As a 2.x user runs it: a Python without azure-functions-durable 1.x.
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    source = app / "function_app.py"
    text = source.read_text(encoding="utf-8")
    assert FIRST_CALL in text
    text = text.replace(FIRST_CALL, FROM_STATE) + '\nFIRST_ACTIVITY = ["say_hello"]\n'
    source.write_text(text, encoding="utf-8")
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if FROM_STATE in ln)
    (tmp_path / "pytest.ini").write_text(f"[pytest]\ndurable_host_app_dir = {app}\n")
    (tmp_path / "test_user.py").write_text(
        """
import sys

async def test_the_chain(durable_env):
    output = await durable_env.run("hello_chain", instance_id="chain-1")
    assert output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    sys.modules["function_app"].FIRST_ACTIVITY[0] = "greet"
"""
    )
    done = run_pytest_in_child(tmp_path, env={STORAGE_ENV: azurite})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout, done.stdout
    assert (
        "ReplayCheckError: 1 of the 1 orchestration instance(s) this test completed" in done.stdout
    )
    assert "chain-1 (hello_chain): non-deterministic\n" in done.stdout
    assert (
        "at history event #2, sequence id 1: expected call_activity('say_hello'), "
        "got call_activity('greet')\n" in done.stdout
    )
    assert f"at function_app.py:{line}: {FROM_STATE}\n" in done.stdout
