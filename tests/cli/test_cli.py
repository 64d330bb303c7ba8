from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from durable_host.cli import main
from durable_host.functions.loader import SCRIPT_ROOT_SETTING

ROOT = Path(__file__).resolve().parents[2]


def run_in(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """`python -m durable_host COMMAND` with `folder` as the working directory, as users run it:
    without the AzureWebJobsScriptRoot an app loaded earlier in this process set (the SDK reads
    it on import and warned about that app's function.json files, first on stderr)."""
    environ = {k: v for k, v in os.environ.items() if k != SCRIPT_ROOT_SETTING}
    return subprocess.run(
        [sys.executable, "-m", "durable_host", *command],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_start_without_host_json_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = run_in(ROOT, "start", "--app-dir", str(tmp_path))
    assert result.returncode == 1
    assert "host.json not found" in result.stderr
    assert "--app-dir" in result.stderr


def test_invalid_host_json_is_reported_with_the_field(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        '{"version": "2.0", "extensions": {"durableTask": '
        '{"storageProvider": {"partitionCount": "x"}}}}'
    )
    (tmp_path / "local.settings.json").write_text('{"Values": {}}')
    result = run_in(ROOT, "start", "--app-dir", str(tmp_path))
    assert result.returncode == 1
    assert (
        "host.json: extensions.durableTask.storageProvider.partitionCount must be an integer "
        "from 1 to 16, got 'x'"
    ) in result.stderr


@pytest.mark.parametrize(("command", "code"), [(["start", "--port", "0"], 1), (["lint", "."], 2)])
def test_a_host_json_syntax_error_in_the_app_folder_is_our_message_not_a_traceback(
    tmp_path: Path, command: list[str], code: int
) -> None:
    # The SDK parses ./host.json when it is imported: run in the app folder, as users do.
    (tmp_path / "host.json").write_text(
        '{\n  "version": "2.0",\n  "extensions": {\n    "durableTask": {\n'
        '      "hubName": "MyOrdersHub",\n    }\n  }\n}\n'
    )
    (tmp_path / "function_app.py").write_text(
        "import azure.durable_functions as df\n\napp = df.DFApp()\n"
    )
    result = run_in(tmp_path, *command)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: host.json: not valid JSON (Expecting property name enclosed in double quotes "
        "at line 6, column 5)."
    )
    assert result.returncode == code


def test_start_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "start" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["start", "--port", "0"], ["durable", "get-instances"]], ids=["start", "durable"]
)
def test_an_app_on_another_storage_provider_is_refused(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "host.json").write_text(
        '{"version": "2.0", "extensions": {"durableTask": {"storageProvider": '
        '{"type": "mssql", "connectionStringName": "SQLDB_Connection"}}}}'
    )
    (tmp_path / "local.settings.json").write_text(
        '{"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}}'
    )
    result = run_in(tmp_path, *command)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: host.json: extensions.durableTask.storageProvider.type is 'mssql': durable_host "
        "runs Durable Functions on the Azure Storage provider only"
    ), result.stderr
