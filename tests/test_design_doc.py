"""docs/design.md names every module of durable_host under its package's heading.

The rule, read off the markdown of docs/design.md:

- A heading names a package when its first word is the package's path relative to
  `durable_host/`, ending in `/`: `## taskhub/ — ...`, `### engine/dispatch/ — ...`.
  The package itself (its top-level modules: `__main__.py`, `errors.py`) is `## durable_host/`.
- That package's section runs until the next heading of the same or a higher level;
  deeper headings that name no package (`### codec contract`) stay inside it.
- A module is documented when a table row of its package's section names it, backticked,
  in the row's first cell (`| `router.py` | ... |`; several may share a row:
  `| `entities.py`, `entity_state.py` | ... |`), and the row says its idea (a second cell
  that is not empty).
- Lines inside fenced code blocks (```) are neither headings nor rows.
- Every `*.py` file under durable_host/ must be documented so, except an `__init__.py`
  that defines no function or class (a docstring and re-exports only: the heading's prose
  says what the package is for).
- Every module a row names must exist in that package, so the doc cannot keep a module
  that was moved or renamed, and every package a heading names must exist.

Pure: reads files only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "durable_host"
DESIGN = ROOT / "docs" / "design.md"
TOP_LEVEL = "durable_host/"

HEADING = re.compile(r"^(#{1,6})\s+(\S+)")
MODULE_NAME = re.compile(r"`([A-Za-z_]\w*\.py)`")


@dataclass
class DocumentedPackage:
    """What the doc says about one package: the modules its table rows name."""

    modules: set[str] = field(default_factory=set)
    rows_without_idea: list[str] = field(default_factory=list)


def package_of(path: Path) -> str:
    parent = path.parent.relative_to(PACKAGE)
    return TOP_LEVEL if parent == Path(".") else f"{parent.as_posix()}/"


def needs_a_row(path: Path) -> bool:
    if path.name != "__init__.py":
        return True
    tree = ast.parse(path.read_text(encoding="utf-8"))
    code = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return any(isinstance(node, code) for node in tree.body)


def modules_in_code() -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        packages.setdefault(package_of(path), set())
        if needs_a_row(path):
            packages[package_of(path)].add(path.name)
    return packages


def table_cells(line: str) -> list[str] | None:
    stripped = line.strip()
    if not stripped.startswith("|") or set(stripped) <= set("|-: "):
        return None
    return [cell.strip() for cell in stripped.strip("|").split("|")]


def modules_in_doc(text: str) -> dict[str, DocumentedPackage]:
    documented: dict[str, DocumentedPackage] = {}
    current: tuple[int, str] | None = None  # (heading level, package)
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = HEADING.match(line)
        if heading:
            level, first_word = len(heading.group(1)), heading.group(2)
            if first_word.endswith("/"):
                current = (level, first_word)
                documented.setdefault(first_word, DocumentedPackage())
            elif current is not None and level <= current[0]:
                current = None
            continue
        cells = table_cells(line)
        if current is None or not cells:
            continue
        names = MODULE_NAME.findall(cells[0])
        package = documented[current[1]]
        package.modules.update(names)
        if names and (len(cells) < 2 or not cells[1]):
            package.rows_without_idea.append(line.strip())
    return documented


def test_every_module_is_named_under_its_package_heading() -> None:
    documented = modules_in_doc(DESIGN.read_text(encoding="utf-8"))
    missing = [
        f"{package}{name}"
        for package, names in sorted(modules_in_code().items())
        for name in sorted(names - documented.get(package, DocumentedPackage()).modules)
    ]
    assert not missing, (
        "docs/design.md has no table row for these modules; add `| `name.py` | its one idea |` "
        f"under the package's heading (`## <pkg>/` or `### <pkg>/<sub>/`): {missing}"
    )


def test_every_named_module_and_package_exists() -> None:
    in_code = modules_in_code()
    documented = modules_in_doc(DESIGN.read_text(encoding="utf-8"))
    unknown_packages = sorted(set(documented) - set(in_code))
    assert not unknown_packages, (
        f"docs/design.md names packages that do not exist: {unknown_packages}"
    )
    stale = [
        f"{package}{name}"
        for package, doc in sorted(documented.items())
        for name in sorted(doc.modules)
        if not (PACKAGE / package.removeprefix(TOP_LEVEL) / name).is_file()
    ]
    assert not stale, f"docs/design.md lists modules that are not in that package: {stale}"


def test_every_row_says_its_idea() -> None:
    documented = modules_in_doc(DESIGN.read_text(encoding="utf-8"))
    empty = [row for doc in documented.values() for row in doc.rows_without_idea]
    assert not empty, f"docs/design.md rows without an idea: {empty}"


def test_the_rule_reads_headings_rows_and_subsections() -> None:
    text = "\n".join(
        [
            "## taskhub/ — storage",
            "| module | idea |",
            "|---|---|",
            "| `names.py` | names |",
            "### codec contract",
            "```",
            "# a comment in code, not a heading",
            "| `fenced.py` | code, not a row |",
            "```",
            "| `codec.py` | inside taskhub still |",
            "## engine/",
            "### engine/time/ — clocks",
            "| `clock.py`, `skipping.py` | time |",
            "| `empty.py` | |",
            "## Checkpoint order",
            "| `stray.py` | outside any package |",
        ]
    )
    documented = modules_in_doc(text)
    assert documented["taskhub/"].modules == {"names.py", "codec.py"}
    assert documented["engine/"].modules == set()
    assert documented["engine/time/"].modules == {"clock.py", "skipping.py", "empty.py"}
    assert documented["engine/time/"].rows_without_idea == ["| `empty.py` | |"]
    assert "stray.py" not in set().union(*(doc.modules for doc in documented.values()))


# The two walkthroughs (the executor seam, a message's path) name code, not modules' ideas:
# every `Class.member`, `module.function` and `module.py` they name must exist, so a rename
# that leaves them behind fails here.
WALKTHROUGHS = ("### Executor seam", "### A message's path")
QUALIFIED = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b")


def walkthrough_text(text: str) -> str:
    parts = []
    for title in WALKTHROUGHS:
        start = text.index(title)
        end = text.find("\n#", start + len(title))
        parts.append(text[start : end if end >= 0 else len(text)])
    return "\n".join(parts)


def code_names() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Classes with their members, and modules (by file stem) with their top-level names."""
    classes: dict[str, set[str]] = {}
    modules: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = modules.setdefault(path.stem, set())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                top.add(node.name)
            if isinstance(node, ast.ClassDef):
                members = classes.setdefault(node.name, set())
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        members.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        members.add(item.target.id)
    return classes, modules


def unknown_names(text: str) -> list[str]:
    classes, modules = code_names()
    unknown = []
    for owner, member in QUALIFIED.findall(text):
        if member == "py":
            known = owner in modules
        elif owner[0].isupper():
            known = member in classes.get(owner, set())
        elif owner in modules:
            known = member in modules[owner]
        else:
            continue  # prose such as "e.g" or a queue name
        if not known:
            unknown.append(f"{owner}.{member}")
    return unknown


def test_the_walkthroughs_name_code_that_exists() -> None:
    text = walkthrough_text(DESIGN.read_text(encoding="utf-8"))
    assert QUALIFIED.search(text), "the walkthrough sections were not found"
    unknown = unknown_names(text)
    assert not unknown, f"docs/design.md's walkthroughs name code that does not exist: {unknown}"


def test_the_walkthrough_check_finds_a_renamed_method_or_module() -> None:
    assert unknown_names("Checkpoint.commit, walk.replay, router.py") == []
    assert unknown_names("Checkpoint.write, walk.replays, nowhere.py") == [
        "Checkpoint.write",
        "walk.replays",
        "nowhere.py",
    ]
