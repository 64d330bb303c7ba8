"""Recovery after a storage outage: Azurite unreachable or frozen behind a fault proxy.

Visibility timeouts keep their 300 s defaults, so anything that waited out a timeout the
host set itself would miss these deadlines by minutes. Leases are short (4 s, renewed
every second) so that the outage outlasts them without a long test.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType

import pytest

from durable_host.engine.dispatch.returns import MessageReturns
from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionIndex, FunctionInvoker
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from tests.engine._helpers import COMPLETED, drop_hub, eventually, finish, output, settings, start
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
        returns = MessageReturns(through_proxy, visibility_timeout=300)
        await proxied.drop()
        await returns.give_back(held, 0)
        assert returns.pending == 1  # storage did not take it: retried in the background
        assert await direct.receive_control(0, visibility_timeout=300) == []
        await proxied.resume()

        async def visible_again() -> bool:
            return bool(await direct.receive_control(0, visibility_timeout=1))

        await eventually(visible_again, timeout=RECOVERY_DEADLINE, what="the message back")
        assert returns.pending == 0
        await returns.close()
    finally:
        await direct.delete_task_hub()
        await direct.close()
        await through_proxy.close()
