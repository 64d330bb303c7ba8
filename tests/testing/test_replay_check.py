"""Tests that replay themselves (issue 26, item 8): after a test passes, the plugin replays
every orchestration the test completed against the code under test."""

from __future__ import annotations

from pathlib import Path

import pytest

from durable_host.testing import STORAGE_ENV

pytest_plugins = ["pytester"]

RUN_TIMEOUT = 60

# The orchestrator branches on process state: `_charged` is empty in both episodes of the
# test (it is filled after the yield), so the test passes; any later replay in this process
# (the next event of a long-running instance, here the check) takes the other branch.
APP = """\
import azure.durable_functions as df

app = df.DFApp()
_charged = set()


@app.orchestration_trigger(context_name="context")
def checkout(context):
    order = context.get_input()
    if order in _charged:
        receipt = yield context.call_activity("lookup_receipt", order)
    else:
        receipt = yield context.call_activity("charge", order)
    _charged.add(order)
    return receipt


@app.orchestration_trigger(context_name="context")
def greet(context):
    return (yield context.call_activity("charge", "hello"))


@app.activity_trigger(input_name="order")
def charge(order):
    return f"charged {order}"


@app.activity_trigger(input_name="order")
def lookup_receipt(order):
    return f"receipt of {order}"
"""

TESTS = """\
import pytest


async def test_checkout(durable_env):
    assert await durable_env.run("checkout", "order-1") == "charged order-1"


async def test_deterministic(durable_env):
    assert await durable_env.run("greet") == "charged hello"


@pytest.mark.durable_host(replay_check=False)
async def test_checkout_unchecked(durable_env):
    assert await durable_env.run("checkout", "order-2") == "charged order-2"
"""


@pytest.fixture
def tester(
    pytester: pytest.Pytester, azurite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> pytest.Pytester:
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "function_app.py").write_text(APP)
    monkeypatch.setenv(STORAGE_ENV, azurite)
    pytester.makepyfile(test_orders=TESTS)
    pytester.makeini(f"[pytest]\ndurable_host_app_dir = {app}\n")
    return pytester


def run(tester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return tester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT)


def test_a_test_whose_orchestration_does_not_replay_fails_naming_instance_event_and_line(
    tester: pytest.Pytester,
) -> None:
    result = run(tester)
    # Before the check, all three passed.
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "FAILED test_orders.py::test_checkout - durable_host.testing._replay_check." in out
    assert "1 of the 1 orchestration instance(s) this test completed do not replay" in out
    assert "(checkout): non-deterministic" in out
    assert (
        "at history event #2, sequence id 0: expected call_activity('charge'), "
        "got call_activity('lookup_receipt')" in out
    )
    assert 'at function_app.py:11: receipt = yield context.call_activity("lookup_receipt"' in out
    assert "@pytest.mark.durable_host(replay_check=False)" in out


def test_the_check_is_turned_off_in_the_configuration(tester: pytest.Pytester) -> None:
    ini = (tester.path / "tox.ini").read_text()
    tester.makeini(ini.rstrip("\n") + "\ndurable_host_replay_check = false\n")
    run(tester).assert_outcomes(passed=3)
