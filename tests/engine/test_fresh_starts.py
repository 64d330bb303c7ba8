"""A start where the client found no instance still reads the history before its first episode.

Skipping that read (one table query per start) was tried for the HTTP-start path and
dropped: the first checkpoint sends its messages before its history write, so when a history
was there anyway, the write failed on its sentinel after the activity was sent; the
activity's result then reached the instance before the start came back, was dropped against
the old finished history, the row was repaired to that execution, and the start was lost.
"""

from __future__ import annotations

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import ExecutionStarted
from durable_host.taskhub.storage import HistoryLoad
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
