"""Crash safety and scale-out: SIGKILL hosts at random moments under a mixed workload.

The workload (tests/apps/reliability) mixes chains, fan-outs, timers, external events,
sub-orchestrations and entity calls. While it runs, a seeded RNG picks when to SIGKILL a
host (and, with several hosts, which one); a new host process takes its place. Afterwards,
from storage alone: every instance Completed with the output its input implies; every
history is whole (RowKeys 0..n-1, one result per scheduled task/timer/sub-orchestration, one
start and one completion); every activity ran at least once (re-runs are counted from the
ledger the activities append to); and no message is left in any queue.

Sizes: DURABLE_HOST_CRASH_INSTANCES (default 200); DURABLE_HOST_CRASH_SEED replays a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from tests.reliability._crash_harness import (
    LEASE_SECONDS,
    LEDGER_SETTING,
    Driver,
    Fleet,
    HubClient,
    plan_workload,
    run_until_complete,
    seeded_rng,
    verify,
    wait_until,
)

pytestmark = pytest.mark.azurite

INSTANCES = int(os.environ.get("DURABLE_HOST_CRASH_INSTANCES") or 200)
REPORT_SETTING = "DURABLE_HOST_RELIABILITY_REPORT"


def _report(figures: dict[str, object]) -> None:
    """Print the run's figures (and append them to a JSON-lines file if asked to)."""
    line = json.dumps(figures)
    print(f"\nreliability figures: {line}")
    path = os.environ.get(REPORT_SETTING)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


async def _crash_run(
    azurite: str, hub_name: str, tmp_path: Path, *, hosts: int, kills: int, name: str
) -> None:
    rng, seed = seeded_rng("DURABLE_HOST_CRASH_SEED")
    print(f"\n{name}: seed {seed} (set DURABLE_HOST_CRASH_SEED={seed} to replay)")
    ledger = tmp_path / "ledger.txt"
    fleet = Fleet(azurite, hub_name, {LEDGER_SETTING: str(ledger)})
    began = time.monotonic()
    kill_log: list[dict[str, object]] = []
    async with HubClient(azurite, hub_name) as hub:
        try:
            for _ in range(hosts):
                await fleet.start_host()
            if hosts > 1:
                # Scale-out: the hosts split the partitions between them.
                await wait_until(
                    lambda: _owners_are(hub, {h.pid for h in fleet.hosts}, every_host=True),
                    timeout=30,
                    what=f"{hosts} hosts to share the {hub.names.partition_count} partitions",
                )
            plans = plan_workload(INSTANCES, "c")
            waves = [plans[i :: kills + 1] for i in range(kills + 1)]
            driver = Driver(hub)
            # Each kill comes a random moment after a wave was submitted, so it lands on work
            # in every stage: starts, activities in flight, timers, sub-orchestrations, events.
            for wave_number, wave in enumerate(waves):
                await driver.submit(wave)
                if wave_number == kills:
                    break
                await asyncio.sleep(rng.uniform(0.5, 3.0))  # the experiment, not a wait
                statuses = await hub.statuses()
                await driver.raise_due_events(statuses)
                victim = rng.choice(fleet.hosts)
                done = sum(1 for s in statuses.values() if s.is_terminal)
                fleet.kill(victim)
                killed_at = time.monotonic()
                moved = None
                if fleet.hosts:
                    # The survivors take the killed host's partitions once its leases expire.
                    await wait_until(
                        lambda: _owners_are(hub, {h.pid for h in fleet.hosts}),
                        timeout=LEASE_SECONDS * 3 + 10,
                        what=f"the partitions of killed host {victim.pid} to move",
                    )
                    moved = round(time.monotonic() - killed_at, 1)
                await fleet.start_host()
                kill_log.append({"finished_before_kill": done, "partitions_moved_after_s": moved})
            await run_until_complete(
                driver, timeout=float(os.environ.get("DURABLE_HOST_CRASH_TIMEOUT") or 240)
            )
            completed_s = round(time.monotonic() - began, 1)

            async def queues_empty() -> bool:
                return not any((await hub.drained()).values())

            await wait_until(queues_empty, timeout=60, what="every queue to be empty")
            codes = await fleet.stop_all()
            assert codes == [0] * len(codes), f"hosts exited with {codes}"
            verdict = await verify(hub, plans, ledger)
        except AssertionError as exc:
            # Whatever failed (unfinished instances, queues left, an exit code), the hosts'
            # logs go with it: their lines name the instances they are about.
            raise AssertionError(f"{exc}\nhost logs: {_save_logs(fleet, tmp_path)}") from None
        finally:
            for host in list(fleet.hosts):
                fleet.kill(host)
    conflicts = fleet.count_in_output("was checkpointed by another worker")
    _report(
        {
            "test": name,
            "seed": seed,
            "hosts": hosts,
            "kills_survived": len(kill_log),
            "instances": len(plans),
            "instances_with_children": len(driver.all_ids()),
            "history_rows": verdict.history_rows,
            "activity_runs": verdict.activity_runs,
            "activity_reruns": verdict.activity_reruns,
            "activities_rerun": verdict.rerun_keys,
            "duplicate_events_in_history": verdict.duplicate_events,
            "checkpoint_conflicts": conflicts,
            "kills": kill_log,
            "seconds_to_complete": completed_s,
        }
    )
    if verdict.problems:
        logs = _save_logs(fleet, tmp_path)
        raise AssertionError(
            f"seed {seed}: {len(verdict.problems)} problems (host logs: {logs}):\n"
            + "\n".join(verdict.problems[:40])
        )
    assert len(kill_log) == kills


def _save_logs(fleet: Fleet, tmp_path: Path) -> Path:
    """Every host's console output, killed ones included, for the failure message."""
    path = tmp_path / "hosts.log"
    path.write_text(fleet.output(), encoding="utf-8")
    return path


async def _owners_are(hub: HubClient, pids: set[int], *, every_host: bool = False) -> bool:
    """Every partition has a live owner among `pids` (and, if asked, every pid owns one)."""
    owners = await hub.live_owner_pids()
    if any(owner not in pids for owner in owners):
        return False
    return not every_host or set(owners) == pids


async def test_single_host_survives_sigkills(azurite: str, hub_name: str, tmp_path: Path) -> None:
    await _crash_run(azurite, hub_name, tmp_path, hosts=1, kills=3, name="crash, 1 host")


async def test_three_hosts_survive_sigkills_one_at_a_time(
    azurite: str, hub_name: str, tmp_path: Path
) -> None:
    await _crash_run(azurite, hub_name, tmp_path, hosts=3, kills=2, name="crash, 3 hosts")
