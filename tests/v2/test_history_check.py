"""The replayer on a 2.x-style app: histories its protobuf orchestrators wrote replay through
the app's own durabletask worker, clean as recorded, non-deterministic where the code changed."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import durabletask.worker
import pytest

from durable_host.cli import main
from durable_host.engine.runtime import Engine
from durable_host.history_check import HistoryReplayer, Verdict
from durable_host.history_check.recorded import RecordedHistory, read_recorded
from tests.engine._helpers import finish
from tests.v2.conftest import APP_DIR

pytestmark = pytest.mark.usefixtures("restore_environ")

# Runs a child Python as if azure-functions-durable 1.x were absent (an absent module's
# sys.modules entry is None).
WITHOUT_1X = "import sys; sys.modules['azure.durable_functions'] = None\n"
FIRST_CALL = 'first = yield ctx.call_activity("say_hello", input="Tokyo")'
RENAMED = 'first = yield ctx.call_activity("greet", input="Tokyo")'


def renamed_activity_app(tmp_path: Path) -> tuple[Path, int]:
    """A copy of the app whose hello_chain calls its first activity by another name; returns
    it and the line of that call."""
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    source = app / "function_app.py"
    text = source.read_text(encoding="utf-8")
    assert FIRST_CALL in text
    text = text.replace(FIRST_CALL, RENAMED)
    source.write_text(text, encoding="utf-8")
    return app, next(n for n, line in enumerate(text.splitlines(), 1) if RENAMED in line)


async def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    # The command runs its own event loop (asyncio.run): off this test's loop.
    code = await asyncio.to_thread(main, list(argv))
    return code, capsys.readouterr().out


async def test_a_protobuf_orchestrators_history_replays_ok(engine: Engine) -> None:
    instance_id = await engine.client.start_new("hello_chain", "v2-replay", "null")
    await finish(engine, instance_id)
    recorded = await read_recorded(engine.storage, instance_id)
    with HistoryReplayer(APP_DIR, index=engine.index) as replayer:
        report = await replayer.replay(recorded)
    assert report.verdict is Verdict.OK, report.describe()
    assert report.name == "hello_chain"


async def test_the_replay_command_replays_a_2x_history_clean_and_after_a_rename_not(
    engine: Engine,
    azurite: str,
    hub_name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    instance_id = await engine.client.start_new("hello_chain", "v2-cli", "null")
    await finish(engine, instance_id)
    hub = ("--connection", azurite, "--hub", hub_name, "--instance", instance_id)

    code, out = await run_cli(capsys, "replay", *hub, "--app-dir", str(APP_DIR))
    assert (code, out) == (0, f"{instance_id} (hello_chain): ok\n")

    app, line = renamed_activity_app(tmp_path)
    code, out = await run_cli(capsys, "replay", *hub, "--app-dir", str(app))
    assert code == 1
    # History: OrchestratorStarted, ExecutionStarted, then the first TaskScheduled (#2);
    # durabletask numbers its tasks from 1.
    assert out.splitlines() == [
        f"{instance_id} (hello_chain): non-deterministic",
        "  at history event #2, sequence id 1: expected call_activity('say_hello'), "
        "got call_activity('greet')",
        f"    at function_app.py:{line}: {RENAMED}",
    ]


async def test_a_history_longer_than_the_code_is_non_deterministic_where_the_code_stops(
    engine: Engine, tmp_path: Path
) -> None:
    instance_id = await engine.client.start_new("hello_chain", "v2-short", "null")
    await finish(engine, instance_id)
    recorded = await read_recorded(engine.storage, instance_id)
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    source = app / "function_app.py"
    third = '    third = yield ctx.call_activity("say_hello", input="London")\n'
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace(third, '    third = "London"\n'), encoding="utf-8")

    with HistoryReplayer(app) as replayer:
        report = await replayer.replay(recorded)

    assert report.verdict is Verdict.NON_DETERMINISTIC, report.describe()
    divergence = report.divergence
    assert divergence is not None
    assert (divergence.expected, divergence.sequence_id) == ("call_activity('say_hello')", 3)
    assert divergence.got.startswith("nothing: by then the current code has scheduled no task")


# Every pattern of the app, with the input it runs on.
PATTERNS: dict[str, Any] = {
    "hello_chain": None,
    "fan_out": 4,
    "parent": [2, 3],
    "timer": 1,
    "approval": 1,  # the timer wins
    "retried": "replay-key",  # fails once, then succeeds on its retry
    "counter_loop": {"n": 0, "until": 2},  # continue-as-new twice
    "failing": "no",
    "large_payloads": 70_000,  # over the 45 KB a table property holds: blobs
    "entity_calls": "replay",
    "transfer": {"from": "a", "to": "b", "amount": 5},
}


async def test_every_pattern_of_the_2x_app_replays_ok_also_without_the_1x_sdk(
    engine: Engine, app_module: ModuleType, azurite: str, hub_name: str
) -> None:
    app_module.FLAKY_FAILURES["replay-key"] = 1
    ids = [
        await engine.client.start_new(name, f"replay-{name}", json.dumps(value))
        for name, value in PATTERNS.items()
    ]
    statuses = [await finish(engine, instance_id) for instance_id in ids]
    assert [s.runtime_status.name for s in statuses] == [
        "Failed" if name == "failing" else "Completed" for name in PATTERNS
    ]
    ids += ["replay-parent-child-2", "replay-parent-child-3"]

    recorded = [await read_recorded(engine.storage, i) for i in ids]
    # And as `durable-host export` writes them (replay_history's fixtures).
    exported = [
        RecordedHistory.from_document(json.loads(json.dumps(r.to_document()))) for r in recorded
    ]
    with HistoryReplayer(APP_DIR, index=engine.index) as replayer:
        reports = [await replayer.replay(r) for r in [*recorded, *exported]]
    assert [r.describe() for r in reports if not r.ok] == []

    # The command, in a Python without azure-functions-durable 1.x (as with the 2.x SDK).
    command = WITHOUT_1X + "from durable_host.cli import main; sys.exit(main(sys.argv[1:]))"
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            command,
            "replay",
            "--connection",
            azurite,
            "--hub",
            hub_name,
            "--all",
            "--app-dir",
            str(APP_DIR),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = {r["instanceId"]: r["verdict"] for r in json.loads(done.stdout)}
    assert verdicts == dict.fromkeys(ids, "ok")


async def test_a_durabletask_without_the_executor_it_follows_is_named(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # azure-functions-durable 2.x accepts any durabletask >= 1.9; proto_run follows private
    # names of 1.12.0's executor.
    instance_id = await engine.client.start_new("hello_chain", "v2-other-dt", "null")
    await finish(engine, instance_id)
    recorded = await read_recorded(engine.storage, instance_id)
    monkeypatch.setattr(durabletask.worker, "_RuntimeOrchestrationContext", object)
    monkeypatch.delitem(sys.modules, "durable_host.history_check.proto_run", raising=False)
    with HistoryReplayer(APP_DIR, index=engine.index) as replayer:
        report = await replayer.replay(recorded)
    assert report.verdict is Verdict.FAILED
    assert report.error is not None
    assert report.error.startswith("This durabletask (1.12.0) does not have what the replayer")
    assert "next_sequence_number" in report.error
