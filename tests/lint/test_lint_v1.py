"""`durable-host lint` on a v1 (function.json) app: same rules, paths in the function folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from durable_host.lint import lint_app

V1_APP = Path(__file__).resolve().parent.parent / "apps" / "v1"

ORCHESTRATOR = """\
from datetime import datetime

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext):
    started = datetime.now()
    greeting = yield context.call_activity("E1_SayHelo", "Oslo")
    return [str(started), greeting]


main = df.Orchestrator.create(orchestrator_function)
"""


def test_the_v1_test_app_is_lint_clean() -> None:
    result = lint_app(V1_APP)
    assert result.findings == []
    assert (result.orchestrators, result.entities) == (2, 1)


def test_findings_point_into_the_function_folders(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(V1_APP, app)
    folder = app / "Clocked"
    folder.mkdir()
    (folder / "function.json").write_text(
        json.dumps({"bindings": [{"name": "context", "type": "orchestrationTrigger"}]})
    )
    (folder / "__init__.py").write_text(ORCHESTRATOR)
    found = {(f.path, f.line, f.rule.id): f.message for f in lint_app(app).findings}
    assert ("Clocked/__init__.py", 7, "DF101") in found
    unknown = found[("Clocked/__init__.py", 8, "DF601")]
    assert "'E1_SayHelo'" in unknown and "did you mean 'E1_SayHello'" in unknown
