"""durable_host in an environment without the 1.x SDK (as with azure-functions-durable 2.x,
which has no `azure.durable_functions.models`, or with none): pytest still loads its plugin and
runs every test, durable_env says what it needs when there is no SDK at all (tests/v2/
test_durable_env.py runs it on 2.x), and `start` runs a 2.x app, naming each function's
protocol in its banner.

Each case runs in a child Python whose `azure.durable_functions` cannot be imported (the
package's name mapped to None in sys.modules, what Python does for a module that is absent)."""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp

from tests.e2e.host_process import HostProcess
from tests.e2e.user import wait_until_done
from tests.v2.conftest import APP_DIR, run_pytest_in_child

WITHOUT_1X = "import sys; sys.modules['azure.durable_functions'] = None\n"


def test_pytest_runs_tests_without_the_1x_sdk(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    (tmp_path / "test_loaded.py").write_text(
        "def test_loaded(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.has_plugin('durable_host')\n"
    )
    done = run_pytest_in_child(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_durable_env_says_it_needs_an_sdk(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    (tmp_path / "test_env.py").write_text("async def test_env(durable_env):\n    pass\n")
    done = run_pytest_in_child(tmp_path, hidden=("azure.durable_functions", "durabletask"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "The durable_env fixture needs a Durable Functions SDK" in done.stdout
    assert "Traceback" not in done.stdout


async def test_start_runs_a_2x_app_without_the_1x_sdk(azurite: str, hub_name: str) -> None:
    program = (
        sys.executable,
        "-c",
        WITHOUT_1X + "from durable_host.cli import main; sys.exit(main(sys.argv[1:]))",
    )
    host = HostProcess(APP_DIR, storage=azurite, hub_name=hub_name, program=program).start()
    try:
        assert "hello_chain: orchestrationTrigger [2.x protobuf]" in host.output
        assert "say_hello: activityTrigger [2.x protobuf]" in host.output
        assert "counter: entityTrigger [2.x protobuf]" in host.output
        start = f"{host.base_url}/runtime/webhooks/durabletask/orchestrators/hello_chain"
        async with aiohttp.ClientSession() as http:
            async with http.post(start, json=None) as response:
                assert response.status == 202, await response.text()
                started = await response.json()
            status = await wait_until_done(http, started)
        assert status["runtimeStatus"] == "Completed"
        assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    finally:
        host.stop()
    assert "Traceback" not in host.output, host.output
