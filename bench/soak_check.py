"""The soak's checker: what storage holds at the end, judged against the model alone.

- lost: a start that was acknowledged and has no Instances row (and was not purged), or an
  entity whose state lacks operations that were acknowledged;
- wrong: a final status, output or custom status other than the model's; an entity state
  with more than the acknowledged operations could add (an operation applied twice); a
  history with gaps, a task, timer or child scheduled twice or answered twice; a purged
  instance still there; a scheduled activity that never ran; a message in the poison queue;
- stuck: an instance not finished at the deadline, or messages left in a queue.

Duplicate activity runs (the ledger holds a key more often than its plan needs) are counted,
not failed: activities are at-least-once.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from azure.data.tables.aio import TableClient

from bench.soak_workload import Plan, Signal
from durable_host.taskhub.events import OrchestrationStatus
from tests.reliability._crash_harness import HubClient, history_problems, read_ledger


@dataclass
class Finding:
    what: str  # lost, wrong, stuck
    instance_id: str
    detail: str
    window: tuple[float, float] | None = None  # when it ran, to find the faults around it


@dataclass
class CheckResult:
    instances: int = 0
    findings: list[Finding] = field(default_factory=list)
    activity_runs: int = 0
    duplicate_runs: int = 0
    unplanned_keys: int = 0
    entity_states: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    slow_alternatives: int = 0

    def count(self, what: str) -> int:
        return sum(1 for f in self.findings if f.what == what)


async def check(
    hub: HubClient, plans: list[Plan], signals: list[tuple[Signal, bool]], ledger: Path
) -> CheckResult:
    result = CheckResult(instances=len(plans))
    slots = asyncio.Semaphore(16)
    async with TableClient.from_connection_string(
        hub.connection_string, hub.names.history_table
    ) as history:
        await asyncio.gather(*(_check_plan(hub, history, plan, result, slots) for plan in plans))
    await _check_entities(hub, plans, signals, result)
    _check_ledger(plans, read_ledger(ledger), result)
    result.queues = await hub.drained()
    for queue, length in result.queues.items():
        if length and queue.endswith("-poison"):
            result.findings.append(Finding("wrong", queue, f"{length} poison message(s)"))
        elif length:
            result.findings.append(Finding("stuck", queue, f"{length} message(s) left"))
    return result


def _window(plan: Plan) -> tuple[float, float] | None:
    if plan.acked_at is None:
        return None
    return (plan.acked_at, plan.finished_at if plan.finished_at is not None else plan.acked_at)


async def _check_plan(
    hub: HubClient, history: TableClient, plan: Plan, result: CheckResult, slots: asyncio.Semaphore
) -> None:
    def find(what: str, detail: str) -> None:
        result.findings.append(Finding(what, plan.instance_id, detail, _window(plan)))

    for note in plan.notes:
        if note.startswith("unexpected answer: "):
            find("wrong", note)
    async with slots:
        record = await hub.storage.get_instance(plan.instance_id)
        if plan.purged:
            if record is not None:
                find("wrong", f"purged, but its row is still there ({record.runtime_status.name})")
            return
        if record is None:
            find("lost", "acknowledged, but no Instances row")
            return
        status = record.runtime_status
        result.by_status[status.name] = result.by_status.get(status.name, 0) + 1
        if not status.is_terminal:
            find("stuck", f"{status.name} at the deadline")
            return
        if status.name != plan.expected_status:
            find("wrong", f"{status.name}, expected {plan.expected_status}; output {record.output}")
            return
        output = _json_or_text(record.output)
        if plan.check_output and output != plan.expected_output:
            if not _slow_alternative(plan, output):
                find("wrong", f"output {_short(output)}, expected {_short(plan.expected_output)}")
                return
            result.slow_alternatives += 1
            if plan.kind == "soak_event":
                plan.keys = {}  # the timeout won: the activity after the event never ran
        if plan.custom_status is not None:
            custom = _json_or_text(record.custom_status)
            if custom != plan.custom_status:
                find("wrong", f"custom status {custom!r}, expected {plan.custom_status!r}")
        if plan.history_check and status == OrchestrationStatus.Completed:
            rows = [
                dict(r)
                async for r in history.query_entities(f"PartitionKey eq '{plan.instance_id}'")
            ]
            problems, _ = history_problems(rows, record.execution_id or "", None)
            for problem in problems:
                find("wrong", f"history: {problem}")


def _slow_alternative(plan: Plan, output: Any) -> bool:
    """A raced timer may win when the instance took longer than the timer."""
    if plan.slow_alternative is None or plan.acked_at is None or plan.finished_at is None:
        return False
    seconds, alternative = plan.slow_alternative
    return output == alternative and plan.finished_at - plan.acked_at >= seconds


async def _check_entities(
    hub: HubClient, plans: list[Plan], signals: list[tuple[Signal, bool]], result: CheckResult
) -> None:
    certain: dict[str, int] = {}
    maybe: dict[str, list[int]] = {}
    for plan in plans:
        if plan.entity_key is not None and plan.acked_at is not None:
            certain[plan.entity_key] = certain.get(plan.entity_key, 0) + sum(plan.entity_adds)
    for signal, acknowledged in signals:
        if acknowledged:
            certain[signal.entity_key] = certain.get(signal.entity_key, 0) + signal.amount
        else:
            maybe.setdefault(signal.entity_key, []).append(signal.amount)
    for key in sorted(set(certain) | set(maybe)):
        found = await hub.client.read_entity("counter", key)
        state = json.loads(found.state) if found is not None and found.state else 0
        base = certain.get(key, 0)
        extra = _subset_sums(maybe.get(key, []))
        result.entity_states[key] = {"state": state, "expected": base, "maybe": maybe.get(key, [])}
        if state - base in extra:
            continue
        what = "lost" if state < base else "wrong"
        result.findings.append(
            Finding(
                what,
                f"@counter@{key}",
                f"state {state}, expected {base} (+ any of {maybe.get(key, [])})",
            )
        )


def _subset_sums(values: list[int]) -> set[int]:
    if len(values) > 14:  # too many to enumerate: any total in range
        return set(range(sum(values) + 1))
    return {sum(c) for r in range(len(values) + 1) for c in combinations(values, r)}


def _check_ledger(plans: list[Plan], runs: dict[str, int], result: CheckResult) -> None:
    expected: dict[str, int] = {}
    for plan in plans:
        if plan.acked_at is not None:
            expected.update(plan.keys)
    result.activity_runs = sum(runs.values())
    for key, needed in expected.items():
        if runs.get(key, 0) == 0:
            owner = key.split("/", 1)[0]
            result.findings.append(Finding("wrong", owner, f"activity {key} never ran"))
        result.duplicate_runs += max(0, runs.get(key, 0) - needed)
    result.unplanned_keys = len(set(runs) - set(expected))


def _json_or_text(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # a terminate's reason is stored as plain text


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."
