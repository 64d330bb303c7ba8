"""`durable-host lint`: exit status, the three output formats, and this repository's app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from durable_host.cli import main
from durable_host.lint import RULES

pytestmark = pytest.mark.usefixtures("restore_environ")

APP = Path(__file__).resolve().parent / "app"
PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_the_repository_app_is_lint_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(PROJECT_DIR)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No findings; 8 orchestrator(s), 1 entit(y/ies)")


def test_text_output_and_exit_status_one_on_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(APP)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "lint_fixtures/bad.py:32:9: DF101 `datetime.now()` reads the wall clock" in lines[0]
    assert lines[1].strip().startswith("fix: use context.current_utc_datetime")
    assert lines[-1].startswith("42 finding(s);")


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(APP), "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert len(findings) == 42
    first = findings[0]
    assert {k: first[k] for k in ("path", "line", "column", "rule", "name")} == {
        "path": "lint_fixtures/bad.py",
        "line": 32,
        "column": 9,
        "rule": "DF101",
        "name": "clock",
    }
    assert first["fix"].startswith("use context.current_utc_datetime")


def test_sarif_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(APP), "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    results = run["results"]
    assert len(results) == 42
    entity = next(r for r in results if r["ruleId"] == "DF701")
    assert rules[entity["ruleIndex"]]["id"] == "DF701"
    location = entity["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "lint_fixtures/entities.py",
        "uriBaseId": "SRCROOT",
    }
    assert location["region"] == {"startLine": 12, "startColumn": 10}
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == APP.as_uri() + "/"


def test_an_app_that_does_not_load_is_an_error_not_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", str(tmp_path)]) == 2
    assert "No function_app.py" in capsys.readouterr().err


def test_the_app_settings_are_exported_before_the_app_is_imported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "LINT_SETTINGS_APP_GREETING"
    monkeypatch.delenv(name, raising=False)
    assert main(["lint", str(Path(__file__).resolve().parent / "settings_app")]) == 0
    assert capsys.readouterr().out.startswith("No findings; 1 orchestrator(s)")
