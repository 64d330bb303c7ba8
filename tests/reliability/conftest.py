"""Fixtures for the reliability tests: an Engine over tests/reliability/app on a fresh hub."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from durable_host.engine.runtime import Engine, EngineSettings
from durable_host.functions import FunctionInvoker, load_app
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage

APP_DIR = Path(__file__).resolve().parent / "app"


def engine_settings(hub_name: str, **overrides: object) -> EngineSettings:
    # Idle loops back off to 1 s at most, so a message put back for later is seen again soon.
    return EngineSettings(hub_name=hub_name, max_queue_polling_interval=1.0, **overrides)  # type: ignore[arg-type]


class EngineFactory:
    """Builds engines on one hub; every engine built is stopped, and the hub dropped, at the end."""

    def __init__(self, connection_string: str, hub_name: str) -> None:
        self.connection_string = connection_string
        self.hub_name = hub_name
        self.index = load_app(APP_DIR)
        self.app: ModuleType = sys.modules["function_app"]
        self.app.GATE.clear()
        self.app.HELD.clear()
        self._built: list[tuple[Engine, FunctionInvoker]] = []

    def build(self, **overrides: object) -> Engine:
        invoker = FunctionInvoker(self.index)
        engine = Engine(
            self.connection_string, engine_settings(self.hub_name, **overrides), self.index, invoker
        )
        self._built.append((engine, invoker))
        return engine

    async def close(self) -> None:
        self.app.GATE.set()
        for engine, invoker in self._built:
            await engine.stop()
            invoker.close(wait=False)
        async with TaskHubStorage(self.connection_string, TaskHubNames(self.hub_name)) as storage:
            await storage.delete_task_hub()


@pytest.fixture
async def engines(azurite: str, hub_name: str) -> AsyncIterator[EngineFactory]:
    factory = EngineFactory(azurite, hub_name)
    try:
        yield factory
    finally:
        await factory.close()
