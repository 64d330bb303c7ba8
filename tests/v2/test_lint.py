"""`durable-host lint` on 2.x apps: durabletask's combinators and orchestrators that return
without yielding are valid there; the rules that hold for both generations still apply."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.v2.conftest import APP_DIR


def _lint(app_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable_host", "lint", str(app_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_2x_app_lints_clean() -> None:
    done = _lint(APP_DIR)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout


def test_a_2x_orchestrator_reading_the_clock_is_flagged(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    (tmp_path / "function_app.py").write_text(
        "from datetime import datetime\n"
        "from durabletask import task\n"
        "from durabletask.azurefunctions.decorators.durable_app import DFApp\n"
        "app = DFApp()\n"
        "@app.orchestration_trigger(context_name='context')\n"
        "def stamped(ctx: task.OrchestrationContext, _):\n"
        "    return datetime.now().isoformat()\n"
    )
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "datetime.now" in done.stdout
    assert "DF502" not in done.stdout  # returning without yield is fine in durabletask
