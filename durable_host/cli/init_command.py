"""`durable-host init [APP_DIR]`: what an app folder needs to run and test on durable_host.

Writes local.settings.json, host.json (when missing), a package.json pinning Azurite (with
patch-package and durable_host's patches, so `npm install` gives the same patched Azurite as
the per-user cache), .gitignore entries and a sample test on the pytest plugin. An existing
file is left alone unless --force; .gitignore only ever gets the missing lines appended.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

from durable_host.server.azurite_install import (
    AZURITE_VERSION,
    PATCH_PACKAGE_VERSION,
    patch_files,
)
from durable_host.server.settings import DEVELOPMENT_STORAGE, LOCAL_SETTINGS_SAMPLE

__all__ = ["add_init_command", "run_init"]

_GITIGNORE_LINES = (".azurite/", "local.settings.json", "node_modules/", "__azurite_db_*")
_SAMPLE_TEST = "tests/test_durable_sample.py"
_PLACEHOLDER_ORCHESTRATOR = "my_orchestrator"
_SKIPPED_DIRS = {"node_modules", ".venv", "venv", ".git", ".azurite", "tests", "__pycache__"}


def add_init_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = commands.add_parser(
        "init",
        help="write what an app folder needs to run and test locally on durable_host",
        description="Writes local.settings.json, host.json (if missing), package.json pinning "
        f"Azurite {AZURITE_VERSION}, .gitignore entries and {_SAMPLE_TEST}. Existing files "
        "are kept unless --force.",
    )
    init.add_argument("app_dir", nargs="?", type=Path, default=Path("."), metavar="APP_DIR")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")


def run_init(args: argparse.Namespace) -> int:
    app_dir: Path = args.app_dir.resolve()
    if not app_dir.is_dir():
        print(f"error: {app_dir} is not a folder; create it first.", file=sys.stderr)
        return 1
    written: list[str] = []
    kept: list[str] = []
    for relative, text in _files(app_dir).items():
        target = app_dir / relative
        if target.exists() and not args.force:
            kept.append(relative)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(relative)
    added = _extend_gitignore(app_dir / ".gitignore")
    for relative in written:
        print(f"wrote {relative}")
    for relative in kept:
        print(f"kept {relative} (exists; --force overwrites it)")
    if added:
        print(f"added to .gitignore: {', '.join(added)}")
    print(
        f"\nNext, in {app_dir}: `npm install` (Azurite {AZURITE_VERSION}; optional, "
        "durable-host installs it into a per-user cache otherwise), `durable-host start`, "
        "and `pytest` (with durable-host[testing] installed)."
    )
    return 0


def _files(app_dir: Path) -> dict[str, str]:
    files = {
        "local.settings.json": _local_settings(app_dir),
        "package.json": _package_json(app_dir),
        _SAMPLE_TEST: _sample_test(_first_orchestrator(app_dir)),
    }
    if not (app_dir / "host.json").exists():
        files["host.json"] = _json({"version": "2.0"})
    for patch in patch_files():
        files[f"patches/{patch.name}"] = patch.read_text(encoding="utf-8")
    return files


def _json(value: object) -> str:
    return json.dumps(value, indent=2) + "\n"


def _local_settings(app_dir: Path) -> str:
    sample = app_dir / LOCAL_SETTINGS_SAMPLE
    if sample.is_file():
        return sample.read_text(encoding="utf-8")
    return _json(
        {
            "IsEncrypted": False,
            "Values": {
                "AzureWebJobsStorage": DEVELOPMENT_STORAGE,
                "FUNCTIONS_WORKER_RUNTIME": "python",
            },
        }
    )


def _package_json(app_dir: Path) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", app_dir.name.lower()).strip("-._") or "app"
    return _json(
        {
            "name": name,
            "private": True,
            "description": "Azurite, the storage emulator durable-host runs the app on locally.",
            "scripts": {"postinstall": "patch-package"},
            "devDependencies": {
                "azurite": AZURITE_VERSION,
                "patch-package": PATCH_PACKAGE_VERSION,
            },
        }
    )


def _extend_gitignore(path: Path) -> list[str]:
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in _GITIGNORE_LINES if line not in present]
    if missing:
        separator = "" if not existing or existing.endswith("\n") else "\n"
        path.write_text(existing + separator + "\n".join(missing) + "\n", encoding="utf-8")
    return missing


def _first_orchestrator(app_dir: Path) -> str | None:
    """The name of the first orchestrator function in the app's sources (read, not imported)."""
    sources = [app_dir / "function_app.py", *sorted(app_dir.glob("*/*.py"))]
    for path in sources:
        if not path.is_file() or path.parent.name in _SKIPPED_DIRS:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = _orchestrator_name(node)
                if name:
                    return name
    return None


def _orchestrator_name(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    calls = [d for d in function.decorator_list if isinstance(d, ast.Call)]
    names = {c.func.attr: c for c in calls if isinstance(c.func, ast.Attribute)}
    if "orchestration_trigger" not in names:
        return None
    renamed = names.get("function_name")
    if renamed is not None:
        values = list(renamed.args) + [k.value for k in renamed.keywords if k.arg == "name"]
        if values and isinstance(values[0], ast.Constant) and isinstance(values[0].value, str):
            return values[0].value
    return function.name


def _sample_test(orchestrator: str | None) -> str:
    hint = (
        "found in the app by `durable-host init`"
        if orchestrator
        else "a placeholder: put one of your orchestrators here"
    )
    return f'''"""A first test of this app on durable_host's pytest plugin (by `durable-host init`).

`durable_env` runs the app (function_app.py) in this process on a fresh task hub, on an
Azurite found as `durable-host start` finds it (or DURABLE_HOST_TEST_STORAGE); durable
timers fire at once under virtual time. Needs: pip install "durable-host[testing]".
"""

import pytest

ORCHESTRATOR = {orchestrator or _PLACEHOLDER_ORCHESTRATOR!r}  # {hint}
INPUT = None  # the orchestrator's input (any JSON value)


@pytest.mark.asyncio
async def test_orchestrator_completes(durable_env):
    instance_id = await durable_env.start_orchestration(ORCHESTRATOR, INPUT)
    # Raises, with the output and the last history events, unless it ends Completed.
    status = await durable_env.wait_for_completion(instance_id)
    assert status.runtime_status.name == "Completed"
'''
