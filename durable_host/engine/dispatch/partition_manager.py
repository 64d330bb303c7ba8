"""Partition leases: which host processes which control queue (the v3 table partition manager).

Every `renew_interval` each host reads `<hub>Partitions` and, with ETag-guarded writes:
renews what it owns; claims rows that are free or expired; and, when it owns fewer than
its fair share while another host owns more, sets itself as NextOwner of one of that
host's rows. An owner that sees another NextOwner marks the row draining, drains the queue
(finishes its running episodes, puts back the rest) and clears CurrentOwner, leaving
NextOwner and ExpiresAt, so only the thief may claim it; a host that stops does the same
for all its rows, and others ask for a row whose owner drains it unasked (as the provider's
TablePartitionManager: docs/task-hub-layout.md §8.6). A host that cannot renew
stops processing before its lease expires. The history sentinel's ETag check remains the
last line of defence against two hosts running one instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from durable_host.errors import CheckpointConflictError, StorageError
from durable_host.taskhub.lease_table import PartitionLease
from durable_host.taskhub.storage import TaskHubStorage

log = logging.getLogger("durable_host.partitions")

# Seconds before another lease pass when one failed (storage unreachable or stalled).
_RETRY_AFTER_FAILED_PASS = 0.5


class PartitionManager:
    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        worker_id: str,
        partition_of_queue: Callable[[str], int],
        acquire: Callable[[int], None],
        release: Callable[[int], Awaitable[None]],
        lease_duration: float = 30.0,
        renew_interval: float = 10.0,
    ) -> None:
        self._storage = storage
        self.worker_id = worker_id
        self._partition_of_queue = partition_of_queue
        self._acquire = acquire
        self._release = release
        self._lease = timedelta(seconds=lease_duration)
        self._interval = renew_interval
        # Stop processing this long before the lease lapses (another host may claim it then).
        self._safety_margin = timedelta(seconds=min(renew_interval / 2, 2.0))
        self._owned: dict[str, datetime] = {}  # queue -> when our lease expires
        # Queues being let go while the lease is still ours (a hand-over, a stop): their
        # running episodes may still write until it expires.
        self._releasing: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def owned_queues(self) -> set[str]:
        return set(self._owned)

    def holds(self, partition: int) -> bool:
        """Whether this host's lease on the partition runs on past the safety margin.

        Asked right before effects that a later owner could not undo (an entity's replies,
        an orchestration's checkpoint): the renewal loop may be stuck in a stalled request
        while the lease runs out. A queue being let go counts until its lease would expire.
        """
        now = _now()
        return any(
            self._partition_of_queue(queue) == partition and expires - now > self._safety_margin
            for queue, expires in (*self._owned.items(), *self._releasing.items())
        )

    async def start(self) -> None:
        """Take a first pass (so a lone host owns every queue at once), then keep going."""
        await self.balance_once()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop renewing; drain and release every queue as the provider does (its row is then
        free for any host)."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # TryDrainAndReleaseAllPartitions (TablePartitionManager.cs 571-599): each owned row
        # is marked draining, its queue finished, then released.
        owned = set(self._owned)
        try:
            leases = [lease for lease in await self._list() if lease.queue in owned]
        except (StorageError, TimeoutError) as exc:
            log.debug("Reading the leases to release failed (they expire anyway): %s", exc)
            leases = []
        mine = [lease for lease in leases if lease.current_owner == self.worker_id]
        results = await asyncio.gather(
            *(self._drain_and_release(lease, _now()) for lease in mine), return_exceptions=True
        )
        for lease, result in zip(mine, results, strict=True):
            if isinstance(result, Exception):
                log.debug("Releasing %s failed (it expires anyway): %s", lease.queue, result)
        for queue in list(self._owned):
            await self._give_up(queue)

    async def _run(self) -> None:
        delay = self._interval
        while not self._stopping.is_set():
            await asyncio.sleep(delay)
            try:
                # Once storage answers again after a failed pass, the next pass (soon, not a
                # full interval later) renews or re-claims the leases at once.
                await self.balance_once()
                delay = self._interval
            except Exception as exc:
                log.warning("Partition lease pass failed (%s); retrying shortly", _describe(exc))
                delay = min(self._interval, _RETRY_AFTER_FAILED_PASS)
            await self._drop_expired()

    async def balance_once(self) -> None:
        """One pass over the table, read once as the provider's ReadAndWriteTableAsync does:
        the balance is judged on the rows as this pass left them (each write answers with
        the row written); only a write that lost to another worker's has the table read again."""
        now = _now()
        after: list[PartitionLease] = []
        lost_a_race = False
        for lease in await self._list():
            if lease.current_owner == self.worker_id:
                written = await self._keep_or_hand_over(lease, now)
            elif lease.current_owner is None or lease.is_expired(now):
                written = await self._try_claim(lease, now)
            elif lease.is_draining and lease.next_owner is None:
                written = await self._take_from_draining_owner(lease)
            else:
                written = lease
            if written is None:
                lost_a_race = True
            else:
                after.append(written)
        if lost_a_race:
            after = await self._list()
        await self._steal_if_unbalanced(after, _now())

    # A stalled storage must not hold a pass past the point where an owned lease has to be
    # dropped, so a lease request may take until then (at least one renew interval). Only
    # the requests are timed: a release (which drains the queue's episodes) is never cut short.
    def _request_timeout(self) -> float:
        if not self._owned:
            return max(self._lease.total_seconds(), self._interval)
        until_drop = min(self._owned.values()) - self._safety_margin - _now()
        return max(until_drop.total_seconds(), self._interval)

    async def _list(self) -> list[PartitionLease]:
        return await asyncio.wait_for(
            self._storage.list_partition_leases(), timeout=self._request_timeout()
        )

    async def _replace(self, lease: PartitionLease) -> PartitionLease:
        return await asyncio.wait_for(
            self._storage.replace_partition_lease(lease), timeout=self._request_timeout()
        )

    async def _keep_or_hand_over(
        self, lease: PartitionLease, now: datetime
    ) -> PartitionLease | None:
        """The row as written (None: another worker wrote it first)."""
        if lease.next_owner and lease.next_owner != self.worker_id:
            log.info("Handing %s over to %s", lease.queue, lease.next_owner)
            return await self._drain_and_release(lease, now)
        renewed = lease.with_changes(last_renewal=now, expires_at=now + self._lease)
        try:
            written = await self._replace(renewed)
        except CheckpointConflictError:
            log.warning("Lost the lease of %s to another worker", lease.queue)
            await self._give_up(lease.queue, lost=True)
            return None
        self._owned[lease.queue] = now + self._lease
        self._acquire(self._partition_of_queue(lease.queue))
        return written

    async def _drain_and_release(
        self, lease: PartitionLease, now: datetime
    ) -> PartitionLease | None:
        """Hand a queue on as the provider does (TablePartitionManager.cs 505-515, 719-731,
        821-860): mark the row draining and renew it, finish the queue's work, then clear
        the owner and the flag and nothing else. NextOwner and ExpiresAt stay, so only the
        worker named NextOwner may claim the row (or anyone, once nobody is named)."""
        try:
            draining = await self._replace(
                lease.with_changes(is_draining=True, last_renewal=now, expires_at=now + self._lease)
            )
        except CheckpointConflictError:
            draining = None
        if draining is not None and lease.queue in self._owned:
            # Renewed for the drain: its episodes may write until then (holds).
            self._owned[lease.queue] = now + self._lease
        await self._give_up(lease.queue, lost=draining is None)
        if draining is None:
            return None
        try:
            return await self._replace(draining.with_changes(current_owner=None, is_draining=False))
        except CheckpointConflictError:
            return None

    async def _try_claim(self, lease: PartitionLease, now: datetime) -> PartitionLease | None:
        # TryClaimLease (TablePartitionManager.cs 464-479): a row nobody owns or is handed
        # to, an expired one, or one handed to this worker.
        free = lease.current_owner is None and lease.next_owner in (None, self.worker_id)
        if not free and not lease.is_expired(now):
            return lease
        claimed = lease.with_changes(
            current_owner=self.worker_id,
            next_owner=None,
            owned_since=now,
            last_renewal=now,
            expires_at=now + self._lease,
            is_draining=False,
        )
        try:
            written = await self._replace(claimed)
        except CheckpointConflictError:
            return None  # another worker claimed it first
        log.info("Claimed %s", lease.queue)
        self._owned[lease.queue] = now + self._lease
        self._acquire(self._partition_of_queue(lease.queue))
        return written

    async def _take_from_draining_owner(self, lease: PartitionLease) -> PartitionLease | None:
        # CheckOtherWorkersLeases (TablePartitionManager.cs 528-566): an owner that drains a
        # queue nobody asked for is shutting down; ask for the queue at once.
        try:
            written = await self._replace(lease.with_changes(next_owner=self.worker_id))
        except CheckpointConflictError:
            return None
        log.info("Asked %s (shutting down) for %s", lease.current_owner, lease.queue)
        return written

    async def _steal_if_unbalanced(self, leases: list[PartitionLease], now: datetime) -> None:
        live = [lease for lease in leases if lease.current_owner and not lease.is_expired(now)]
        counts = Counter(lease.current_owner for lease in live)
        counts.setdefault(self.worker_id, 0)
        fair = len(leases) // len(counts)
        mine = counts[self.worker_id]
        if mine >= fair or any(lease.next_owner == self.worker_id for lease in leases):
            return
        richest, owned = counts.most_common(1)[0]
        if richest == self.worker_id or owned <= fair:
            return
        for lease in live:
            if lease.current_owner == richest and not lease.next_owner:
                with contextlib.suppress(CheckpointConflictError):
                    await self._replace(lease.with_changes(next_owner=self.worker_id))
                    log.info("Asked %s for %s", richest, lease.queue)
                return

    async def _drop_expired(self) -> None:
        """Never process a queue past our lease: stop before another host may claim it."""
        now = _now()
        expired = [q for q, expires in self._owned.items() if expires - now < self._safety_margin]
        for queue in expired:
            log.warning("Lease of %s could not be renewed in time; releasing it", queue)
        # All at once: a release waits for the queue's running episodes, which a stalled
        # storage holds up, and no other queue may go on past its lease meanwhile.
        results = await asyncio.gather(
            *(self._give_up(queue) for queue in expired), return_exceptions=True
        )
        for queue, result in zip(expired, results, strict=True):
            if isinstance(result, Exception):
                log.error("Releasing %s failed: %s", queue, result)

    async def _give_up(self, queue: str, *, lost: bool = False) -> None:
        expires = self._owned.pop(queue, None)
        if expires is not None and not lost:
            self._releasing[queue] = expires
        try:
            await self._release(self._partition_of_queue(queue))
        finally:
            self._releasing.pop(queue, None)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "storage did not answer in time"
    return f"{type(exc).__name__}: {exc}"
