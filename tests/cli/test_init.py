"""`durable-host init`: the files, what it reads from the app, and --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from durable_host.cli import main
from durable_host.server.azurite_install import AZURITE_VERSION, PATCH_PACKAGE_VERSION


def init(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["init", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_app_folder_gets_settings_npm_pins_gitignore_and_a_sample_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "function_app.py").write_text(
        "import azure.durable_functions as df\n"
        "app = df.DFApp()\n"
        "@app.function_name(name='OrderWorkflow')\n"
        "@app.orchestration_trigger(context_name='context')\n"
        "def order(context):\n"
        "    return 1\n"
    )
    (tmp_path / ".gitignore").write_text("dist/\n.azurite/")
    code, out, _ = init(capsys, str(tmp_path))
    assert code == 0
    for name in (
        "local.settings.json",
        "host.json",
        "package.json",
        "tests/test_durable_sample.py",
    ):
        assert f"wrote {name}" in out

    package = json.loads((tmp_path / "package.json").read_text())
    assert package["devDependencies"] == {
        "azurite": AZURITE_VERSION,
        "patch-package": PATCH_PACKAGE_VERSION,
    }
    # The name given by function_name is the one the host registers.
    assert (
        "ORCHESTRATOR = 'OrderWorkflow'" in (tmp_path / "tests/test_durable_sample.py").read_text()
    )
    # Only the missing entries are appended; what was there stays.
    assert (tmp_path / ".gitignore").read_text().splitlines() == [
        "dist/",
        ".azurite/",
        "local.settings.json",
        "node_modules/",
        "__azurite_db_*",
    ]


def test_the_repositorys_sample_settings_are_copied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = {
        "IsEncrypted": False,
        "Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "X": "1"},
    }
    (tmp_path / "local.settings.sample.json").write_text(json.dumps(sample))
    (tmp_path / "host.json").write_text('{"version": "2.0", "logging": {}}')
    code, out, _ = init(capsys, str(tmp_path))
    assert code == 0
    assert json.loads((tmp_path / "local.settings.json").read_text()) == sample
    assert "host.json" not in out  # an app's own host.json is never touched
    assert json.loads((tmp_path / "host.json").read_text()) == {"version": "2.0", "logging": {}}
    sample_test = (tmp_path / "tests/test_durable_sample.py").read_text()
    assert "ORCHESTRATOR = 'my_orchestrator'  # a placeholder" in sample_test


def test_existing_files_are_kept_unless_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "package.json").write_text('{"name": "mine"}')
    code, out, _ = init(capsys, str(tmp_path))
    assert code == 0
    assert "kept package.json (exists; --force overwrites it)" in out
    assert json.loads((tmp_path / "package.json").read_text()) == {"name": "mine"}
    code, out, _ = init(capsys, "--force", str(tmp_path))
    assert "wrote package.json" in out
    assert json.loads((tmp_path / "package.json").read_text())["devDependencies"]["azurite"]


def test_a_missing_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = init(capsys, str(tmp_path / "nope"))
    assert code == 1
    assert "is not a folder" in err
