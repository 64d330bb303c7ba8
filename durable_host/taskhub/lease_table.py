"""Partition leases in `<hub>Partitions` (the v3 table partition manager's rows) and their I/O.

One row per control queue: PartitionKey "", RowKey = queue name, with CurrentOwner,
NextOwner, OwnedSince, LastRenewal, ExpiresAt and IsDraining. Every write is a Replace
guarded by the row's ETag, so two workers never both believe they won the same change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from durable_host.taskhub.storage_errors import storage_errors

_PARTITION_KEY = ""


@dataclass(frozen=True)
class PartitionLease:
    queue: str
    current_owner: str | None = None
    next_owner: str | None = None
    owned_since: datetime | None = None
    last_renewal: datetime | None = None
    expires_at: datetime | None = None
    is_draining: bool = False
    etag: str | None = None

    def with_changes(self, **changes: Any) -> PartitionLease:
        return replace(self, **changes)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at <= now

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "PartitionKey": _PARTITION_KEY,
            "RowKey": self.queue,
            "IsDraining": self.is_draining,
        }
        for column, value in (
            ("CurrentOwner", self.current_owner),
            ("NextOwner", self.next_owner),
            ("OwnedSince", self.owned_since),
            ("LastRenewal", self.last_renewal),
            ("ExpiresAt", self.expires_at),
        ):
            if value is not None:
                row[column] = value
        return row

    @classmethod
    def from_row(cls, row: Any) -> PartitionLease:
        metadata = getattr(row, "metadata", {}) or {}
        return cls(
            queue=str(row["RowKey"]),
            current_owner=row.get("CurrentOwner") or None,
            next_owner=row.get("NextOwner") or None,
            owned_since=_aware(row.get("OwnedSince")),
            last_renewal=_aware(row.get("LastRenewal")),
            expires_at=_aware(row.get("ExpiresAt")),
            is_draining=bool(row.get("IsDraining", False)),
            etag=metadata.get("etag"),
        )


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class PartitionStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def ensure(self, queues: list[str]) -> None:
        """Create a free row for every queue that has none (concurrent-safe)."""
        for queue in queues:
            with storage_errors(f"create the partition lease row for {queue}"):
                try:
                    await self._table.create_entity(PartitionLease(queue).to_row())
                except ResourceExistsError:
                    pass

    async def list(self) -> list[PartitionLease]:
        with storage_errors("read the partition leases"):
            rows = [
                row
                async for row in self._table.query_entities(
                    "PartitionKey eq ''", results_per_page=100
                )
            ]
        return sorted((PartitionLease.from_row(r) for r in rows), key=lambda lease: lease.queue)

    async def replace(self, lease: PartitionLease) -> PartitionLease:
        """Write `lease` if its row is unchanged since read; CheckpointConflictError otherwise."""
        with storage_errors(f"update the partition lease of {lease.queue}", conflict=True):
            result = await self._table.update_entity(
                lease.to_row(),
                mode=UpdateMode.REPLACE,
                etag=lease.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return lease.with_changes(etag=result.get("etag"))
