"""Fixtures for the 2.x-style app (tests/apps/v2): an Engine over it on a fresh task hub."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionIndex, load_app
from tests.engine._helpers import running_engine

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "v2"


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
