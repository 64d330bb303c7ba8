"""Work items a host hands to itself past its activity limit wait in a backlog; a finished
activity starts the next one at once, whatever the work-item poller is doing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from durable_host.engine.runtime import Engine
from durable_host.taskhub.storage import ReceivedMessage
from tests.engine._helpers import finish, start


@pytest.fixture
async def held_poller(engine: Engine) -> AsyncIterator[asyncio.Event]:
    """The work-item poller's next receive waits until the returned event is set: it stands
    for a poller asleep in its back-off (30 s by default), which the tests' 1 s maximum
    would otherwise hide."""
    release = asyncio.Event()
    receive = engine.storage.receive_work_items

    async def held(**kwargs: object) -> list[ReceivedMessage]:
        await release.wait()
        return await receive(**kwargs)  # type: ignore[arg-type]

    engine.storage.receive_work_items = held  # type: ignore[method-assign]
    engine.router.work_item_wakeup.set()  # end the poller's current sleep: it meets `held`
    try:
        yield release
    finally:
        release.set()


# 8 activities: 2 start when handed over, 6 wait.
@pytest.mark.engine_settings(max_concurrent_activity_functions=2)
async def test_a_backlog_drains_while_the_poller_sleeps(
    engine: Engine, held_poller: asyncio.Event
) -> None:
    instance_id = await start(engine, "fan_out", 8)

    # Unfixed, the 6 waited for the poller, which never comes back here.
    status = await finish(engine, instance_id, timeout=60)
    assert status.output == str(sum(2 * i for i in range(8)))
    assert not held_poller.is_set()
    assert engine.activities.is_idle()
