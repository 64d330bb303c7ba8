"""The instance list's filter (from a query string or a form), its counts and the bulk actions.

Everything goes through the management client: the filter becomes an InstanceQuery,
a bulk action is the client's one-instance action applied to each instance it fits.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from urllib.parse import urlencode

from durable_host.engine.client.api import InstanceQuery, InstanceStatus, ManagementApi
from durable_host.errors import DurableHostError
from durable_host.taskhub.events import OrchestrationStatus

__all__ = [
    "BulkAction",
    "BulkResult",
    "InstanceFilter",
    "StatusCounts",
    "bulk_targets",
    "count_by_status",
    "run_bulk",
]

# Counting reads every matching row; past this many the counts say "at least".
COUNT_LIMIT = 10_000
_SCAN_PAGE = 1000
# Actions on many instances run a few at a time: fast, without flooding the queues.
_BULK_CONCURRENCY = 8

RUNNING_STATES = frozenset(s for s in OrchestrationStatus if not s.is_terminal)


@dataclass(frozen=True)
class InstanceFilter:
    """What the user filters the list by; every field optional."""

    statuses: frozenset[OrchestrationStatus] = frozenset()
    name: str = ""
    id_prefix: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None

    @classmethod
    def parse(cls, values: Mapping[str, str], statuses: Sequence[str]) -> InstanceFilter:
        """From form fields; `statuses` are the checked status names (unknown ones ignored)."""
        chosen = frozenset(
            OrchestrationStatus[s] for s in statuses if s in OrchestrationStatus.__members__
        )
        return cls(
            statuses=chosen,
            name=values.get("name", "").strip(),
            id_prefix=values.get("prefix", "").strip(),
            created_from=_parse_time(values.get("from", "")),
            created_to=_parse_time(values.get("to", "")),
        )

    def query(self, *, with_statuses: bool = True) -> InstanceQuery:
        return InstanceQuery(
            runtime_status=self.statuses if with_statuses else frozenset(),
            created_time_from=self.created_from,
            created_time_to=self.created_to,
            instance_id_prefix=self.id_prefix or None,
            name_prefix=self.name or None,
            orchestrations_only=True,
        )

    def params(self) -> list[tuple[str, str]]:
        """The filter as query-string pairs (links and hidden form fields keep it)."""
        pairs = [("status", s.name) for s in sorted(self.statuses, key=lambda s: s.value)]
        for key, value in (("name", self.name), ("prefix", self.id_prefix)):
            if value:
                pairs.append((key, value))
        for key, when in (("from", self.created_from), ("to", self.created_to)):
            if when is not None:
                pairs.append((key, when.strftime("%Y-%m-%dT%H:%M")))
        return pairs

    def query_string(self, **extra: str) -> str:
        return urlencode(self.params() + [(k, v) for k, v in extra.items() if v])

    @property
    def is_empty(self) -> bool:
        return self == InstanceFilter()

    def with_statuses(self, statuses: frozenset[OrchestrationStatus]) -> InstanceFilter:
        return replace(self, statuses=statuses)


def _parse_time(text: str) -> datetime | None:
    """A datetime-local field's value (taken as UTC), or an ISO 8601 time; else None."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class StatusCounts:
    counts: dict[OrchestrationStatus, int]
    total: int
    complete: bool  # False: the scan stopped at COUNT_LIMIT rows

    def names_by_name(self) -> dict[str, int]:
        """Counts keyed by status name, for the template."""
        return {status.name: count for status, count in self.counts.items()}


async def _scan(client: ManagementApi, query: InstanceQuery, limit: int) -> list[InstanceStatus]:
    found: list[InstanceStatus] = []
    token: str | None = None
    while len(found) < limit:
        page = await client.list_instances(query, top=_SCAN_PAGE, continuation_token=token)
        found.extend(page.instances)
        token = page.continuation_token
        if not token:
            break
    return found[:limit]


async def count_by_status(client: ManagementApi, query: InstanceQuery) -> StatusCounts:
    scanned = await _scan(client, query, COUNT_LIMIT + 1)
    complete = len(scanned) <= COUNT_LIMIT
    counts = Counter(s.runtime_status for s in scanned[:COUNT_LIMIT])
    return StatusCounts(counts=dict(counts), total=sum(counts.values()), complete=complete)


async def count_by_name(client: ManagementApi) -> dict[str, Counter[OrchestrationStatus]]:
    """Orchestration instances per orchestrator name and status (up to COUNT_LIMIT rows)."""
    query = InstanceQuery(orchestrations_only=True)
    by_name: dict[str, Counter[OrchestrationStatus]] = {}
    for status in await _scan(client, query, COUNT_LIMIT):
        by_name.setdefault(status.name.lower(), Counter())[status.runtime_status] += 1
    return by_name


class BulkAction(enum.Enum):
    TERMINATE = "terminate"
    PURGE = "purge"
    REWIND = "rewind"

    def applies_to(self, status: OrchestrationStatus) -> bool:
        if self is BulkAction.TERMINATE:
            return status in RUNNING_STATES
        if self is BulkAction.REWIND:
            return status == OrchestrationStatus.Failed
        # Purging a running instance would orphan its queued messages: finished ones only.
        return status not in RUNNING_STATES


@dataclass(frozen=True)
class BulkResult:
    done: int
    failed: list[str]


async def bulk_targets(
    client: ManagementApi, instance_filter: InstanceFilter, action: BulkAction
) -> list[str]:
    """The ids in the filtered set that `action` applies to."""
    scanned = await _scan(client, instance_filter.query(), COUNT_LIMIT)
    return [s.instance_id for s in scanned if action.applies_to(s.runtime_status)]


async def run_bulk(
    client: ManagementApi, action: BulkAction, instance_ids: Sequence[str], reason: str
) -> BulkResult:
    gate = asyncio.Semaphore(_BULK_CONCURRENCY)
    failed: list[str] = []

    async def one(instance_id: str) -> None:
        async with gate:
            try:
                if action is BulkAction.TERMINATE:
                    await client.terminate(instance_id, reason)
                elif action is BulkAction.REWIND:
                    await client.rewind(instance_id, reason)
                else:
                    await client.purge(instance_id)
            except DurableHostError:
                # Its status changed since it was counted (finished, purged): report, go on.
                failed.append(instance_id)

    await asyncio.gather(*(one(i) for i in instance_ids))
    return BulkResult(done=len(instance_ids) - len(failed), failed=sorted(failed))
