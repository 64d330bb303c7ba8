"""The lint result as text (one line per finding), JSON, or SARIF 2.1.0 (for code scanning)."""

from __future__ import annotations

import enum
import json
import re
from importlib import resources
from typing import Any

from durable_host import __version__
from durable_host.errors import ConfigurationError
from durable_host.lint.linter import LintResult
from durable_host.lint.rules import RULES, Finding

DOCS = "`durable-host lint --explain RULE`"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


class OutputFormat(enum.Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


def explain(rule_id: str) -> str:
    """A rule's section of lint-rules.md (shipped in the wheel): why, and a bad and a good
    example. DurableHostError for an unknown id."""
    wanted = rule_id.strip().upper()
    if not any(rule.id == wanted for rule in RULES):
        raise ConfigurationError(
            f"No lint rule {rule_id!r}; the rules are {', '.join(r.id for r in RULES)}."
        )
    text = resources.files("durable_host.lint").joinpath("lint-rules.md").read_text("utf-8")
    section = re.search(rf"^## {wanted} .*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section is not None, f"lint-rules.md has no section for {wanted}"
    return section.group(0).strip()


def render(result: LintResult, output: OutputFormat) -> str:
    if output is OutputFormat.JSON:
        return json.dumps([_finding_dict(f) for f in result.findings], indent=2)
    if output is OutputFormat.SARIF:
        return json.dumps(sarif(result), indent=2)
    return text(result)


def text(result: LintResult) -> str:
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.rule.id} {f.message}\n    fix: {f.rule.fix}"
        for f in result.findings
    ]
    checked = (
        f"{result.orchestrators} orchestrator(s), {result.entities} entit(y/ies), "
        f"{result.functions_checked} function(s) checked"
    )
    if result.findings:
        lines.append(
            f"{len(result.findings)} finding(s); {checked}. Rules and examples: {DOCS}; "
            "silence a wrong finding with `# durable: ignore[RULE]` and a reason."
        )
    else:
        lines.append(f"No findings; {checked}.")
    return "\n".join(lines)


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "rule": finding.rule.id,
        "name": finding.rule.name,
        "message": finding.message,
        "fix": finding.rule.fix,
    }


def sarif(result: LintResult) -> dict[str, Any]:
    rule_index = {rule.id: i for i, rule in enumerate(RULES)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "durable-host lint",
                        "version": __version__,
                        "rules": [
                            {
                                "id": rule.id,
                                "name": rule.name,
                                "shortDescription": {"text": rule.summary},
                                "help": {
                                    "text": f"Fix: {rule.fix}. Examples: "
                                    f"durable-host lint --explain {rule.id}"
                                },
                                "defaultConfiguration": {"level": "error"},
                            }
                            for rule in RULES
                        ],
                    }
                },
                "originalUriBaseIds": {"SRCROOT": {"uri": result.app_dir.as_uri() + "/"}},
                "results": [
                    {
                        "ruleId": f.rule.id,
                        "ruleIndex": rule_index[f.rule.id],
                        "level": "error",
                        "message": {"text": f"{f.message}. Fix: {f.rule.fix}."},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f.path, "uriBaseId": "SRCROOT"},
                                    "region": {"startLine": f.line, "startColumn": f.column},
                                }
                            }
                        ],
                    }
                    for f in result.findings
                ],
            }
        ],
    }
