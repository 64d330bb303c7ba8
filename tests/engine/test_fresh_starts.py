"""A start where the client found no instance still reads the history before its first episode.

Skipping that read (one table query per start) was tried for the HTTP-start path and
dropped: the first checkpoint sends its messages before its history write, so when a history
was there anyway, the write failed on its sentinel after the activity was sent; the
activity's result then reached the instance before the start came back, was dropped against
the old finished history, the row was repaired to that execution, and the start was lost.
"""

from __future__ import annotations

import re
from typing import Any

from durable_host.engine.dispatch.sessions import SessionCache
from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import ExecutionStarted
from durable_host.taskhub.storage import HistoryLoad, TaskHubStorage
from tests.engine._helpers import (
    COMPLETED,
    finish,
    history,
    kinds,
    output,
    queues_drained,
    start,
    stored_input,
)


def record_history_loads(engine: Engine) -> list[str]:
    loads: list[str] = []
    real_load = engine.storage.load_history

    async def recorded(instance_id: str, execution_id: str | None = None) -> HistoryLoad:
        loads.append(instance_id)
        return await real_load(instance_id, execution_id)

    engine.storage.load_history = recorded  # type: ignore[method-assign]
    return loads


async def test_a_history_left_without_its_instances_row_is_read_before_the_first_episode(
    engine: Engine,
) -> None:
    """A crash (or a partial purge) left history rows but no Instances row: the client finds
    no instance and inserts a new Pending row; the start runs on the history as stored, once."""
    first = await start(engine, "chain", 1, instance_id="leftover")
    await finish(engine, first)
    await engine.storage.delete_instance("leftover")
    engine.orchestrations._sessions.clear()  # as after a restart of the host
    loads = record_history_loads(engine)
    await start(engine, "chain", 3, instance_id="leftover")
    status = await finish(engine, "leftover")
    assert (status.runtime_status, output(status)) == (COMPLETED, 24)
    assert "leftover" in loads
    events = await history(engine, "leftover")
    assert kinds(events).count("ExecutionStarted") == 1
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    assert started.input == stored_input(3)
    await queues_drained(engine)


async def test_a_start_without_an_id_reads_neither_its_row_nor_its_history(
    engine: Engine,
) -> None:
    """The id the engine makes (32 hex digits, as the extension's client makes them) names no
    instance yet: no Instances read before its start, no History read before its first
    episode. A start with an id reads both (an unfinished instance refuses it, a finished one
    is restarted, a history left behind is run on)."""
    loads = record_history_loads(engine)
    reads: list[str] = []
    real_read = engine.storage.get_instance_with_etag

    async def recorded(instance_id: str) -> Any:
        reads.append(instance_id)
        return await real_read(instance_id)

    engine.storage.get_instance_with_etag = recorded  # type: ignore[method-assign]
    made = await engine.client.start_new("chain", None, stored_input(1))
    assert re.fullmatch("[0-9a-f]{32}", made)
    assert reads == []
    named = await engine.client.start_new("chain", "named-start", stored_input(2))
    assert reads == ["named-start"]
    assert [output(await finish(engine, i)) for i in (made, named)] == [8, 16]
    assert made not in loads and named in loads
    assert engine.orchestrations._sessions._new == {}
    await queues_drained(engine)


async def test_new_instances_of_a_partition_let_go_are_read_again(
    hub_storage: TaskHubStorage,
) -> None:
    """Another host may run the start once this host lets the partition go: its history is
    read again, not assumed empty."""
    cache = SessionCache()
    loads: list[str] = []
    real_load = hub_storage.load_history

    async def recorded(instance_id: str, execution_id: str | None = None) -> HistoryLoad:
        loads.append(instance_id)
        return await real_load(instance_id, execution_id)

    hub_storage.load_history = recorded  # type: ignore[method-assign]
    cache.expect_new("kept")
    cache.expect_new("let-go")
    cache.forget(lambda instance_id: instance_id == "let-go")
    assert (await cache.load(hub_storage, "kept")).history == []
    await cache.load(hub_storage, "let-go")
    assert loads == ["let-go"]
