"""The pytest plugin on a 2.x-style app: its tests pass with the replay check on (the check
replays 1.x-protocol orchestrators only; on a protobuf one it failed every test with
"failed to replay: Incorrect padding")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from durable_host.testing import STORAGE_ENV
from tests.v2.conftest import APP_DIR

pytest_plugins = ["pytester"]


def test_a_2x_app_tested_with_the_plugin_and_the_replay_check_on(
    pytester: pytest.Pytester, azurite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    (app / "host.json").write_text('{"version": "2.0"}')
    monkeypatch.setenv(STORAGE_ENV, azurite)
    pytester.makeini(f"[pytest]\ndurable_host_app_dir = {app}\n")
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
