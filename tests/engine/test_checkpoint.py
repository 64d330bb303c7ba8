"""When a checkpoint does its steps: the order of the requests on a hop's critical path."""

from __future__ import annotations

from typing import Any

from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionInvoker
from tests.engine._helpers import COMPLETED, finish, output, start


async def test_an_episode_s_history_write_starts_before_the_activity_it_scheduled(
    engine: Engine, invoker: FunctionInvoker
) -> None:
    """The work item is sent first (the provider's order), but the activity it carries is
    handed to this host's dispatcher only once the history write is under way: that write
    is what the next episode waits for, and the activity's start would put its own CPU
    ahead of it."""
    order: list[str] = []
    append_history, invoke_activity = engine.storage.append_history, invoker.invoke_activity

    async def appending(*args: Any, **kwargs: Any) -> str:
        order.append("history")
        return await append_history(*args, **kwargs)

    async def invoking(*args: Any, **kwargs: Any) -> Any:
        order.append("activity")
        return await invoke_activity(*args, **kwargs)

    engine.storage.append_history = appending  # type: ignore[method-assign]
    invoker.invoke_activity = invoking  # type: ignore[method-assign]
    status = await finish(engine, await start(engine, "chain", 3))

    assert (status.runtime_status, output(status)) == (COMPLETED, 24)
    # Each of the three episodes that scheduled an activity wrote its history before that
    # activity ran; the last episode only completes.
    assert order == ["history", "activity"] * 3 + ["history"]
