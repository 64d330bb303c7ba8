"""Fixtures for engine tests: a running Engine over the engine test app on a fresh task hub."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionIndex, FunctionInvoker, load_app
from tests.engine._helpers import drop_hub, settings

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "engine"


@pytest.fixture
def app_index() -> FunctionIndex:
    return load_app(APP_DIR)


@pytest.fixture
def app_module(app_index: FunctionIndex) -> ModuleType:
    """The imported test app, for its gates and attempt counters."""
    return sys.modules["function_app"]


@pytest.fixture
def invoker(app_index: FunctionIndex) -> FunctionInvoker:
    return FunctionInvoker(app_index)


@pytest.fixture
async def engine(
    request: pytest.FixtureRequest,
    azurite: str,
    hub_name: str,
    app_index: FunctionIndex,
    invoker: FunctionInvoker,
    app_module: ModuleType,
) -> AsyncIterator[Engine]:
    """A test marked `@pytest.mark.engine_settings(name=value, ...)` gets those
    EngineSettings."""
    marker = request.node.get_closest_marker("engine_settings")
    overrides = marker.kwargs if marker is not None else {}
    eng = Engine(azurite, settings(hub_name, **overrides), app_index, invoker)
    await eng.start()
    try:
        yield eng
    finally:
        app_module.release_all_gates()
        await eng.stop()
        invoker.close(wait=False)
        await drop_hub(azurite, hub_name)
