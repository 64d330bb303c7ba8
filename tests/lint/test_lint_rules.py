"""Every lint rule on an app written to trip it: each `# expect: RULE` line is reported with
that rule, and nothing else is (the `# trap` lines: replay-safe code that looks suspicious)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from durable_host.lint import RULES, LintResult, lint_app

APP = Path(__file__).resolve().parent / "app"
EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9, ]+)")


def markers(kind: str) -> set[tuple[str, int, str]]:
    """(path, line, rule) of every `# expect: RULE` line, or (path, line, "") of `# trap` lines."""
    found: set[tuple[str, int, str]] = set()
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if kind == "expect" and (match := EXPECT.search(line)):
                found.update((relative, number, r.strip()) for r in match.group(1).split(","))
            elif kind == "trap" and ("# trap" in line or "a trap:" in line):
                found.add((relative, number, ""))
    return found


@pytest.fixture(scope="module")
def result() -> LintResult:
    return lint_app(APP)


def reported(result: LintResult) -> set[tuple[str, int, str]]:
    return {(f.path, f.line, f.rule.id) for f in result.findings}


def test_every_expected_line_is_reported_and_nothing_else(result: LintResult) -> None:
    expected = markers("expect")
    assert reported(result) - expected == set(), "false positives"
    assert expected - reported(result) == set(), "missed"


@pytest.mark.parametrize("rule", [r.id for r in RULES])
def test_each_rule_has_true_positives(result: LintResult, rule: str) -> None:
    hits = [f for f in result.findings if f.rule.id == rule]
    assert hits, f"no finding of {rule} in the fixture app"
    assert all(f.rule.fix and f.message for f in hits)


def test_the_traps_are_not_reported(result: LintResult) -> None:
    traps = markers("trap")
    # The traps cover the named ones: current_utc_datetime, the clock inside an
    # activity and an entity, module-level constants, a seeded Random, uuid5, an ignore.
    assert len(traps) >= 20
    lines = {(path, line) for path, line, _ in reported(result)}
    assert {(path, line) for path, line, _ in traps} & lines == set()


def test_helpers_are_followed_and_named_in_the_message(result: LintResult) -> None:
    [stamp] = [f for f in result.findings if f.path == "lint_fixtures/helpers.py" and f.line == 6]
    assert stamp.rule.id == "DF101"
    assert "stamp()" in stamp.message and "orchestrator 'via_helpers'" in stamp.message


def test_unknown_names_say_what_they_are_and_suggest_a_name(result: LintResult) -> None:
    messages = [f.message for f in result.findings if f.rule.id == "DF601"]
    assert any("'gret'" in m and "did you mean 'greet'" in m for m in messages)
    assert any("'names' is an orchestrator (use call_sub_orchestrator)" in m for m in messages)
    assert any("'greet' is an activity (use call_activity)" in m for m in messages)
    assert any("'countr'" in m and "did you mean 'counter'" in m for m in messages)
    assert any("signal_entity('nope')" in m for m in messages)


def test_counts(result: LintResult) -> None:
    assert (result.orchestrators, result.entities) == (11, 1)
    # The roots plus the helpers reached from them (stamp, wait_politely, chunks, open).
    assert result.functions_checked == 16
