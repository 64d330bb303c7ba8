"""Recovery after a storage outage: Azurite unreachable or frozen behind a fault proxy.

Visibility timeouts keep their 300 s defaults, so anything that waited out a timeout the
host set itself would miss these deadlines by minutes. Leases are short (4 s, renewed
every second) so that the outage outlasts them without a long test.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from durable_host.engine.dispatch.abandon import Abandoner
from durable_host.engine.dispatch.entity_state import (
    entity_instance_id,
    request_json,
    scheduled_operation_name,
)
from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionIndex, FunctionInvoker, load_app
from durable_host.taskhub.events import EventRaised, OrchestrationInstance
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from tests.engine._helpers import (
    COMPLETED,
    ENTITY_APP_DIR,
    drop_hub,
    eventually,
    finish,
    output,
    settings,
    start,
)
from tests.engine.test_entities import op_input
from tests.fault_proxy import ProxiedStorage
from tests.taskhub.test_storage_queues import start_message

# Recovery must come within seconds of storage answering; 300 s visibility timeouts are
# what a host that waited them out would take instead.
RECOVERY_DEADLINE = 15.0


@pytest.fixture
async def proxied(azurite: str) -> AsyncIterator[ProxiedStorage]:
    storage = await ProxiedStorage(azurite).start()
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture
async def outage_engine(
    azurite: str,
    hub_name: str,
    app_index: FunctionIndex,
    app_module: ModuleType,
    proxied: ProxiedStorage,
) -> AsyncIterator[Engine]:
    invoker = FunctionInvoker(app_index)
    config = settings(hub_name, partition_lease_duration=4.0, partition_renew_interval=1.0)
    engine = Engine(proxied.connection_string, config, app_index, invoker)
    await engine.start()
    try:
        yield engine
    finally:
        app_module.release_all_gates()
        await proxied.resume()
        await engine.stop()
        invoker.close(wait=False)
        await drop_hub(azurite, hub_name)


def _holds_every_partition(engine: Engine) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return engine.partitions.owned_queues == set(engine.names.control_queues)

    return probe


def _holds_none(engine: Engine) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not engine.partitions.owned_queues

    return probe


async def _recovers(engine: Engine, app_module: ModuleType, instance_id: str) -> float:
    """Seconds until the leases are held again; then the held work and new work complete."""
    resumed = time.monotonic()
    await eventually(
        _holds_every_partition(engine), timeout=RECOVERY_DEADLINE, what="the leases re-claimed"
    )
    recovered = time.monotonic() - resumed
    status = await finish(engine, instance_id, timeout=RECOVERY_DEADLINE)
    assert status.runtime_status == COMPLETED
    assert output(status) == [f"passed {instance_id}", 42]
    fresh = await start(engine, "gated_chain", "after", instance_id="after")
    app_module.gate("after").set()
    status = await finish(engine, fresh, timeout=RECOVERY_DEADLINE)
    assert output(status) == ["passed after", 42]
    return recovered


async def _outage_during_an_activity(
    engine: Engine,
    app_module: ModuleType,
    proxied: ProxiedStorage,
    outage: Callable[[], Awaitable[None]],
) -> None:
    """Start a chain, begin the outage while its first activity runs, let the activity
    finish during it (its result cannot be stored yet), end the outage, check recovery."""
    await eventually(_holds_every_partition(engine), what="the leases claimed")
    instance_id = await start(engine, "gated_chain", "held", instance_id="held")

    async def entered() -> bool:
        return "held" in app_module.ENTERED

    await eventually(entered, what="the activity running")
    await outage()
    app_module.gate("held").set()
    # No renewal lands, so the host stops before its leases lapse.
    await eventually(_holds_none(engine), timeout=30, what="the leases given up")
    await proxied.resume()
    recovered = await _recovers(engine, app_module, instance_id)
    print(f"leases re-held {recovered:.2f} s after storage answered again")


async def test_the_host_recovers_once_unreachable_storage_answers(
    outage_engine: Engine, proxied: ProxiedStorage, app_module: ModuleType
) -> None:
    await _outage_during_an_activity(outage_engine, app_module, proxied, proxied.drop)


async def test_the_host_recovers_once_frozen_storage_answers(
    outage_engine: Engine, proxied: ProxiedStorage, app_module: ModuleType
) -> None:
    async def freeze() -> None:
        proxied.pause()  # every request hangs until resumed

    await _outage_during_an_activity(outage_engine, app_module, proxied, freeze)


async def test_a_message_given_back_during_an_outage_is_visible_once_storage_answers(
    azurite: str, hub_name: str, proxied: ProxiedStorage
) -> None:
    names = TaskHubNames(hub_name, partition_count=1)
    direct = TaskHubStorage(azurite, names)
    through_proxy = TaskHubStorage(proxied.connection_string, names)
    try:
        await direct.create_if_not_exists()
        await direct.send_control(0, start_message("given-back"))
        [held] = await through_proxy.receive_control(0, visibility_timeout=300)
        abandoner = Abandoner(through_proxy, visibility_timeout=300)
        await proxied.drop()
        await abandoner.abandon(held, 0)
        assert abandoner.pending == 1  # storage did not take it: retried in the background
        assert await direct.receive_control(0, visibility_timeout=300) == []
        await proxied.resume()

        async def visible_again() -> bool:
            return bool(await direct.receive_control(0, visibility_timeout=1))

        await eventually(visible_again, timeout=RECOVERY_DEADLINE, what="the message back")
        assert abandoner.pending == 0
        await abandoner.close()
    finally:
        await direct.delete_task_hub()
        await direct.close()
        await through_proxy.close()


async def test_an_entity_abandon_storage_does_not_take_holds_up_nothing(
    azurite: str, hub_name: str, proxied: ProxiedStorage
) -> None:
    """A batch with an operation due now and one scheduled for later, and the queue service
    unreachable from the moment the later one is abandoned: the abandon is retried in the
    background, the due operation is applied and stored meanwhile, and the later one still
    runs at its time once the queues answer again. (The abandon used to fail the whole
    batch, so nothing was applied until storage answered and the batch came back.)"""
    index = load_app(ENTITY_APP_DIR)
    invoker = FunctionInvoker(index)
    engine = Engine(
        proxied.connection_string, settings(hub_name, partition_count=1), index, invoker
    )
    queues = proxied.proxies["Queue"]
    try:
        await engine.storage.create_if_not_exists()
        due = engine.clock.now() + timedelta(seconds=8)
        # Both sent before the engine starts, so its first receive takes them in one batch.
        # The scheduled one is visible at once, as a signal scheduled more than the queue's
        # longest delay ahead is, or one from a host whose clock runs ahead: the entity
        # puts it back until its time.
        await _send_signal_visible_now(engine, "k", 100, due)
        await engine.client.signal_entity("counter", "k", "add", op_input(1))
        # The abandon (an update with the pop receipt) never reaches the queue service,
        # which is unreachable from then on.
        queues.hold_request_containing(
            b"popreceipt=", then=lambda: asyncio.get_running_loop().create_task(queues.drop())
        )
        await engine.start()

        async def state() -> Any:
            entity = await engine.client.read_entity("counter", "k")  # tables still answer
            return None if entity is None else json.loads(entity.state or "null")

        async def applied_now() -> bool:
            return bool(await state() == 1)

        await eventually(applied_now, timeout=RECOVERY_DEADLINE, what="the due add stored")
        assert engine.clock.now() < due, "the machine is too slow to see the order"
        await queues.resume()

        async def applied_later() -> bool:
            return bool(await state() == 101)

        await eventually(applied_later, timeout=30, what="the scheduled add at its time")
    finally:
        await proxied.resume()
        await engine.stop()
        invoker.close(wait=False)
        await drop_hub(azurite, hub_name)


async def _send_signal_visible_now(engine: Engine, key: str, amount: int, due: datetime) -> None:
    now = engine.clock.now()
    request = request_json(
        request_id=str(uuid.uuid4()),
        operation="add",
        input_json=op_input(amount),
        signal=True,
        now=now,
    )
    event = EventRaised(timestamp=now, name=scheduled_operation_name(due), input=request)
    target = OrchestrationInstance(entity_instance_id("counter", key), "")
    await engine.router.send_to_instance(target, event)
