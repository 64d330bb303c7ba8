"""What a deployment contains: the project tree filtered by .funcignore (gitignore syntax).

The matcher implements the gitignore rules .funcignore uses: comments and blank lines,
`!` negation, a trailing `/` for directories only, a `/` at the start or in the middle
anchoring the pattern to the project root (else it matches a name at any depth), `*`, `?`,
`[...]` and `**`; an ignored directory is not descended into.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    negate: bool
    directory_only: bool
    anchored: bool


def _translate(glob: str) -> str:
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 1 :]:
            end = glob.index("]", i + 1)
            body = glob[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def parse_rules(text: str) -> list[Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        rules.append(Rule(re.compile(_translate(line) + r"\Z"), negate, directory_only, anchored))
    return rules


def is_ignored(rules: list[Rule], relative: str, is_dir: bool) -> bool:
    ignored = False
    name = relative.rsplit("/", 1)[-1]
    for rule in rules:
        if rule.directory_only and not is_dir:
            continue
        if rule.pattern.match(relative if rule.anchored else name):
            ignored = not rule.negate  # the last matching rule wins
    return ignored


def deployed_files(root: Path) -> set[str]:
    rules = parse_rules((root / ".funcignore").read_text())
    kept: set[str] = set()
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirs[:] = [d for d in dirs if not is_ignored(rules, prefix + d, is_dir=True)]
        kept.update(prefix + f for f in files if not is_ignored(rules, prefix + f, is_dir=False))
    return kept


def test_matcher_follows_gitignore_rules() -> None:
    rules = parse_rules("# c\n\nbuild/\n*.pyc\n/top.txt\ndocs/*.md\n!docs/keep.md\n__db_*\n")
    assert is_ignored(rules, "build", is_dir=True)
    assert not is_ignored(rules, "build", is_dir=False)  # directory-only pattern
    assert is_ignored(rules, "pkg/sub/build", is_dir=True)  # unanchored: any depth
    assert is_ignored(rules, "a/b/c.pyc", is_dir=False)
    assert is_ignored(rules, "top.txt", is_dir=False)
    assert not is_ignored(rules, "sub/top.txt", is_dir=False)  # anchored to the root
    assert is_ignored(rules, "docs/x.md", is_dir=False)
    assert not is_ignored(rules, "docs/sub/x.md", is_dir=False)  # * stops at /
    assert not is_ignored(rules, "docs/keep.md", is_dir=False)  # negation, last rule wins
    assert is_ignored(rules, "__db_1.json", is_dir=False)


LAYOUT = {
    "function_app.py": True,
    "host.json": True,
    "requirements.txt": True,
    "orchestrators/__init__.py": True,
    "orchestrators/chaining.py": True,
    "activities/orders.py": True,
    "entities/metric.py": True,
    "durable_host/cli/program.py": False,
    "tests/sample_app/test_app_packaging.py": False,
    "bench/run.py": False,
    "local.settings.json": False,
    ".azurite/__azurite_db_queue__.json": False,
    "__azurite_db_blob__.json": False,
    "node_modules/azurite/package.json": False,
    ".venv/bin/python": False,
    "docs/design.md": False,
    "Makefile": False,
    "package.json": False,
    "package-lock.json": False,
    "pyproject.toml": False,
    "orchestrators/__pycache__/chaining.cpython-311.pyc": False,
    ".git/HEAD": False,
    ".ci/run": False,
}


def test_deployment_of_a_project_tree_keeps_only_the_app(tmp_path: Path) -> None:
    (tmp_path / ".funcignore").write_text((PROJECT_DIR / ".funcignore").read_text())
    for relative in LAYOUT:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    expected = {relative for relative, deployed in LAYOUT.items() if deployed}
    assert deployed_files(tmp_path) - {".funcignore"} == expected


@pytest.mark.parametrize("folder", ["orchestrators", "activities", "entities"])
def test_deployment_of_this_project_holds_every_pattern_module(folder: str) -> None:
    deployed = deployed_files(PROJECT_DIR)
    modules = {p.relative_to(PROJECT_DIR).as_posix() for p in (PROJECT_DIR / folder).glob("*.py")}
    assert modules and modules <= deployed
    assert {"function_app.py", "host.json", "requirements.txt"} <= deployed
    excluded = (
        "durable_host/",
        "tests/",
        "bench/",
        "docs/",
        "node_modules/",
        ".venv/",
        ".azurite/",
    )
    assert not [path for path in deployed if path.startswith(excluded)]
    assert not {"local.settings.json", "Makefile", "package.json", "pyproject.toml"} & deployed
