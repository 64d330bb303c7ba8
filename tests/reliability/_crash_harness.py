"""The crash and load harness: host processes on one task hub, a client on the same hub, and
checks that read storage directly (Instances, History rows, queues, partition leases).

Hosts are real `python -m durable_host start` processes on tests/apps/reliability, killed with
SIGKILL: nothing in them gets a chance to clean up, as in a power cut.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.data.tables.aio import TableClient

from durable_host.engine.client.engine_client import EngineClient
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from tests.e2e.host_process import HostProcess

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "reliability"
LEDGER_SETTING = "DURABLE_HOST_TEST_LEDGER"
PARTITIONS = 4
LEASE_SECONDS = 4  # tests/apps/reliability/host.json
# Set (to anything) to start the hosts with --verbose: their episode lines, with instance ids,
# then go into the host logs a failing run saves (bench/crash_runs.py sets it).
VERBOSE_SETTING = "DURABLE_HOST_CRASH_VERBOSE"


class WorkloadHost(HostProcess):
    """A host process with the ledger path (and any extra settings) in its environment."""

    def __init__(self, *, storage: str, hub_name: str, env: Mapping[str, str]) -> None:
        super().__init__(APP_DIR, storage=storage, hub_name=hub_name)
        self._extra = dict(env)
        if os.environ.get(VERBOSE_SETTING):
            self.start_options = ("--verbose",)

    def environment(self) -> Mapping[str, str]:
        return {**super().environment(), **self._extra}

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no drain, no lease release, no message put back."""
        self.process.kill()
        self.process.wait(timeout=30)
        self._close_output()

    def alive(self) -> bool:
        return self.process.poll() is None


class Fleet:
    """The hosts sharing one task hub; every host started is stopped (or killed) at the end."""

    def __init__(self, storage: str, hub_name: str, env: Mapping[str, str]) -> None:
        self.storage = storage
        self.hub_name = hub_name
        self.env = dict(env)
        self.hosts: list[WorkloadHost] = []
        self.retired: list[WorkloadHost] = []

    async def start_host(self) -> WorkloadHost:
        host = WorkloadHost(storage=self.storage, hub_name=self.hub_name, env=self.env)
        await asyncio.to_thread(host.start)
        self.hosts.append(host)
        return host

    def kill(self, host: WorkloadHost) -> None:
        host.kill()
        self.hosts.remove(host)
        self.retired.append(host)

    async def stop_all(self) -> list[int]:
        """SIGTERM every live host (each must drain and exit 0)."""
        codes = []
        for host in list(self.hosts):
            codes.append(await asyncio.to_thread(host.stop))
            self.hosts.remove(host)
            self.retired.append(host)
        return codes

    def output(self) -> str:
        return "\n\n".join(
            f"--- host pid {h.pid} ---\n{h.output}" for h in self.retired + self.hosts
        )

    def count_in_output(self, text: str) -> int:
        return sum(h.output.count(text) for h in self.retired + self.hosts)


class HubClient:
    """Starts and inspects instances from outside any host, through storage only."""

    def __init__(self, connection_string: str, hub_name: str) -> None:
        self.connection_string = connection_string
        self.names = TaskHubNames(hub_name, PARTITIONS)
        self.storage = TaskHubStorage(connection_string, self.names)
        self.client = EngineClient.standalone(self.storage)

    async def __aenter__(self) -> HubClient:
        await self.storage.create_if_not_exists()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.storage.delete_task_hub()
        finally:
            await self.storage.close()

    async def start(self, name: str, instance_id: str, value: Any) -> None:
        # The Input text the SDK client's start_new produces (JSON of the JSON).
        await self.client.start_new(name, instance_id, json.dumps(json.dumps(value)))

    async def statuses(self) -> dict[str, OrchestrationStatus]:
        found: dict[str, OrchestrationStatus] = {}
        token: str | None = None
        while True:
            records, token = await self.storage.query_instances(top=1000, continuation_token=token)
            for record in records:
                found[record.instance_id] = record.runtime_status
            if token is None:
                return found

    async def live_owner_pids(self) -> list[int | None]:
        """The pid of each partition's current (unexpired) owner, None where there is none."""
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc)
        pids: list[int | None] = []
        for lease in await self.storage.list_partition_leases():
            if lease.current_owner is None or lease.is_expired(now):
                pids.append(None)
            else:
                # default_worker_id(): "<host name>-<pid>-<random>"
                pids.append(int(lease.current_owner.rsplit("-", 2)[-2]))
        return pids

    async def describe(self, instance_id: str) -> str:
        """An instance's history in one line, for failure messages."""
        loaded = await self.storage.load_history(instance_id)
        events = ", ".join(
            type(e).__name__
            + (f"#{e.event_id}" if e.event_id >= 0 else "")
            + (
                f"->{getattr(e, 'task_scheduled_id', '')}"
                if hasattr(e, "task_scheduled_id")
                else ""
            )
            for e in loaded.events
        )
        return f"{instance_id}: [{events}]"

    async def drained(self) -> dict[str, int]:
        return await self.storage.queue_lengths()

    async def wait_drained(self, timeout: float) -> tuple[dict[str, int], float]:
        """Poll the queue lengths (invisible messages included) until every queue is empty or
        `timeout` passes; the last lengths and the seconds waited.

        A host deletes an episode's messages after it writes the Instances row, so a final
        status shows up a moment before the queues empty: how long that moment lasts depends
        on the machine's load, never a fixed sleep. A message that stays (a duplicate hidden
        until its visibility timeout, or one nobody consumes) outlasts any `timeout` shorter
        than that visibility timeout."""
        began = time.monotonic()
        deadline = began + timeout
        while True:
            lengths = await self.drained()
            if not any(lengths.values()) or time.monotonic() >= deadline:
                return lengths, round(time.monotonic() - began, 1)
            await asyncio.sleep(0.25)


async def wait_until(
    probe: Callable[[], Awaitable[Any]], *, timeout: float, what: str, every: float = 0.25
) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


# --------------------------------------------------------------------------- the workload


@dataclass(frozen=True)
class Planned:
    """One top-level instance: what to start, what it must return, what its activities record."""

    instance_id: str
    orchestrator: str
    value: Any
    expected_output: Any
    ledger_keys: tuple[str, ...]
    children: tuple[str, ...] = ()
    event_value: int | None = None


def plan_workload(count: int, prefix: str) -> list[Planned]:
    """`count` instances cycling through chain, fan-out, timer, event, sub-orchestrations and
    entity calls; the expected outputs follow from the inputs."""
    plans: list[Planned] = []
    for i in range(count):
        iid = f"{prefix}-{i:04d}"
        kind = i % 6
        if kind == 0:
            plans.append(
                Planned(iid, "chain", 3, [0, 2, 4], tuple(f"{iid}/c{k}" for k in range(3)))
            )
        elif kind == 1:
            plans.append(Planned(iid, "fan_out", 6, 30, tuple(f"{iid}/f{k}" for k in range(6))))
        elif kind == 2:
            seconds = 1 + i % 2
            plans.append(Planned(iid, "timer", seconds, 2 * seconds, (f"{iid}/after-timer",)))
        elif kind == 3:
            plans.append(Planned(iid, "event", None, 2 * i, (f"{iid}/after-event",), event_value=i))
        elif kind == 4:
            children = (f"{iid}-s0", f"{iid}-s1")
            keys = tuple(f"{child}/c{k}" for child in children for k in range(2))
            plans.append(Planned(iid, "parent", 2, [[0, 2], [0, 2]], keys, children=children))
        else:
            plans.append(Planned(iid, "counting", 3, [1, 3, 6, 6], ()))
    return plans


@dataclass
class Driver:
    """Starts planned instances and raises their events once they run."""

    hub: HubClient
    started: list[Planned] = field(default_factory=list)
    _raised: set[str] = field(default_factory=set)

    async def submit(self, plans: list[Planned], concurrency: int = 16) -> None:
        slots = asyncio.Semaphore(concurrency)

        async def one(plan: Planned) -> None:
            async with slots:
                await self.hub.start(plan.orchestrator, plan.instance_id, plan.value)

        await asyncio.gather(*(one(p) for p in plans))
        self.started.extend(plans)

    async def raise_due_events(self, statuses: Mapping[str, OrchestrationStatus]) -> None:
        """An event sent before the instance has started would be dropped (as by the real
        provider), so a client raises it once the instance is Running."""
        for plan in self.started:
            if plan.event_value is None or plan.instance_id in self._raised:
                continue
            if statuses.get(plan.instance_id) == OrchestrationStatus.Running:
                await self.hub.client.raise_event(
                    plan.instance_id, "go", json.dumps(plan.event_value)
                )
                self._raised.add(plan.instance_id)

    def all_ids(self) -> list[str]:
        return [i for p in self.started for i in (p.instance_id, *p.children)]


async def run_until_complete(driver: Driver, *, timeout: float) -> dict[str, OrchestrationStatus]:
    """Raise events as instances start; return once every instance (and child) is terminal."""
    ids = driver.all_ids()

    async def probe() -> dict[str, OrchestrationStatus] | None:
        statuses = await driver.hub.statuses()
        await driver.raise_due_events(statuses)
        finished = [i for i in ids if i in statuses and statuses[i].is_terminal]
        return statuses if len(finished) == len(ids) else None

    try:
        result: dict[str, OrchestrationStatus] = await wait_until(
            probe, timeout=timeout, what="every instance to finish", every=0.5
        )
    except AssertionError:
        statuses = await driver.hub.statuses()
        open_ = {
            i: statuses.get(i) for i in ids if i not in statuses or not statuses[i].is_terminal
        }
        details = [await driver.hub.describe(i) for i in list(open_)[:5]]
        raise AssertionError(
            f"{len(open_)} of {len(ids)} instances unfinished after {timeout:g} s: "
            f"{dict(list(open_.items())[:10])}\nqueues: {await driver.hub.drained()}\n"
            f"unfinished: {' '.join(open_)}\n" + "\n".join(details)
        ) from None
    return result


# --------------------------------------------------------------------------- verification


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    history_rows: int = 0
    activity_runs: int = 0
    activity_reruns: int = 0
    rerun_keys: int = 0
    # Event messages are at-least-once into history, as with the provider: a crash after
    # the history write and before the message's delete appends the redelivered copy again.
    # The orchestration takes the first; the output check shows it did.
    duplicate_events: int = 0

    def add(self, problem: str) -> None:
        self.problems.append(problem)


def read_ledger(path: Path) -> Counter[str]:
    runs: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                runs[line.split(" ", 1)[0]] += 1
    return runs


async def verify(hub: HubClient, plans: list[Planned], ledger: Path) -> Verdict:
    """Every instance Completed with its output, its history whole, every activity run."""
    verdict = Verdict()
    slots = asyncio.Semaphore(16)
    async with TableClient.from_connection_string(
        hub.connection_string, hub.names.history_table
    ) as history:

        async def check(instance_id: str, plan: Planned | None) -> None:
            async with slots:
                record = await hub.storage.get_instance(instance_id)
                if record is None:
                    verdict.add(f"{instance_id}: no Instances row")
                    return
                if record.runtime_status != OrchestrationStatus.Completed:
                    verdict.add(
                        f"{instance_id}: {record.runtime_status.name}, output {record.output}"
                    )
                    return
                if plan is not None:
                    output = json.loads(record.output) if record.output else None
                    if output != plan.expected_output:
                        verdict.add(
                            f"{instance_id}: output {output!r}, expected {plan.expected_output!r}"
                        )
                rows = [
                    dict(r)
                    async for r in history.query_entities(f"PartitionKey eq '{instance_id}'")
                ]
            verdict.history_rows += len(rows)
            problems, duplicates = history_problems(rows, record.execution_id or "", plan)
            verdict.duplicate_events += duplicates
            for problem in problems:
                verdict.add(f"{instance_id}: {problem}")

        checks = []
        for plan in plans:
            checks.append(check(plan.instance_id, plan))
            checks.extend(check(child, None) for child in plan.children)
        await asyncio.gather(*checks)

    runs = read_ledger(ledger)
    expected = [key for plan in plans for key in plan.ledger_keys]
    missing = [key for key in expected if runs[key] == 0]
    if missing:
        verdict.add(f"{len(missing)} activities never ran, e.g. {missing[:5]}")
    unexpected = set(runs) - set(expected)
    if unexpected:
        verdict.add(f"ledger has keys no plan expects: {sorted(unexpected)[:5]}")
    verdict.activity_runs = sum(runs.values())
    verdict.activity_reruns = sum(n - 1 for n in runs.values() if n > 1)
    verdict.rerun_keys = sum(1 for n in runs.values() if n > 1)
    return verdict


def history_problems(
    rows: list[dict[str, Any]], execution_id: str, plan: Planned | None
) -> tuple[list[str], int]:
    """Gaps, duplicates and unmatched events in one instance's History rows, and how many
    redelivered event messages the history holds."""
    problems: list[str] = []
    sentinel = [r for r in rows if r["RowKey"] == "sentinel"]
    if len(sentinel) != 1 or sentinel[0].get("ExecutionId") != execution_id:
        problems.append(f"sentinel missing or of another execution: {sentinel}")
    events = sorted(
        (r for r in rows if r["RowKey"] != "sentinel" and r.get("ExecutionId") == execution_id),
        key=lambda r: int(r["RowKey"], 16),
    )
    indexes = [int(r["RowKey"], 16) for r in events]
    if indexes != list(range(len(events))):
        problems.append(f"RowKeys are not 0..{len(events) - 1}: {indexes}")
    kinds = Counter(r["EventType"] for r in events)
    for kind in ("ExecutionStarted", "ExecutionCompleted"):
        if kinds[kind] != 1:
            problems.append(f"{kinds[kind]} {kind} events")

    def ids(kind: str, column: str) -> Counter[int]:
        return Counter(r[column] for r in events if r["EventType"] == kind)

    pairs = (
        (
            ids("TaskScheduled", "EventId"),
            ids("TaskCompleted", "TaskScheduledId") + ids("TaskFailed", "TaskScheduledId"),
            "task",
        ),
        (ids("TimerCreated", "EventId"), ids("TimerFired", "TimerId"), "timer"),
        (
            ids("SubOrchestrationInstanceCreated", "EventId"),
            ids("SubOrchestrationInstanceCompleted", "TaskScheduledId")
            + ids("SubOrchestrationInstanceFailed", "TaskScheduledId"),
            "sub-orchestration",
        ),
    )
    for scheduled, results, what in pairs:
        dup = [k for k, n in scheduled.items() if n > 1]
        if dup:
            problems.append(f"{what} event ids scheduled twice: {dup}")
        if set(scheduled) != set(results) or any(n != 1 for n in results.values()):
            problems.append(
                f"{what} results do not match: scheduled {dict(scheduled)}, results {dict(results)}"
            )
    expected_events = 0
    if plan is not None and plan.orchestrator == "event":
        expected_events = 1
    if plan is not None and plan.orchestrator == "counting":
        expected_events = plan.value + 1
        if kinds["EventSent"] != expected_events:
            problems.append(f"{kinds['EventSent']} EventSent (expected {expected_events})")
    names = Counter(r.get("Name") for r in events if r["EventType"] == "EventRaised")
    if len(names) != expected_events:
        problems.append(f"EventRaised names {dict(names)} (expected {expected_events})")
    return problems, sum(names.values()) - len(names)


# --------------------------------------------------------------------------- memory


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def seeded_rng(env_name: str) -> tuple[random.Random, int]:
    """A seeded RNG; the seed comes from `env_name` when set (to replay a failing run)."""
    seed = int(os.environ.get(env_name) or random.SystemRandom().randrange(1 << 30))
    return random.Random(seed), seed
