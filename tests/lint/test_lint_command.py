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


MISSING_DEPS_APP = Path(__file__).resolve().parent / "missing_deps_app"


def test_an_app_whose_requirements_are_not_installed_is_linted_from_its_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The official aml_monitoring sample's shape: a shared module imports `azureml`, which a CI
    # lint job does not install. On main: exit 2, "No module named 'azureml'", nothing checked.
    assert main(["lint", str(MISSING_DEPS_APP)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("monitor_pipeline/__init__.py:10:15: DF101 `datetime.utcnow()`")
    assert lines[2].startswith(
        "monitor_pipeline/__init__.py:13:23: DF601 `call_activity('poll_pipelines')` names no "
        "activity of the app; did you mean 'poll_pipeline'?"
    )
    assert lines[-1].startswith("2 finding(s); 1 orchestrator(s), 0 entit(y/ies)")
    [note] = [line for line in captured.err.splitlines() if line.startswith("note:")]
    assert "No module named 'azureml'" in note
    assert "calls into other app functions were not followed" in note


def test_a_v2_app_is_found_from_its_decorators_when_an_import_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    (tmp_path / "function_app.py").write_text(
        "import random\n"
        "import azure.functions as func\n"
        "import azure.durable_functions as df\n"
        "import not_installed_anywhere\n"
        "\n"
        "app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n"
        "\n"
        "@app.function_name('renamed_orchestrator')\n"
        "@app.orchestration_trigger(context_name='context')\n"
        "def orchestrator(context):\n"
        "    yield context.call_activity('say', random.random())\n"
        "\n"
        "@app.activity_trigger(input_name='value')\n"
        "def say(value):\n"
        "    return not_installed_anywhere.say(value)\n"
        "\n"
        "@app.entity_trigger(context_name='context', entity_name='Counter')\n"
        "def counter(context):\n"
        "    with open('counter.log', 'a') as log:\n"
        "        log.write('+1')\n"
    )
    assert main(["lint", str(tmp_path), "--format", "json"]) == 1
    captured = capsys.readouterr()
    found = [(f["line"], f["rule"], f["message"]) for f in json.loads(captured.out)]
    assert [(line, rule) for line, rule, _ in found] == [(11, "DF102"), (19, "DF701")]
    assert "orchestrator 'renamed_orchestrator'" in found[0][2]
    assert "entity 'Counter'" in found[1][2]
    assert "No module named 'not_installed_anywhere'" in captured.err


def test_explain_prints_a_rule_from_the_installed_package(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for rule in RULES:
        assert main(["lint", "--explain", rule.id.lower()]) == 0
        text = capsys.readouterr().out
        assert text.startswith(f"## {rule.id} {rule.name}\n")
        assert "# bad" in text
        assert "# good" in text
    assert main(["lint", "--explain", "DF999"]) == 2
    assert "No lint rule 'DF999'; the rules are DF101," in capsys.readouterr().err
