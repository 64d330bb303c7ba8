"""Back-pressure: past its buffer limit, a host stops taking its own messages into memory."""

from __future__ import annotations

from durable_host.engine.runtime import Engine
from tests.engine._helpers import finish, start


async def test_messages_go_through_the_queue_while_the_buffer_is_full(engine: Engine) -> None:
    dispatcher = engine.orchestrations
    dispatcher._max_buffered = 0  # every message now counts as over the limit
    assert engine.router.control_accepts() is False

    instance_id = await start(engine, "chain", 2)
    # Nothing was handed over in memory: the start went to the control queue, visible.
    assert dispatcher._pending.get(instance_id) is None
    dispatcher._max_buffered = 10_000
    assert engine.router.control_accepts() is True

    status = await finish(engine, instance_id)
    assert status.output == "16"
