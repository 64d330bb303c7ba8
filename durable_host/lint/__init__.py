"""`durable-host lint`: find non-deterministic orchestrator code before it reaches replay.

Rules and their ids: rules.py and durable_host/lint/lint-rules.md.
"""

from durable_host.lint.linter import LintResult, lint_app
from durable_host.lint.rules import RULES, Finding, Rule

__all__ = ["RULES", "Finding", "LintResult", "Rule", "lint_app"]
