"""The peer: DBOS Transact on a SQLite system database, running workloads 1-3 as steps.

Runs in the benchmark environment only (bench/.venv, see bench/requirements.txt) and prints
one JSON object on stdout: {"version", "sequential", "fan_out", "concurrent"}.
Equivalences: an activity is a @DBOS.step (its result checkpointed before the next starts);
a fan-out activity is a step enqueued on a DBOS queue (durable, run by the queue's workers,
as an activity is by the work-item queue); an orchestration is a @DBOS.workflow.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig

QUEUE_POLL_S = 0.01  # DBOS's default is 1 s; a fast poll is the peer's best case


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@DBOS.step()
def noop(value: int) -> int:
    return value


@DBOS.step()
def stamp(value: int) -> float:
    return time.perf_counter()


@DBOS.workflow()
def stamped_sequence(hops: int) -> list[float]:
    return [stamp(i) for i in range(hops)]


@DBOS.workflow()
def sequence(hops: int) -> int:
    for i in range(hops):
        noop(i)
    return hops


@DBOS.workflow()
def fan_out(count: int) -> int:
    queue = DBOS.retrieve_queue("fan")
    if queue is None:
        raise RuntimeError("the 'fan' queue is not registered; register it after DBOS.launch()")
    handles = [queue.enqueue(noop, i) for i in range(count)]
    return len([h.get_result() for h in handles])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(quick: bool) -> dict[str, Any]:
    hops, fan, orchestrations, runs = (10, 100, 20, 1) if quick else (50, 1000, 100, 3)
    out: dict[str, Any] = {"version": version("dbos")}
    per_hop: list[float] = []
    sequence(2)
    for _ in range(runs):
        stamps = stamped_sequence(hops)
        per_hop += [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    out["sequential"] = {
        "hops": hops,
        "median_ms": statistics.median(per_hop),
        "p95_ms": _percentile(per_hop, 0.95),
    }
    _log(f"  peer sequential: median hop {out['sequential']['median_ms']:.2f} ms")
    seconds = []
    fan_out(10)
    # One run: at the peer's rate a 1,000-step fan-out takes over a minute.
    for _ in range(1):
        started = time.perf_counter()
        assert fan_out(fan) == fan
        seconds.append(time.perf_counter() - started)
    out["fan_out"] = {
        "activities": fan,
        "seconds": statistics.median(seconds),
        "activities_per_s": fan / statistics.median(seconds),
    }
    _log(f"  peer fan-out: {out['fan_out']['seconds']:.2f} s")
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        handles = [DBOS.start_workflow(sequence, 5) for _ in range(orchestrations)]
        assert all(h.get_result() == 5 for h in handles)
        rates.append(orchestrations / (time.perf_counter() - started))
    out["concurrent"] = {"orchestrations": orchestrations, "per_s": statistics.median(rates)}
    _log(f"  peer concurrent: {out['concurrent']['per_s']:.0f} workflows/s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dbos-bench-") as tmp:
        database = Path(tmp) / "dbos.sqlite"
        config: DBOSConfig = {
            "name": "durable-host-bench-peer",
            "system_database_url": f"sqlite:///{database}",
            "log_level": "WARNING",
        }
        DBOS(config=config)
        DBOS.launch()
        DBOS.register_queue("fan", polling_interval_sec=QUEUE_POLL_S)
        try:
            print(json.dumps(run(args.quick)))
        finally:
            DBOS.destroy()


if __name__ == "__main__":
    main()
