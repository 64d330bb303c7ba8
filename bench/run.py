"""The benchmark suite: durable_host on Azurite, Azurite's own limits, DBOS side by side, and
durabletask's worker on its in-memory backend and on `durable-host sidecar`.

Run: .venv/bin/python bench/run.py [--quick] [--no-peer]   (or `make bench`)
Writes bench/results/latest.json, then docs/performance.md and docs/perf-*.png; --quick
writes bench/results/quick.json and prints the figures (add --report for the docs too).
The peer and the plots run in bench/.venv (bench/requirements.txt), never in the project's
own environment. After the timed runs, the workloads of issue 24's ratio goals run once more
each, profiled (host and Azurite), and the results keep the profiles' summaries
(--no-profiles skips them). Prints progress; asserts no timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from cpu_meter import CpuMeter  # noqa: E402
from host_profile import profile_all  # noqa: E402
from physical import floors, measure_round_trips  # noqa: E402
from storage_counter import StorageCounter  # noqa: E402
from workloads import Suite  # noqa: E402

from durable_host.server.azurite import AzuriteProcess  # noqa: E402

RESULTS = BENCH / "results" / "latest.json"
QUICK_RESULTS = BENCH / "results" / "quick.json"
BENCH_PYTHON = BENCH / ".venv" / "bin" / "python"

FULL = {
    "hops": 50,
    "fan_out": 1000,
    "orchestrations": 100,
    "events": 1000,
    "events_per_instance": 10,
    "signals": 1000,
    "http_starts": 300,
    "http_clients": 10,
    "idle_s": 60.0,
    "runs": 3,
    "samples": 200,
}
QUICK = {
    "hops": 10,
    "fan_out": 100,
    "orchestrations": 20,
    "events": 100,
    "events_per_instance": 5,
    "signals": 200,
    "http_starts": 100,
    "http_clients": 10,
    "idle_s": 4.0,
    "runs": 1,
    "samples": 30,
}

# Profiled after all the timed runs, each in a run of its own so that profiling never perturbs
# a figure: the workloads of issue 24's ratio goals (bench/host_profile.py: py-spy on the
# host, Node's --cpu-prof on Azurite).
PROFILED = ("sequential", "fan_out", "concurrent", "http_starts")
PROFILE_RATE = 100  # py-spy's samples per second


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f} s] {message}", flush=True)


class HostWarnings(logging.Handler):
    """Keeps the host's own warnings (e.g. a lease not renewed in time): they explain outliers."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(logging.WARNING)
        self.clock = clock
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("durable_host"):
            at = time.perf_counter() - self.clock.started
            self.records.append(f"{at:.1f} s {record.name}: {record.getMessage()}")


def _python_speed() -> float:
    """Seconds one core takes for a fixed pure-Python loop: machines of one kind differ from
    day to day, so a run's figures are read against this and its floors."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return round(time.perf_counter() - started, 2)


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


async def run_host(sizes: dict[str, Any], clock: Clock) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with AzuriteProcess(ROOT) as azurite:
        ports = {
            azurite.blob_port: "blob",
            azurite.queue_port: "queue",
            azurite.table_port: "table",
        }
        clock.say("Azurite round trips (the physical floor), minimal client and SDK")
        before = await measure_round_trips(azurite.connection_string, samples=sizes["samples"])
        _say_round_trips(clock, before)
        counter = StorageCounter(ports)
        suite = Suite(azurite.connection_string, counter, clock.say)
        runs = sizes["runs"]
        metered = CpuMeter(azurite.pid).metered
        with counter.attached():
            # Idle first: in-memory Azurite, once it holds the data of the heavy workloads,
            # stalls every request for seconds to minutes now and then (seen: all requests,
            # lease renewals included, waiting 12-90 s together), which would be measured here
            # as the host's idle latency.
            clock.say(f"6. idle host ({sizes['idle_s']:.0f} s) to first activity; idle requests/s")
            out["idle"] = await suite.idle(sizes["idle_s"])
            clock.say(f"1. sequential chain of {sizes['hops']} activities x {runs}")
            out["sequential"] = await metered(suite.sequential(sizes["hops"], runs))
            clock.say(f"2. fan-out/fan-in of {sizes['fan_out']} activities x {runs} (8. RSS)")
            out["fan_out"] = await metered(suite.fan_out(sizes["fan_out"], runs))
            clock.say(f"3. {sizes['orchestrations']} concurrent orchestrations of 5 activities")
            out["concurrent"] = await metered(suite.concurrent(sizes["orchestrations"], runs))
            clock.say(f"4. {sizes['events']} external events to waiting orchestrations")
            out["events"] = await metered(
                suite.events(sizes["events"], sizes["events_per_instance"], runs)
            )
            clock.say(f"5. {sizes['signals']} entity signals, to 1 and to 100 entities")
            out["entities_1"] = await metered(suite.entities(sizes["signals"], 1, runs))
            out["entities_100"] = await metered(suite.entities(sizes["signals"], 100, runs))
            clock.say(f"9. {sizes['http_starts']} HTTP starts from {sizes['http_clients']} clients")
            out["http_starts"] = await metered(
                suite.http_starts(sizes["http_starts"], sizes["http_clients"], runs)
            )
            clock.say("7. storage transactions per activity")
            out["transactions"] = await suite.transactions(sizes["hops"], sizes["fan_out"])
        # Price the floors at the mean of before and after: the machine's load drifts.
        clock.say("Azurite round trips again, after the workloads")
        after = await measure_round_trips(azurite.connection_string, samples=sizes["samples"])
        _say_round_trips(clock, after)
        out["round_trips_before"], out["round_trips_after"] = before, after
        out["round_trips"] = _mean_round_trips(before["minimal"], after["minimal"])
        out["round_trips_sdk"] = _mean_round_trips(before["sdk"], after["sdk"])
        out["durabletask"] = run_durabletask(azurite.connection_string, sizes, clock)
    out["floors"] = floors(out["round_trips"], {"fan_out": sizes["fan_out"]})
    return out


def _say_round_trips(clock: Clock, measured: dict[str, dict[str, dict[str, float]]]) -> None:
    for op, mine in measured["minimal"].items():
        sdk = measured["sdk"][op]
        clock.say(
            f"  {op:14} minimal {mine['ms']:5.2f} ms, {mine['cpu_ms']:4.2f} ms CPU "
            f"({mine['user_ms']:4.2f} user), "
            f"{mine['per_s']:4.0f}/s | SDK {sdk['ms']:5.2f} ms, {sdk['cpu_ms']:4.2f} ms CPU, "
            f"{sdk['per_s']:4.0f}/s"
        )


def _mean_round_trips(
    a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    return {op: {k: (a[op][k] + b[op][k]) / 2 for k in a[op]} for op in a}


def run_peer(quick: bool, clock: Clock) -> dict[str, Any] | None:
    if not BENCH_PYTHON.exists():
        clock.say("peer skipped: bench/.venv is missing (create it with `make bench-setup`)")
        return None
    clock.say("peer: DBOS Transact on SQLite, workloads 1-3")
    args = [str(BENCH_PYTHON), str(BENCH / "peer_dbos.py"), *(["--quick"] if quick else [])]
    done = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        clock.say(f"peer failed (exit {done.returncode}); see its output above")
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_durabletask(connection: str, sizes: dict[str, Any], clock: Clock) -> dict[str, Any]:
    """Workloads 1-3 with durabletask's worker: its in-memory backend, then `durable-host
    sidecar` on this Azurite (bench/peer_durabletask.py, one process per backend)."""
    quick = ["--quick"] if sizes is QUICK else []
    out: dict[str, Any] = {}
    for backend, extra in (("inmemory", []), ("sidecar", ["--connection", connection])):
        clock.say(f"durabletask worker on {backend}: workloads 1-3")
        args = [sys.executable, str(BENCH / "peer_durabletask.py"), backend, *extra, *quick]
        done = subprocess.run(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=1800
        )
        if done.returncode != 0 or not done.stdout.strip():
            clock.say(f"durabletask on {backend} failed (exit {done.returncode})")
            continue
        out[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def durabletask_summary(results: dict[str, Any]) -> None:
    """The same durabletask worker on its in-memory backend and on the sidecar (Azurite),
    next to our in-process host; issue 22's goals: hop within 2x, fan-out faster."""
    h, dt = results["host"], results["host"].get("durabletask") or {}
    mem, car = dt.get("inmemory") or {}, dt.get("sidecar") or {}
    rows = [
        ("1. sequential hop, median (ms)", "sequential", "median_ms"),
        ("2. fan-out/fan-in (s)", "fan_out", "seconds"),
        ("3. orchestrations of 5 (/s)", "concurrent", "per_s"),
    ]
    print()
    print(f"{'durabletask worker':38} {'in-memory':>10} {'sidecar':>10} {'ratio':>7} {'host':>9}")
    for name, workload, key in rows:
        a = mem.get(workload, {}).get(key, float("nan"))
        b = car.get(workload, {}).get(key, float("nan"))
        ours = h[workload][key]
        print(f"{name:38} {a:10.2f} {b:10.2f} {b / a if a else float('nan'):7.2f} {ours:9.2f}")


def summary(results: dict[str, Any]) -> None:
    """One line per workload: ours, the floor Azurite's round trips imply, the peer."""
    h, peer = results["host"], results.get("peer") or {}
    f = {k: v["value"] for k, v in h["floors"].items()}
    rows: list[tuple[str, float, str, float | None, float | None]] = [
        (
            "1. sequential hop, median",
            h["sequential"]["median_ms"],
            "ms",
            f["sequential_ms_per_hop"],
            peer.get("sequential", {}).get("median_ms"),
        ),
        (
            "1. sequential hop, p95",
            h["sequential"]["p95_ms"],
            "ms",
            f["sequential_ms_per_hop"],
            peer.get("sequential", {}).get("p95_ms"),
        ),
        (
            f"2. fan-out/fan-in of {h['fan_out']['activities']}",
            h["fan_out"]["seconds"],
            "s",
            f["fan_out_seconds"],
            peer.get("fan_out", {}).get("seconds"),
        ),
        (
            "3. orchestrations of 5 activities",
            h["concurrent"]["per_s"],
            "/s",
            f["orchestrations_per_s"],
            peer.get("concurrent", {}).get("per_s"),
        ),
        ("4. external events", h["events"]["per_s"], "/s", f["events_per_s"], None),
        ("5. entity ops, 1 entity", h["entities_1"]["per_s"], "/s", f["entity_ops_per_s"], None),
        (
            "5. entity ops, 100 entities",
            h["entities_100"]["per_s"],
            "/s",
            f["entity_ops_per_s"],
            None,
        ),
        (
            "9. HTTP starts",
            h["http_starts"]["per_s"],
            "/s",
            f["http_starts_per_s"],
            None,
        ),
        ("9. HTTP start p95, to completion", h["http_starts"]["p95_ms"], "ms", None, None),
        (
            "6. idle to first activity",
            h["idle"]["first_activity_ms"],
            "ms",
            f["idle_to_first_activity_ms"],
            None,
        ),
        (
            "7. requests per sequential activity",
            h["transactions"]["sequential"]["total"],
            "",
            f["transactions_per_sequential_activity"],
            None,
        ),
        (
            "7. requests per fan-out activity",
            h["transactions"]["fan_out"]["total"],
            "",
            f["transactions_per_fan_out_activity"],
            None,
        ),
        ("7. requests/s, idle host", h["idle"]["idle_requests_per_s"], "/s", 5 / 30 + 5 / 10, None),
        ("8. peak RSS, workload 2", h["fan_out"]["rss_peak_mib"], "MiB", None, None),
    ]
    print()
    print(
        f"{'workload':38} {'ours':>12} {'floor':>9} {'ours/floor':>10} {'DBOS':>9} {'ours/DBOS':>9}"
    )
    for name, ours, unit, floor, theirs in rows:
        print(
            f"{name:38} {ours:9.2f} {unit:<3}"
            f"{floor if floor is not None else float('nan'):9.2f} "
            f"{ours / floor if floor else float('nan'):10.2f} "
            f"{theirs if theirs is not None else float('nan'):9.2f} "
            f"{ours / theirs if theirs else float('nan'):9.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes: a smoke run (about a minute, the profiles half of it)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the DBOS side by side")
    parser.add_argument(
        "--no-profiles", action="store_true", help="skip the profiles taken after the timed runs"
    )
    parser.add_argument(
        "--output", type=Path, help="results JSON (default: results/latest.json; quick.json)"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="write docs/performance.md even in --quick mode (full runs always do)",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl+C, so Azurite (a child process) is stopped, not orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING)
    sizes = QUICK if args.quick else FULL
    # A smoke run must not replace the published figures.
    output: Path = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    clock = Clock()
    warnings = HostWarnings(clock)
    logging.getLogger().addHandler(warnings)
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_before": _load(),
            "python_loop_s": _python_speed(),
        },
        "sizes": sizes,
    }
    results["host"] = asyncio.run(run_host(sizes, clock))
    results["host_warnings"] = warnings.records
    results["peer"] = None if args.no_peer else run_peer(args.quick, clock)
    results["machine"]["load_after"] = _load()
    if not args.no_profiles:
        results["profiles"] = {
            **profile_all(PROFILED, PROFILE_RATE, sizes, clock.say),
            "in_run": True,
        }
    results["seconds"] = round(time.perf_counter() - clock.started, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    clock.say(f"wrote {output}")
    summary(results)
    durabletask_summary(results)
    if BENCH_PYTHON.exists() and (args.report or not args.quick):
        subprocess.run([str(BENCH_PYTHON), str(BENCH / "report.py"), str(output)], check=True)
        clock.say("wrote docs/performance.md and docs/perf-*.png")


if __name__ == "__main__":
    main()
