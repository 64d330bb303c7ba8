"""Entity requests are applied in the order each sender sent them (dispatch/entity_batches.py).

Requests are sent straight to the entity's queue, labelled as an orchestration labels them
(Timestamp, Predecessor), in an order the queue could deliver them after a crash. The
counter's `reset` then `add 5` gives 5; the other order gives 0.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from durable_host.engine.dispatch.entity_state import SchedulerState
from durable_host.engine.replay.entity_sorter import format_ticks, parse_ticks, ticks_of
from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionInvoker, load_app
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    OrchestrationInstance,
)
from tests.engine._helpers import (
    COMPLETED,
    ENTITY_APP_DIR,
    eventually,
    finish,
    running_engine,
    settings,
    start,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SENDER = ("orch-1", "exec-1")


@pytest.fixture
async def engine(azurite: str, hub_name: str) -> AsyncIterator[Engine]:
    async with running_engine(azurite, hub_name, ENTITY_APP_DIR) as eng:
        yield eng


async def send(
    engine: Engine, key: str, operation: str, value: Any, *, at: int, after: int = 0
) -> None:
    """A signal from SENDER sent at second `at`, naming the one sent at second `after`."""
    body = {
        "op": operation,
        "signal": True,
        "input": None if value is None else json.dumps(json.dumps(value)),
        "id": str(uuid.uuid4()),
        "parent": SENDER[0],
        "parentExecution": SENDER[1],
        "Timestamp": format_ticks(ticks_of(T0 + timedelta(seconds=at))),
        "Predecessor": format_ticks(ticks_of(T0 + timedelta(seconds=after)) if after else 0),
    }
    await engine.router.send_to_instance(
        OrchestrationInstance(f"@counter@{key}", None),
        EventRaised(timestamp=engine.clock.now(), name="op", input=json.dumps(body)),
    )


async def stored_state(engine: Engine, key: str) -> SchedulerState:
    loaded = await engine.storage.load_history(f"@counter@{key}")
    started = next((e for e in loaded.events if isinstance(e, ExecutionStarted)), None)
    return SchedulerState.from_json(started.input if started else None)


async def wait_state(engine: Engine, key: str, expected: Any) -> None:
    async def reached() -> bool:
        state = await stored_state(engine, key)
        return state.state is not None and json.loads(state.state) == expected

    await eventually(reached, timeout=30, what=f"counter {key} == {expected!r}")


async def drained(engine: Engine) -> bool:
    return not any((await engine.storage.queue_lengths()).values())


async def test_a_request_waits_in_the_state_for_the_one_sent_before_it(
    engine: Engine, azurite: str, hub_name: str
) -> None:
    await engine.client.signal_entity("counter", "seq", "add", json.dumps(json.dumps(10)))
    await wait_state(engine, "seq", 10)
    await send(engine, "seq", "add", 5, at=2, after=1)

    async def held() -> bool:
        return (await stored_state(engine, "seq")).sorter.buffered_count == 1

    # Held back: stored with the state (which it did not change) and its message deleted.
    await eventually(held, what="the request to be held in the stored state")
    await eventually(lambda: drained(engine), what="its message to be deleted")
    assert json.loads((await stored_state(engine, "seq")).state or "null") == 10
    await engine.stop()

    # A new engine knows of it only through storage.
    index = load_app(ENTITY_APP_DIR)
    async with Engine(azurite, settings(hub_name), index, FunctionInvoker(index)) as second:
        await send(second, "seq", "reset", None, at=1)
        await wait_state(second, "seq", 5)
        state = await stored_state(second, "seq")
        assert state.sorter.buffered_count == 0
        received = state.sorter.received_from[SENDER[0]]
        assert received.last == ticks_of(T0 + timedelta(seconds=2))
        assert received.execution_id == SENDER[1]


async def test_a_copy_of_a_delivered_request_is_dropped(engine: Engine) -> None:
    await send(engine, "dup", "add", 1, at=1)
    await wait_state(engine, "dup", 1)
    # Another message with a Timestamp already delivered (another request id: the id check
    # would not catch it).
    await send(engine, "dup", "add", 100, at=1)
    await send(engine, "dup", "add", 2, at=2, after=1)
    await wait_state(engine, "dup", 3)
    await eventually(lambda: drained(engine), what="every message to be deleted")
    assert json.loads((await stored_state(engine, "dup")).state or "null") == 3


async def test_an_orchestrations_requests_form_a_chain(engine: Engine) -> None:
    instance_id = await start(engine, "call_twice", "chain")
    status = await finish(engine, instance_id)
    assert status.runtime_status == COMPLETED and json.loads(status.output or "") == [1, 1]
    loaded = await engine.storage.load_history(instance_id)
    sent = [json.loads(e.input or "") for e in loaded.events if isinstance(e, EventSent)]
    assert [s["op"] for s in sent] == ["add", "get"]
    assert sent[0]["Predecessor"] == "0001-01-01T00:00:00"
    # The second call, sent in a later episode, names the first.
    assert sent[1]["Predecessor"] == sent[0]["Timestamp"]
    assert parse_ticks(sent[1]["Timestamp"]) > parse_ticks(sent[0]["Timestamp"])
    assert {s["parent"] for s in sent} == {instance_id}
