"""Entities of the 2.x-style app over the protobuf protocol: function and class based, calls,
signals, failures, what an operation sends (a signal, an orchestration start), and locks."""

from __future__ import annotations

import json

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import EventSent, OrchestrationStatus
from tests.engine._helpers import eventually, finish, history
from tests.v2.test_orchestrations import out, run


async def entity_state(engine: Engine, name: str, key: str) -> object:
    state = await engine.client.read_entity(name, key)
    return None if state is None else json.loads(state.state or "null")


async def test_calls_and_signals_reach_function_and_class_entities(engine: Engine) -> None:
    status = await run(engine, "entity_calls", "e1", "calls-1")
    result = out(status)
    # The signal was sent before the call, so the call sees it.
    assert result["after_add"] == 15
    assert result["deposited"] == 100 and result["balance"] == 100
    assert "insufficient funds: 100 < 500" in result["refused"]
    assert await entity_state(engine, "counter", "e1") == 15
    assert await entity_state(engine, "account", "e1") == 100
    sent = [e for e in await history(engine, "calls-1") if isinstance(e, EventSent)]
    assert {e.instance_id for e in sent} == {"@counter@e1", "@account@e1"}
    assert all(e.name == "op" for e in sent)


async def test_a_client_signal_runs_a_function_entity(engine: Engine) -> None:
    await engine.client.signal_entity("counter", "s1", "add", json.dumps(7))

    async def added() -> bool:
        return await entity_state(engine, "counter", "s1") == 7

    await eventually(added, what="counter s1 at 7")


async def test_an_entity_signals_another_and_starts_an_orchestration(engine: Engine) -> None:
    await engine.client.signal_entity("counter", "f1", "add", json.dumps(4))
    forward = json.dumps({"to": "f2", "start": "from-entity-1"})
    await engine.client.signal_entity("counter", "f1", "forward", forward)

    async def forwarded() -> bool:
        return await entity_state(engine, "counter", "f2") == 4

    await eventually(forwarded, what="counter f2 at 4")

    async def started() -> bool:
        return await engine.client.get_status("from-entity-1") is not None

    # The start and the signal leave together; either may land first.
    await eventually(started, what="the orchestration the entity started")
    status = await finish(engine, "from-entity-1")
    assert out(status) == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


async def test_a_failing_operation_keeps_the_state(engine: Engine) -> None:
    await engine.client.signal_entity("counter", "x1", "add", json.dumps(3))
    await engine.client.signal_entity("counter", "x1", "fail")
    await engine.client.signal_entity("counter", "x1", "add", json.dumps(1))

    async def all_ran() -> bool:
        return await entity_state(engine, "counter", "x1") == 4

    await eventually(all_ran, what="counter x1 at 4 after the failed operation")


async def test_a_critical_section_locks_both_entities(engine: Engine) -> None:
    await run(engine, "entity_calls", "a", "seed-a")  # account a: 100
    status = await run(engine, "transfer", {"from": "a", "to": "b", "amount": 30}, "move-1")
    assert out(status) == {"moved": True, "balance": 70}
    assert await entity_state(engine, "account", "b") == 30
    events = await history(engine, "move-1")
    lock = next(e for e in events if isinstance(e, EventSent) and "lockset" in (e.input or ""))
    body = json.loads(lock.input or "")
    assert body["lockset"] == [{"name": "account", "key": "a"}, {"name": "account", "key": "b"}]
    releases = [e for e in events if isinstance(e, EventSent) and e.name == "release"]
    assert sorted(e.instance_id for e in releases) == ["@account@a", "@account@b"]
    # The lock is free again: another transfer goes through.
    again = await run(engine, "transfer", {"from": "b", "to": "a", "amount": 10}, "move-2")
    assert again.runtime_status is OrchestrationStatus.Completed
