"""The host's warnings during a bench run, for docs/performance.md: each distinct message once,
with its count and first time, and what the kinds seen so far meant."""

from __future__ import annotations

from typing import Any

__all__ = ["warnings_section"]

R = dict[str, Any]


def warnings_section(r: R) -> list[str]:
    records = r.get("host_warnings") or []
    if not records:
        return ["None: the host logged no warning."]
    # Same message, many instances: show each distinct message once, with its count.
    distinct: dict[str, tuple[str, int]] = {}
    for line in records:
        at, _, message = line.partition(" s ")
        key = " ".join(w for w in message.split() if not _looks_like_id(w))
        first, count = distinct.get(key, (at, 0))
        distinct[key] = (first, count + 1)
    shown = [f"    {count:4} x from {first} s: {key}" for key, (first, count) in distinct.items()]
    more: list[str] = []
    notes = []
    if any("Reporting activity" in line for line in records):
        notes += [
            "",
            "'Reporting activity ... failed; it will run again': in the runs examined, the "
            "delete of the activity's work item met 404 MessageNotFound (a stale pop "
            "receipt), so the activity's result is reported again: the host's at-least-once "
            "path, seen here only under saturation, with the stall that follows.",
        ]
    if any("Finishing a checkpoint" in line for line in records):
        notes += [
            "",
            "'Finishing a checkpoint ... failed': in the runs examined, after a stall the "
            "delete of a control-queue message met 404 MessageNotFound (its pop receipt had "
            "gone stale); the history was already written, so the next checkpoint repairs the "
            "status and the message's copy is dropped as a duplicate.",
        ]
    if any("could not be renewed" in line for line in records):
        notes += [
            "",
            "A lease that could not be renewed in time means a renewal (every 10 s, 30 s "
            "leases) did not get an answer in time. Lease renewals have their own connection "
            "pool, so they no longer queue behind the workload; what remains is in-memory "
            "Azurite stalling every request at once for seconds to minutes when it holds the "
            "data of the heavy workloads (timed outside this suite: a lease query and a queue "
            "receive both waiting 12 s together, about 50 s after two 1,000-activity fan-outs). "
            "The host then releases its control queues and claims them again at the next "
            "pass. Medians keep such a run from setting a figure; the idle workload runs "
            "first, before Azurite holds that data.",
        ]
    return [
        f"{len(records)} warning(s), times from the start of the run:",
        "",
        *shown,
        *more,
        *notes,
    ]


def _looks_like_id(word: str) -> bool:
    bare = word.strip("'\";:,.")
    return len(bare) >= 16 and sum(c.isdigit() for c in bare) >= 4
