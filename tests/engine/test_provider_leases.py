"""Partition leases shared with the provider's table partition manager (issue 27, item 6):
rows written as its TablePartitionManager writes them (Partitioning/TablePartitionManager.cs
at Azure/durabletask 5217032), and what we leave in the table checked against its
TryClaimLease rule (tests/provider_reader.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from durable_host.engine.dispatch.partition_manager import PartitionManager
from durable_host.taskhub.lease_table import PartitionLease
from durable_host.taskhub.storage import TaskHubStorage
from tests.provider_reader import provider_may_claim

OURS = "durable-host"
THEIRS = "provider-worker"
THIRD = "another-worker"


class Watch:
    """The manager's acquire/release callbacks; a release records the queue's row as it is
    while the queue drains."""

    def __init__(self, storage: TaskHubStorage) -> None:
        self.storage = storage
        self.acquired: set[int] = set()
        self.rows_while_draining: list[PartitionLease] = []

    def acquire(self, partition: int) -> None:
        self.acquired.add(partition)

    async def release(self, partition: int) -> None:
        self.acquired.discard(partition)
        self.rows_while_draining.append(await lease_of(self.storage, partition))


async def lease_of(storage: TaskHubStorage, partition: int) -> PartitionLease:
    leases = await storage.list_partition_leases()
    return next(lease for lease in leases if lease.queue == storage.names.control_queue(partition))


def manager(storage: TaskHubStorage, watch: Watch) -> PartitionManager:
    return PartitionManager(
        storage=storage,
        worker_id=OURS,
        partition_of_queue=storage.names.control_queues.index,
        acquire=watch.acquire,
        release=watch.release,
        lease_duration=30,
        renew_interval=10,
    )


async def test_a_queue_asked_for_is_handed_to_the_asker_only(hub_storage: TaskHubStorage) -> None:
    watch = Watch(hub_storage)
    ours = manager(hub_storage, watch)
    await ours.balance_once()
    assert watch.acquired == {0, 1, 2, 3}
    # The provider's worker asks for queue 0: StealLease sets NextOwner (739-742, 663-670).
    asked = (await lease_of(hub_storage, 0)).with_changes(next_owner=THEIRS)
    await hub_storage.replace_partition_lease(asked)
    await ours.balance_once()
    # Drained as RenewOrReleaseMyLease does (505-515, 719-725): IsDraining, still renewed.
    [draining] = watch.rows_while_draining
    now = datetime.now(timezone.utc)
    assert draining.is_draining and draining.current_owner == OURS
    assert draining.expires_at is not None and draining.expires_at > now
    # Released as ReleaseLease (727-731): owner and flag cleared, NextOwner and ExpiresAt kept.
    released = await lease_of(hub_storage, 0)
    assert (released.current_owner, released.next_owner, released.is_draining) == (
        None,
        THEIRS,
        False,
    )
    assert provider_may_claim(released, THEIRS, now)
    assert not provider_may_claim(released, THIRD, now)
    assert watch.acquired == {1, 2, 3}
    await ours.stop()


async def test_a_provider_worker_shutting_down_hands_its_queue_to_us(
    hub_storage: TaskHubStorage,
) -> None:
    watch = Watch(hub_storage)
    ours = manager(hub_storage, watch)
    now = datetime.now(timezone.utc)
    # The provider's worker owns queue 2 and is shutting down: TryDrainAndReleaseAllPartitions
    # marks it draining and renews it (571-599, 719-725, 733-737).
    shutting = (await lease_of(hub_storage, 2)).with_changes(
        current_owner=THEIRS,
        owned_since=now,
        last_renewal=now,
        expires_at=now + timedelta(seconds=30),
        is_draining=True,
    )
    await hub_storage.replace_partition_lease(shutting)
    await ours.balance_once()
    # CheckOtherWorkersLeases (528-566): a draining row nobody asked for is asked for.
    assert (await lease_of(hub_storage, 2)).next_owner == OURS
    assert 2 not in watch.acquired
    drained = await lease_of(hub_storage, 2)
    await hub_storage.replace_partition_lease(
        drained.with_changes(current_owner=None, is_draining=False)
    )
    await ours.balance_once()
    assert watch.acquired == {0, 1, 2, 3}
    assert (await lease_of(hub_storage, 2)).current_owner == OURS
    await ours.stop()


async def test_stopping_drains_then_frees_every_row(hub_storage: TaskHubStorage) -> None:
    watch = Watch(hub_storage)
    ours = manager(hub_storage, watch)
    await ours.balance_once()
    await ours.stop()
    assert len(watch.rows_while_draining) == 4
    assert all(row.is_draining for row in watch.rows_while_draining)
    now = datetime.now(timezone.utc)
    leases = await hub_storage.list_partition_leases()
    assert len(leases) == 4
    for lease in leases:
        assert (lease.current_owner, lease.is_draining) == (None, False)
        assert provider_may_claim(lease, THIRD, now)
