"""Back-pressure: past its buffer limit, a host stops taking its own messages into memory."""

from __future__ import annotations

import pytest

from durable_host.engine.runtime import Engine
from tests.engine._helpers import finish, start


@pytest.mark.engine_settings(max_buffered_control_messages=0)  # every message is over the limit
async def test_messages_go_through_the_queue_while_the_buffer_is_full(engine: Engine) -> None:
    assert engine.orchestrations.accepts_more() is False

    instance_id = await start(engine, "chain", 2)
    # Nothing was handed over in memory: the start waits in the control queue, visible (at a
    # limit of 0 the receive loop takes nothing either).
    assert engine.orchestrations._pending.get(instance_id) is None
    queue = engine.names.control_queue(engine.router.partition_of(instance_id))
    assert await engine.storage.peek_count(queue) == 1


async def test_a_host_under_its_limit_takes_its_messages(engine: Engine) -> None:
    assert engine.orchestrations.accepts_more() is True
    instance_id = await start(engine, "chain", 2)
    status = await finish(engine, instance_id)
    assert status.output == "16"
