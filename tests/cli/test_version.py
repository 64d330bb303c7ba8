"""`durable-host --version` prints the version pyproject.toml sets, and CHANGELOG.md's newest
release is that version: a bump without its entry, or an entry without its bump, fails here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_version() -> str:
    # A regex rather than tomllib, which Python 3.10 lacks.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert match, "pyproject.toml has no version line"
    return match.group(1)


def test_the_command_prints_the_installed_version() -> None:
    result = subprocess.run(
        # The console script pip installed, as users run it.
        [str(Path(sys.executable).parent / "durable-host"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"durable-host {_pyproject_version()}"


def test_the_changelogs_newest_release_is_the_packages_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, re.MULTILINE)
    assert releases, "CHANGELOG.md names no release"
    assert releases[0] == _pyproject_version()
    assert f"\n[{releases[0]}]: " in text, "the release's link line is missing"
