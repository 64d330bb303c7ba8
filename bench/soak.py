"""A chaos soak: mixed work on three hosts sharing one hub while hosts, storage and
connections fail, and every result checked against a model at the end.

Run (the project's venv): .venv/bin/python bench/soak.py --minutes 3 --seed 1
`make soak` runs it and then draws the figures (bench/soak_report.py, in bench/.venv).

A seeded generator (bench/soak_workload.py) draws plans from every pattern; `--workers`
drivers each run one plan at a time through the public surfaces (bench/soak_driver.py),
so the load is a closed loop: when the hosts slow down, so do the starts. A seeded
schedule fires faults of every kind, overlapping (bench/soak_cluster.py). When the time is
up, faults stop, every plan is followed until it ends or the deadline passes, the queues
must drain, and the checker (bench/soak_check.py) judges storage against the model.

The last line is the summary:
`soak seed S, M min: N instances, 0 lost, 0 wrong, 0 stuck, D duplicate activity runs`.
The exit status is 1 when anything was lost, wrong or stuck. The run's data goes to
`--out` (default bench/results/soak-<time>/): soak.json, the host logs, Azurite's data.

The hosts import durable_host from this checkout at each (re)start: do not edit it while a
soak runs (or run from a copy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.soak_check import CheckResult, check  # noqa: E402
from bench.soak_cluster import KINDS, Cluster, plan_faults, run_faults  # noqa: E402
from bench.soak_driver import RESUMED_AGAIN, Driver  # noqa: E402
from bench.soak_workload import Plan, draw, stall  # noqa: E402
from tests.reliability._crash_harness import LEDGER_SETTING, HubClient  # noqa: E402

MARKERS_SETTING = "DURABLE_HOST_TEST_MARKERS"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16, help="plans in flight at once")
    parser.add_argument(
        "--faults-per-kind",
        type=int,
        help="default: about one per kind every 2 minutes, at least 3",
    )
    parser.add_argument(
        "--longest-pause", type=float, help="seconds (default: 120, less for short runs)"
    )
    parser.add_argument("--out", type=Path, help="default: bench/results/soak-<time>")
    parser.add_argument(
        "--keep", action="store_true", help="keep Azurite's data after a passing run"
    )
    return parser.parse_args()


async def soak(args: argparse.Namespace, out: Path) -> int:
    seconds = args.minutes * 60
    work = out / "work"
    # A ledger or markers left by an earlier run with the same --out would pass for this
    # run's (same seed, same instance ids): activities would look re-run, and an instance
    # meant to fail until rewound would find its marker and never fail.
    shutil.rmtree(work, ignore_errors=True)
    markers = work / "markers"
    markers.mkdir(parents=True, exist_ok=True)
    ledger = work / "ledger.txt"
    env = {LEDGER_SETTING: str(ledger), MARKERS_SETTING: str(markers)}
    hub_name = "soak" + uuid.uuid4().hex[:8]
    per_kind = args.faults_per_kind or max(3, round(args.minutes / 2))
    longest_pause = args.longest_pause or min(120.0, max(10.0, seconds / 8))
    import random

    rng = random.Random(args.seed)
    window = (10.0, max(20.0, seconds - 20.0))
    schedule = plan_faults(rng, window, per_kind)
    cluster = Cluster(work, hub_name, env, args.hosts)
    print(
        f"soak seed {args.seed}: {args.minutes:g} min, {args.hosts} hosts, {args.workers} workers, "
        f"{per_kind} faults of each kind (pauses up to {longest_pause:.0f} s); data in {out}",
        flush=True,
    )
    await cluster.start()
    hub = HubClient(cluster.connection_string, hub_name)
    await hub.storage.create_if_not_exists()
    end_at = cluster.began + seconds
    drain = max(120.0, longest_pause + 90.0)
    counter = iter(range(10**9))
    try:
        driver = Driver(
            cluster, hub, markers, deadline=end_at + drain, http_timeout=longest_pause + 60
        )
        async with driver:

            async def worker() -> None:
                while time.monotonic() < end_at:
                    item = draw(args.seed, next(counter), "s")
                    if isinstance(item, Plan):
                        await driver.run(item)
                    else:
                        await driver.signal(item)

            stalls = iter(range(10**6))

            async def block(seconds: float) -> None:
                record = cluster.loop_block_begins(seconds)
                await driver.run(stall(next(stalls), "s", round(seconds, 1)))
                cluster.loop_block_ends(record)

            sampler = asyncio.create_task(_sample(cluster, driver, end_at + drain))
            faults = asyncio.create_task(
                run_faults(
                    cluster,
                    schedule,
                    random.Random(args.seed + 1),
                    longest_pause=longest_pause,
                    block=block,
                )
            )
            await asyncio.gather(*(worker() for _ in range(args.workers)), faults)
            print(
                f"[{cluster.now():7.1f}s] work and faults done; waiting for the queues to drain",
                flush=True,
            )
            await hub.wait_drained(timeout=max(10.0, end_at + drain - time.monotonic()))
            sampler.cancel()
            unfinished = await _never_finished(hub, driver)
            result = await check(hub, driver.plans, driver.signals, ledger)
            await _explain(hub, cluster, result)
            codes = await cluster.stop()
            summary = _summary(args, result)
            _write(out, args, cluster, driver, result, codes, schedule, summary, unfinished)
    finally:
        await hub.storage.close()
        await cluster.stop()
    failed = result.count("lost") + result.count("wrong") + result.count("stuck")
    if any(code != 0 for code in codes):
        print(f"hosts exited with {codes} on SIGTERM (expected 0)")
        failed += 1
    if not failed and not args.keep:
        shutil.rmtree(work / "azurite", ignore_errors=True)
    print(summary, flush=True)
    return 1 if failed else 0


# Plans open this long are listed (once a minute): a plan ends in seconds unless a fault
# holds it, so these are the ones held by a fault, or waiting on the wrong thing.
STALE_SECONDS = 60.0
STALE_LISTED = 20


async def _sample(cluster: Cluster, driver: Driver, until: float) -> None:
    listed_at = time.monotonic()
    while time.monotonic() < until:
        cluster.sample_rss()
        done = len(driver.completions)
        open_plans = [p for p in driver.plans if p.finished_at is None]
        active = [f.kind for f in cluster.faults if f.end is None]
        print(
            f"[{cluster.now():7.1f}s] {done} finished, {len(open_plans)} open, "
            f"faults now: {active or '-'}",
            flush=True,
        )
        if time.monotonic() - listed_at >= STALE_SECONDS:
            listed_at = time.monotonic()
            since = cluster.now() - STALE_SECONDS
            stale = [p for p in open_plans if p.began_at is not None and p.began_at < since]
            for plan in stale[:STALE_LISTED]:
                print(f"    open since {plan.began_at:.0f} s: {_describe(plan)}", flush=True)
            if len(stale) > STALE_LISTED:
                print(f"    and {len(stale) - STALE_LISTED} more open for over a minute")
        await asyncio.sleep(10)


def _describe(plan: Plan) -> str:
    return (
        f"{plan.instance_id} {plan.kind} action={plan.action or '-'} "
        f"waiting on: {plan.waiting_on or '-'}; notes: {plan.notes or '-'}"
    )


async def _never_finished(hub: HubClient, driver: Driver) -> list[str]:
    """The plans the driver never saw end, with their row's status after the drain: a row
    that ended while the driver still waited points at the driver, one still running at the
    hosts (the checker then says stuck)."""
    lines = []
    for plan in driver.plans:
        if plan.finished_at is None:
            try:
                record = await hub.storage.get_instance(plan.instance_id)
                row = "no row" if record is None else record.runtime_status.name
            except Exception as exc:  # the status is for the reader; its absence is news too
                row = f"unread: {exc}"
            lines.append(f"{_describe(plan)}; row after the drain: {row}")
    for line in lines:
        print(f"never seen finished: {line}", flush=True)
    return lines


async def _explain(hub: HubClient, cluster: Cluster, result: CheckResult) -> None:
    """Each finding with the instance's history and the faults around it."""
    for finding in result.findings[:20]:
        print(f"{finding.what.upper()}: {finding.instance_id}: {finding.detail}")
        if finding.window is not None:
            first, last = finding.window[0] - 30, finding.window[1] + 30
            for fault in cluster.faults:
                if fault.start <= last and (fault.end or fault.start) >= first:
                    print(f"    fault {fault.kind} {fault.start}-{fault.end} s: {fault.detail}")
        if not finding.instance_id.endswith("-poison") and "/" not in finding.instance_id:
            try:
                print("    " + await hub.describe(finding.instance_id))
            except Exception as exc:  # the history is for the reader; its absence is news too
                print(f"    (no history: {exc})")


def _summary(args: argparse.Namespace, result: CheckResult) -> str:
    return (
        f"soak seed {args.seed}, {args.minutes:g} min: {result.instances:,} instances, "
        f"{result.count('lost')} lost, {result.count('wrong')} wrong, "
        f"{result.count('stuck')} stuck, "
        f"{result.duplicate_runs} duplicate activity runs"
    )


def _write(
    out: Path,
    args: argparse.Namespace,
    cluster: Cluster,
    driver: Driver,
    result: CheckResult,
    codes: list[int],
    schedule: list[tuple[float, str]],
    summary: str,
    unfinished: list[str],
) -> None:
    counts = {kind: sum(1 for f in cluster.faults if f.kind == kind) for kind in KINDS}
    data = {
        "seed": args.seed,
        "minutes": args.minutes,
        "hosts": args.hosts,
        "workers": args.workers,
        "finished_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "summary": summary,
        "fault_counts": counts,
        "faults": [asdict(f) for f in cluster.faults],
        "completions": driver.completions,
        "rss": cluster.rss,
        "exit_codes": codes,
        "http_retries": driver.http_errors,
        "storage_retries": driver.storage_errors,
        "check": {
            "instances": result.instances,
            "by_status": result.by_status,
            "activity_runs": result.activity_runs,
            "duplicate_runs": result.duplicate_runs,
            "unplanned_keys": result.unplanned_keys,
            "slow_alternatives": result.slow_alternatives,
            "entity_states": result.entity_states,
            "queues": result.queues,
            "findings": [asdict(f) for f in result.findings],
        },
        "resumed_again": sum(
            1 for plan in driver.plans if any(n.startswith(RESUMED_AGAIN) for n in plan.notes)
        ),
        "never_seen_finished": unfinished,
        # e.g. "resume refused" (the instance ended before the suspend reached it): how often
        # each turn of a flow happened, numbers left out so that the same turns count together.
        "plan_notes": Counter(
            re.sub(r"\d[\d.]*", "N", note.split(":")[0]) for p in driver.plans for note in p.notes
        ),
        "client_signals": len(driver.signals),
        "client_signals_unacknowledged": sum(1 for _, ok in driver.signals if not ok),
    }
    (out / "soak.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    (out / "hosts.log").write_text(cluster.host_output(), encoding="utf-8")


def main() -> int:
    args = parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = (args.out or ROOT / "bench" / "results" / f"soak-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(soak(args, out))


if __name__ == "__main__":
    sys.exit(main())
