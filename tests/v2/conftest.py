"""Fixtures for the 2.x-style app (tests/apps/v2): an Engine over it on a fresh task hub."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionIndex, load_app
from tests.engine._helpers import running_engine

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "v2"
# What an environment with azure-functions-durable 2.x lacks: the 1.x package's modules (a
# name mapped to None in sys.modules is what Python does for a module that is absent).
WITHOUT_1X = ("azure.durable_functions",)


def run_pytest_in_child(
    folder: Path, *, hidden: tuple[str, ...] = WITHOUT_1X, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """pytest run in `folder` by a child Python in which the `hidden` packages are absent."""
    code = (
        "import sys\n"
        + "".join(f"sys.modules[{name!r}] = None\n" for name in hidden)
        + "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider']))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


@pytest.fixture
def app_index() -> FunctionIndex:
    return load_app(APP_DIR)


@pytest.fixture
async def engine(azurite: str, hub_name: str) -> AsyncIterator[Engine]:
    async with running_engine(azurite, hub_name, APP_DIR) as eng:
        yield eng


@pytest.fixture
def app_module(engine: Engine) -> ModuleType:
    """The test app as the engine runs it, for its failure counters."""
    return sys.modules["function_app"]
