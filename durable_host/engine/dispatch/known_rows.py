"""KnownRows: the Instances rows as this host last wrote them, version and content.

Every write of the row writer is conditioned on a version (instance_row.py), so after a write
that succeeded this host knows the row exactly: the record it inserted, or the one it merged
into with the fields it merged. Two readers use that knowledge instead of a table read:

- the writer itself: an episode's merge is conditioned on the version this host wrote last
  (a start's Pending row, or an earlier episode's row) when the session has none of its own;
  a row changed since by anyone else fails that condition and is read;
- a client waiting on an instance this host runs (engine/client/queries.py): it is handed
  the row its end wrote, and skips its first read while the row this host wrote last says
  the instance is still going (its checkpoints wake it; its safety-net polls still read).

Only versions are kept for rows with large texts (their payloads stay out of memory), and
at most `limit` rows, the oldest dropped first: a missing row only means a read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

from durable_host.taskhub.instances import InstanceRecord

__all__ = ["KnownRows"]

# Rows whose input, output and custom status together are longer are kept as a version only.
_KEPT_TEXT_CHARS = 8192
_KEPT_ROWS = 10_000


class _Known(NamedTuple):
    etag: str
    execution_id: str | None
    finished: bool
    record: InstanceRecord | None


class KnownRows:
    def __init__(self, limit: int = _KEPT_ROWS) -> None:
        self._limit = limit
        self._rows: dict[str, _Known] = {}

    def etag(self, instance_id: str, execution_id: str | None) -> str | None:
        """The version this host wrote last of the row, if it was for `execution_id` and
        did not finish it (a finished row is read first: instance_row.py's newer end)."""
        known = self._rows.get(instance_id)
        if known is None or known.execution_id != execution_id or known.finished:
            return None
        return known.etag

    def row(self, instance_id: str) -> InstanceRecord | None:
        """The row as this host wrote it last (None: not known, or kept as a version only)."""
        known = self._rows.get(instance_id)
        return known.record if known is not None else None

    def wrote(self, record: InstanceRecord, etag: str) -> InstanceRecord:
        """`record` is the whole row at version `etag` (inserted, replaced or read)."""
        kept = record if _small(record) else None
        self._rows.pop(record.instance_id, None)
        if len(self._rows) >= self._limit:
            del self._rows[next(iter(self._rows))]
        finished = record.runtime_status.is_terminal
        self._rows[record.instance_id] = _Known(etag, record.execution_id, finished, kept)
        return record

    def merged(
        self, instance_id: str, based_on: str, etag: str, fields: dict[str, Any]
    ) -> InstanceRecord | None:
        """`fields` merged into version `based_on`, which became `etag`: the row now, when
        this host knew the version it was merged into."""
        known = self._rows.pop(instance_id, None)
        if known is None or known.etag != based_on:
            return None
        if known.record is None:
            execution = fields.get("execution_id", known.execution_id)
            status = fields.get("runtime_status")
            finished = known.finished if status is None else status.is_terminal
            self._rows[instance_id] = _Known(etag, execution, finished, None)
            return None
        return self.wrote(dataclasses.replace(known.record, **fields), etag)

    def forget(self, instance_id: str) -> None:
        """The row changed in a way this host does not follow (deleted, merged blind)."""
        self._rows.pop(instance_id, None)

    def forget_where(self, which: Callable[[str], bool]) -> None:
        """Forget the rows of the instances `which` names (a partition this host let go)."""
        for instance_id in [i for i in self._rows if which(i)]:
            del self._rows[instance_id]


def _small(record: InstanceRecord) -> bool:
    texts = (record.input, record.output, record.custom_status)
    return sum(len(t) for t in texts if t is not None) <= _KEPT_TEXT_CHARS
