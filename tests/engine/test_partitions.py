"""Partition leases: several engines on one task hub split the control queues (Azurite)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from durable_host.engine.runtime import Engine
from durable_host.functions import FunctionIndex, FunctionInvoker
from durable_host.taskhub.lease_table import PartitionLease
from tests.engine._helpers import drop_hub, eventually, finish, settings, start

# Starts one more engine on the test's hub, as the given worker id (stopped after the test).
MakeEngine = Callable[[str], Awaitable[Engine]]

FAST_LEASES = {"partition_lease_duration": 3.0, "partition_renew_interval": 0.5}


@pytest.fixture
async def make_engine(
    azurite: str, hub_name: str, app_index: FunctionIndex
) -> AsyncIterator[MakeEngine]:
    async with AsyncExitStack() as stack:

        async def make(worker_id: str) -> Engine:
            invoker = FunctionInvoker(app_index)
            engine = Engine(
                azurite,
                settings(hub_name, worker_id=worker_id, **FAST_LEASES),
                app_index,
                invoker,
            )
            await engine.start()
            stack.push_async_callback(engine.stop)
            return engine

        yield make
    await drop_hub(azurite, hub_name)


def owners(leases: list[PartitionLease]) -> dict[str, str | None]:
    return {lease.queue: lease.current_owner for lease in leases}


async def test_a_lone_host_owns_every_queue_and_writes_the_lease_rows(
    make_engine: MakeEngine,
) -> None:
    engine = await make_engine("host-a")
    leases = await engine.storage.list_partition_leases()
    assert [lease.queue for lease in leases] == engine.names.control_queues
    assert set(owners(leases).values()) == {"host-a"}
    assert all(lease.expires_at and lease.owned_since for lease in leases)
    assert engine.orchestrations.owned_partitions == {0, 1, 2, 3}


async def test_two_hosts_split_the_queues_and_both_process_instances(
    make_engine: MakeEngine,
) -> None:
    first = await make_engine("host-a")
    second = await make_engine("host-b")

    async def balanced() -> bool:
        counts = list(owners(await first.storage.list_partition_leases()).values())
        return counts.count("host-a") == 2 and counts.count("host-b") == 2

    await eventually(balanced, timeout=30, what="two hosts owning two queues each")
    assert len(first.orchestrations.owned_partitions) == 2
    assert len(second.orchestrations.owned_partitions) == 2
    assert not first.orchestrations.owned_partitions & second.orchestrations.owned_partitions

    ids = [await start(first, "chain", n) for n in range(12)]
    outputs = [(await finish(second, i)).output for i in ids]
    assert outputs == [str(n * 8) for n in range(12)]
    assert first.orchestrations.episodes_run > 0 and second.orchestrations.episodes_run > 0


async def test_a_stopped_hosts_queues_move_to_the_survivor(make_engine: MakeEngine) -> None:
    first = await make_engine("host-a")
    second = await make_engine("host-b")

    async def split() -> bool:
        return len(second.orchestrations.owned_partitions) == 2

    await eventually(split, timeout=30, what="the second host to take two queues")
    await second.stop()

    async def survivor_owns_all() -> bool:
        leases = await first.storage.list_partition_leases()
        return set(owners(leases).values()) == {"host-a"}

    await eventually(survivor_owns_all, timeout=30, what="the survivor to own every queue")
    assert first.orchestrations.owned_partitions == {0, 1, 2, 3}
    ids = [await start(first, "chain", n) for n in range(4)]
    assert [(await finish(first, i)).output for i in ids] == [str(n * 8) for n in range(4)]
