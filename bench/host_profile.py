"""Where the host's CPU goes during one workload: py-spy samples of the benchmark process
(the host runs in it) while only that workload runs, summarised by what the host was doing;
and, over the same window, where Azurite's goes (Node's --cpu-prof, bench/azurite_profile.py).

Run: .venv/bin/python bench/host_profile.py concurrent events entities_100 http_starts
[--quick] [--save]. `make bench` runs the same profiles after its timed runs and keeps them
in its results (bench/run.py). py-spy comes with bench/.venv (`make bench-setup`) and needs
permission to read the process's memory (root, or ptrace_scope 0); without it the host's
profile is missing and says why. Each workload runs in a child process on its own Azurite, at
the benchmark's sizes, once or a few times after its warm-up; py-spy attaches when the
workload starts and stops when it ends, so start-up and imports are left out. Prints the
shares of the host's busy samples and of Azurite's, and the functions that held most of them;
--save also writes them to bench/results/profiles.json, which bench/report.py shows in
docs/performance.md when a run's results hold none.
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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# py-spy is one binary that reads any Python process: the project's venv or bench's has it.
PY_SPY = next(
    (
        p
        for p in (Path(sys.executable).parent / "py-spy", BENCH / ".venv" / "bin" / "py-spy")
        if p.exists()
    ),
    None,
)
SAVED = BENCH / "results" / "profiles.json"
READY, DONE = "profile: workload starts", "profile: workload done"

# Each workload at bench/run.py's sizes (`z`: its FULL or QUICK), run once or a few times.
WORKLOADS: dict[str, Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    # Ten chains, not one: a chain of 50 hops gives py-spy only ~50 busy samples.
    "sequential": lambda s, z: s.sequential(z["hops"], 10),
    "fan_out": lambda s, z: s.fan_out(z["fan_out"], 1),
    "concurrent": lambda s, z: s.concurrent(z["orchestrations"], 3),
    "events": lambda s, z: s.events(z["events"], z["events_per_instance"], 1),
    "entities_1": lambda s, z: s.entities(z["signals"], 1, 1),
    "entities_100": lambda s, z: s.entities(z["signals"], 100, 1),
    "http_starts": lambda s, z: s.http_starts(z["http_starts"], z["http_clients"], 3),
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


def _child(name: str, sizes: dict[str, Any], cpu_prof_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    import logging

    from azurite_profile import node_flags
    from storage_counter import StorageCounter
    from workloads import Suite

    from durable_host.server.azurite import AzuriteProcess

    logging.basicConfig(level=logging.ERROR)
    flags = node_flags(Path(cpu_prof_dir)) if cpu_prof_dir else []

    async def main() -> None:
        with AzuriteProcess(ROOT, node_flags=flags) as azurite:
            ports = {azurite.blob_port: "blob", azurite.queue_port: "queue"}
            ports[azurite.table_port] = "table"
            counter = StorageCounter(ports)
            suite = Suite(azurite.connection_string, counter, lambda _: None)
            with counter.attached():
                print(READY, flush=True)
                figures = await WORKLOADS[name](suite, sizes)
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


@dataclass
class _Run:
    """One profiled run of a workload: its figures, its window (time.monotonic() when it
    started and ended, the clock Node's profile uses too) and what went wrong."""

    figures: str = ""
    window: tuple[float, float] | None = None
    spy_error: str = ""
    error: str = ""


def _last_line(path: Path) -> str:
    lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    return lines[-1].strip() if lines else ""


def _start_spy(pid: int, rate: int, folder: Path) -> subprocess.Popen[bytes] | str:
    """py-spy recording `pid` into folder/samples.txt, or why it could not be started."""
    if PY_SPY is None:
        return "py-spy is not installed (`make bench-setup` puts it in bench/.venv)"
    command = [str(PY_SPY), "record", "-p", str(pid), "-r", str(rate), "-f", "raw"]
    command += ["-o", str(folder / "samples.txt"), "--nonblocking"]
    with open(folder / "py-spy.txt", "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def _stop_spy(spy: subprocess.Popen[bytes] | str | None, folder: Path) -> str:
    """Stops py-spy (it writes its samples on SIGINT); '' or why there are no samples."""
    if isinstance(spy, str):
        return spy
    if spy is None:
        return "the workload never started"
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
            return "py-spy did not stop within 60 s of SIGINT"
    raw = folder / "samples.txt"
    if raw.exists() and raw.stat().st_size > 0:
        return ""
    said = _last_line(folder / "py-spy.txt")
    return f"py-spy exited {spy.returncode} with no samples: {said or 'it said nothing'}"


def _run_child(name: str, rate: int, sizes: dict[str, Any], folder: Path, node: bool) -> _Run:
    command = [sys.executable, __file__, "--child", name, "--sizes", json.dumps(sizes)]
    command += ["--cpu-prof-dir", str(folder) if node else ""]
    run, spy, started = _Run(), None, 0.0
    with open(folder / "stderr.txt", "w") as err:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith(READY):
                started, spy = time.monotonic(), _start_spy(child.pid, rate, folder)
            elif line.startswith(DONE):
                run.window = (started, time.monotonic())
                run.figures = line[len(DONE) :].strip()
                run.spy_error = _stop_spy(spy, folder)
        try:
            code = child.wait(timeout=120)  # Azurite stops (and Node writes its profile)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
    if spy is not None and run.window is None:
        run.spy_error = _stop_spy(spy, folder)
    if code != 0:
        run.error = f"the workload's process exited {code}: {_last_line(folder / 'stderr.txt')}"
    return run


def _host_summary(raw: Path, run: _Run, rate: int) -> dict[str, Any]:
    assert run.window is not None
    by_category, own, leaves, busy, loop = _categorise(raw)
    busy = busy or 1
    return {
        "loop_busy_share": round(loop / ((run.window[1] - run.window[0]) * rate), 3),
        "busy_samples": busy,
        "categories": {c: round(n / busy, 3) for c, n in by_category.most_common()},
        "frames": {f: round(n / busy, 3) for f, n in own.most_common(8)},
        "leaves": {f: round(n / busy, 3) for f, n in leaves.most_common(8)},
    }


def _azurite_summary(folder: Path, run: _Run) -> dict[str, Any]:
    from azurite_profile import newest_profile, summary

    profile = newest_profile(folder)
    if profile is None or run.window is None:
        return {"azurite_error": f"Azurite wrote no CPU profile ({run.error or 'no window'})"}
    window = (run.window[0] * 1e6, run.window[1] * 1e6)
    return {"azurite": summary(profile, window)}


def profile(name: str, rate: int, sizes: dict[str, Any], node: bool = True) -> dict[str, Any]:
    """One run of the workload in its own process on its own Azurite: py-spy on the host and,
    with `node`, Node's --cpu-prof on Azurite, both over the workload's window. Shares of the
    busy samples; `host_error`, `azurite_error` or `error` say what could not be taken."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        folder = Path(tmp)
        run = _run_child(name, rate, sizes, folder, node)
        out: dict[str, Any] = {"started": started, "figures": run.figures}
        out["load"] = round(os.getloadavg()[0], 1)
        if run.error:
            out["error"] = run.error
        if run.spy_error or run.window is None:
            out["host_error"] = run.spy_error or run.error
        else:
            out.update(_host_summary(folder / "samples.txt", run, rate))
        if node:
            out.update(_azurite_summary(folder, run))
    return out


def profile_all(
    names: Sequence[str], rate: int, sizes: dict[str, Any], say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Each workload profiled in a run of its own, one after the other (what bench/run.py
    keeps in its results as "profiles", and --save writes)."""
    from azurite_profile import INTERVAL_US

    began = time.perf_counter()
    saved: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "rate": rate,
        "azurite_interval_us": INTERVAL_US,
        "load_before": round(os.getloadavg()[0], 1),
        "workloads": {},
    }
    for name in names:
        say(f"profile {name}: py-spy on the host, Node's --cpu-prof on Azurite (a run of its own)")
        found = saved["workloads"][name] = profile(name, rate, sizes)
        say("  " + _one_line(found))
    saved["seconds"] = round(time.perf_counter() - began, 1)
    return saved


def _one_line(w: dict[str, Any]) -> str:
    host = w.get("host_error") or (
        f"host {w['busy_samples']} busy samples, event loop busy {w['loop_busy_share']:.0%}"
    )
    azurite = w.get("azurite_error") or (
        f"Azurite {w['azurite']['busy_samples']} busy samples, main thread busy "
        f"{w['azurite']['busy_share']:.0%}"
        if "azurite" in w
        else "Azurite not profiled"
    )
    return f"{host}; {azurite} (load average {w['load']})"


def _print(name: str, w: dict[str, Any]) -> None:
    print(f"\n## {name}: {w['figures']}\n{_one_line(w)}")
    for title, key in (
        ("share of the host's busy samples", "categories"),
        ("durable_host frames on the CPU (innermost of ours)", "frames"),
        ("innermost frames (any code)", "leaves"),
    ):
        print(f"  {title}:")
        for label, share in w.get(key, {}).items():
            print(f"  {share:6.1%}  {label}")
    for title, key in (("package or module", "groups"), ("function (self time)", "functions")):
        print(f"  Azurite, by {title}:")
        for label, share in w.get("azurite", {}).get(key, {}).items():
            print(f"  {share:6.1%}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help=f"of {', '.join(WORKLOADS)}")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--quick", action="store_true", help="bench/run.py's quick sizes")
    parser.add_argument("--save", action="store_true", help=f"write {SAVED.relative_to(ROOT)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-prof-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, json.loads(args.sizes), args.cpu_prof_dir)
        return
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown or not args.workloads:
        parser.error(f"name workloads among {', '.join(WORKLOADS)} (not {unknown})")
    from run import FULL, QUICK

    saved = profile_all(args.workloads, args.rate, QUICK if args.quick else FULL)
    for name, found in saved["workloads"].items():
        _print(name, found)
    if args.save:
        SAVED.write_text(json.dumps(saved, indent=1) + "\n")
        print(f"wrote {SAVED}")


if __name__ == "__main__":
    main()
