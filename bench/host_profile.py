"""Where the host's CPU goes during one workload: py-spy samples of the benchmark process
(the host runs in it) while only that workload runs, summarised by what the host was doing.

Run: .venv/bin/python bench/host_profile.py concurrent events entities_100 http_starts [--save]
Needs py-spy in the project's venv (`.venv/bin/pip install py-spy`) and permission to read
the process's memory (root, or ptrace_scope 0). Each workload runs in a child process on its
own Azurite, at the full benchmark sizes, once after its warm-up; py-spy attaches when the
workload starts and stops when it ends, so start-up and imports are left out. Prints one
table (the shares of the host's busy samples) and the functions that held most of them;
--save also writes them to bench/results/profiles.json, which bench/report.py shows in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY_SPY = Path(sys.executable).parent / "py-spy"
SAVED = BENCH / "results" / "profiles.json"
READY, DONE = "profile: workload starts", "profile: workload done"

WORKLOADS = {
    # Ten chains, not one: a chain of 50 hops gives py-spy only ~50 busy samples.
    "sequential": lambda s: s.sequential(50, 10),
    "fan_out": lambda s: s.fan_out(1000, 1),
    "concurrent": lambda s: s.concurrent(100, 3),
    "events": lambda s: s.events(1000, 10, 1),
    "entities_1": lambda s: s.entities(1000, 1, 1),
    "entities_100": lambda s: s.entities(1000, 100, 1),
    "http_starts": lambda s: s.http_starts(300, 10, 3),
}

# The first rule whose frame is in a sample's stack names it (a sample counts once).
CATEGORIES = [
    ("storage requests (RestClient.request)", ("RestClient.request",)),
    (
        "orchestrator replays and entity batches (Python SDK)",
        ("invoke_orchestrator", "invoke_entity"),
    ),
    ("activities", ("invoke_activity",)),
    ("HTTP server and starter function", ("aiohttp/web_protocol.py", "invoke_http")),
    ("the benchmark's own client", ("workloads.py", "wait_for_completion")),
    (
        "checkpoint encoding",
        (
            "taskhub/dotnet_members.py",
            "taskhub/event_json.py",
            "taskhub/queue_messages.py",
            "taskhub/history_rows.py",
        ),
    ),
    ("aiohttp outside a request (body writes, answers read in callbacks)", ("aiohttp/",)),
    ("engine (other durable_host code)", ("durable_host/",)),
]
REST = "event loop and the rest"


def _child(name: str) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    import logging

    from storage_counter import StorageCounter
    from workloads import Suite

    from durable_host.server.azurite import AzuriteProcess

    logging.basicConfig(level=logging.ERROR)

    async def main() -> None:
        with AzuriteProcess(ROOT) as azurite:
            ports = {azurite.blob_port: "b", azurite.queue_port: "q", azurite.table_port: "t"}
            counter = StorageCounter(ports)
            suite = Suite(azurite.connection_string, counter, lambda _: None)
            with counter.attached():
                print(READY, flush=True)
                figures = await WORKLOADS[name](suite)
                print(DONE, {k: v for k, v in figures.items() if not k.endswith("_ms")}, flush=True)

    asyncio.run(main())


def _frame(frame: str) -> str:
    """'function (path/to/file.py:12)' -> 'function (file.py)'."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def _categorise(raw: Path) -> tuple[Counter[str], Counter[str], Counter[str], int, int]:
    """Busy samples (py-spy leaves idle threads out) by category, by our innermost frame and
    by innermost frame, their total, and those of the event loop's thread."""
    by_category: Counter[str] = Counter()
    own_frames: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = loop = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        loop += n if "run_until_complete" in stack else 0
        label = next(
            (cat for cat, marks in CATEGORIES if any(m in stack for m in marks)),
            REST,
        )
        by_category[label] += n
        leaves[_frame(stack.split(";")[-1])] += n
        # The innermost frame of durable_host's own code: what of ours was on the CPU.
        ours = [f for f in stack.split(";") if "durable_host/" in f]
        if ours:
            own_frames[ours[-1].split(" (")[0]] += n
    return by_category, own_frames, leaves, total, loop


def profile(name: str, rate: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "samples.txt"
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", name], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        spy = None
        result = ""
        started = ended = 0.0
        for line in child.stdout:
            if line.startswith(READY):
                started = time.perf_counter()
                spy = subprocess.Popen(
                    [
                        str(PY_SPY),
                        "record",
                        "-p",
                        str(child.pid),
                        "-r",
                        str(rate),
                        "-f",
                        "raw",
                        "-o",
                        str(raw),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            elif line.startswith(DONE):
                ended = time.perf_counter()
                result = line[len(DONE) :].strip()
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=60)
        child.wait()
        if spy is None or not raw.exists():
            raise SystemExit(f"{name}: no samples (is py-spy allowed to attach?)")
        by_category, own, leaves, total, loop = _categorise(raw)
    return {
        "name": name,
        "figures": result,
        "categories": by_category,
        "own": own,
        "leaves": leaves,
        "busy": total,
        "loop_busy_share": loop / ((ended - started) * rate),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help=f"of {', '.join(WORKLOADS)}")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--save", action="store_true", help=f"write {SAVED.relative_to(ROOT)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown or not args.workloads:
        parser.error(f"name workloads among {', '.join(WORKLOADS)} (not {unknown})")
    load_before = os.getloadavg()[0]
    print(f"load average before: {load_before:.1f}")
    saved: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "rate": args.rate,
        "workloads": {},
    }
    for name in args.workloads:
        found = profile(name, args.rate)
        busy = found["busy"]
        saved["workloads"][name] = {
            "figures": found["figures"],
            "load": round(os.getloadavg()[0], 1),
            "loop_busy_share": round(found["loop_busy_share"], 3),
            "busy_samples": busy,
            "categories": {c: round(n / busy, 3) for c, n in found["categories"].most_common()},
            "frames": {f: round(n / busy, 3) for f, n in found["own"].most_common(8)},
            "leaves": {f: round(n / busy, 3) for f, n in found["leaves"].most_common(8)},
        }
        print(f"\n## {name}: {found['figures']}")
        print(
            f"busy samples {busy}; the event loop's thread was busy "
            f"{found['loop_busy_share']:.0%} of the wall time "
            f"(load average now {os.getloadavg()[0]:.1f})"
        )
        print("  share of busy samples:")
        for category, n in found["categories"].most_common():
            print(f"  {n / busy:6.1%}  {category}")
        print("  durable_host frames on the CPU (innermost of ours), share of busy:")
        for frame, n in found["own"].most_common(12):
            print(f"  {n / busy:6.1%}  {frame}")
        print("  innermost frames (any code), share of busy:")
        for frame, n in found["leaves"].most_common(8):
            print(f"  {n / busy:6.1%}  {frame}")
    saved["load_before"] = round(load_before, 1)
    if args.save:
        SAVED.write_text(json.dumps(saved, indent=1) + "\n")
        print(f"wrote {SAVED}")


if __name__ == "__main__":
    main()
