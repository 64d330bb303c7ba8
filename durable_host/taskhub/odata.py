"""OData filter text for queries of the Instances table: quoting, time literals, key ranges.

Values are quoted as OData string literals (a quote doubled), so an instance id or name
with a quote in it cannot end the literal. A prefix on PartitionKey is matched on the
escaped key (key_escaping.py), as the rows are stored. A prefix becomes a range,
`ge prefix and lt prefix+1`, because Table storage has no `startswith` filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.key_escaping import escape_partition_key

__all__ = ["datetime_literal", "instances_filter", "prefix_range", "string_literal"]


def string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def datetime_literal(value: datetime) -> str:
    utc = value.astimezone(timezone.utc) if value.tzinfo is not None else value
    return "datetime'" + utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


def prefix_range(column: str, prefix: str) -> str:
    """Rows whose `column` starts with `prefix` (not empty)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return f"{column} ge {string_literal(prefix)} and {column} lt {string_literal(upper)}"


def instances_filter(
    *,
    statuses: Iterable[OrchestrationStatus] = (),
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    instance_id_prefix: str | None = None,
    name_prefix: str | None = None,
    updated_from: datetime | None = None,
    updated_to: datetime | None = None,
    orchestrations_only: bool = False,
) -> str | None:
    """The filter for rows matching every given condition (None: no condition)."""
    clauses: list[str] = []
    if statuses:
        either = " or ".join(
            f"RuntimeStatus eq {string_literal(s.name)}" for s in sorted(statuses, key=str)
        )
        clauses.append(f"({either})")
    if created_from is not None:
        clauses.append(f"CreatedTime ge {datetime_literal(created_from)}")
    if created_to is not None:
        clauses.append(f"CreatedTime le {datetime_literal(created_to)}")
    if instance_id_prefix:
        clauses.append(prefix_range("PartitionKey", escape_partition_key(instance_id_prefix)))
    if name_prefix:
        clauses.append(prefix_range("Name", name_prefix))
    if updated_from is not None:
        clauses.append(f"LastUpdatedTime ge {datetime_literal(updated_from)}")
    if updated_to is not None:
        clauses.append(f"LastUpdatedTime le {datetime_literal(updated_to)}")
    if orchestrations_only:
        # Entity ids are '@name@key', and sort between '@' and 'A'.
        clauses.append("(PartitionKey lt '@' or PartitionKey ge 'A')")
    return " and ".join(clauses) or None
