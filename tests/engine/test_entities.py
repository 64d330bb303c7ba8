"""Durable entities on the engine: real SDK, real Azurite (tests/apps/entities)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from durable_host.engine.entity_state import SchedulerState
from durable_host.engine.host import Engine
from durable_host.functions import FunctionInvoker, load_app
from durable_host.taskhub.events import (
    ExecutionStarted,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
)
from durable_host.taskhub.keys import escape_partition_key
from tests.engine._helpers import drop_hub, eventually, finish, settings, start

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "entities"


def op_input(value: Any) -> str:
    """An operation input as the extension stores it (JSON text of JSON text)."""
    return json.dumps(json.dumps(value))


@pytest.fixture
async def engine(azurite: str, hub_name: str) -> AsyncIterator[Engine]:
    index = load_app(APP_DIR)
    invoker = FunctionInvoker(index)
    eng = Engine(azurite, settings(hub_name), index, invoker)
    await eng.start()
    try:
        yield eng
    finally:
        await eng.stop()
        invoker.close(wait=False)
        await drop_hub(azurite, hub_name)


async def state_of(engine: Engine, key: str) -> Any:
    entity = await engine.client.read_entity("counter", key)
    return None if entity is None else json.loads(entity.state or "null")


async def wait_state(engine: Engine, key: str, expected: Any, timeout: float = 30) -> None:
    async def reached() -> bool:
        return bool(await state_of(engine, key) == expected)

    await eventually(reached, timeout=timeout, what=f"counter {key} == {expected!r}")


async def test_signal_creates_the_entity_and_adds(engine: Engine) -> None:
    assert await engine.client.read_entity("counter", "k1") is None
    await engine.client.signal_entity("counter", "k1", "add", op_input(5))
    await engine.client.signal_entity("Counter", "k1", "add", op_input(2))
    await wait_state(engine, "k1", 7)
    listed = await engine.client.list_entities("counter", fetch_state=True)
    assert [(e.name, e.key, e.state) for e in listed.entities] == [("counter", "k1", "7")]
