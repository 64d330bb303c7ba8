"""Run the 3-host crash test N times in a row and summarise the runs (by hand, not in CI).

Run: .venv/bin/python bench/crash_runs.py [-n 20] [--instances 200] [--seeds 1,2,3] [--out DIR]

Each run is a fresh pytest process of tests/reliability/test_crash.py's 3-host test (its own
Azurite, its own task hub) with a seed of its own, printed before it starts, so any run can
be replayed with DURABLE_HOST_CRASH_SEED. The hosts run with --verbose, so a failing run's
saved host logs hold every episode line with its instance and execution ids. A failure never
stops the series. Per run it keeps the figures line the test prints, or the failure: its
message, the instances left unfinished or wrong, and the path of the host logs. It writes
DIR/summary.json and DIR/summary.md (docs/reliability.md reports them).

The hosts import durable_host as this Python does, at each (re)start: do not edit the
checkout while a series runs, or run the series from a clone with PYTHONPATH set to it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/reliability/test_crash.py::test_three_hosts_survive_sigkills_one_at_a_time"
# The test's own bounds add up to about 6 minutes; past twice that the run is hung.
RUN_TIMEOUT_SECONDS = 720.0
_FIGURES = re.compile(r"^reliability figures: (\{.*\})$", re.MULTILINE)
_HOST_LOGS = re.compile(r"^E .*?host logs: ([^\s)]+)", re.MULTILINE)
_UNFINISHED = re.compile(r"^E?\s*unfinished: (.*)$", re.MULTILINE)
# The verification's failure: a header, then one "<instance id>: <what is wrong>" per problem.
_PROBLEMS_HEADER = re.compile(r"^E .* problems \(host logs: ", re.MULTILINE)
_PROBLEM = re.compile(r"^E\s+([\w@:.-]+): ", re.MULTILINE)


@dataclass
class RunResult:
    number: int
    seed: int
    passed: bool
    seconds: float
    load_before: float
    output: str
    figures: dict[str, Any] | None = None
    failure: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    host_logs: str | None = None


def run_once(number: int, seed: int, out: Path, instances: int, verbose: bool) -> RunResult:
    """One pytest process of the 3-host crash test; never raises for a failing run."""
    run_dir = out / f"run-{number:02d}"
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        DURABLE_HOST_CRASH_SEED=str(seed),
        DURABLE_HOST_CRASH_INSTANCES=str(instances),
        PYTHONUNBUFFERED="1",
    )
    if verbose:
        env["DURABLE_HOST_CRASH_VERBOSE"] = "1"
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"]
    command += ["--basetemp", str(run_dir / "tmp"), TEST]
    load = os.getloadavg()[0]
    began = time.monotonic()
    log_path = run_dir / "pytest.log"
    with log_path.open("w", encoding="utf-8") as log:
        # A session of its own, so a hung run is stopped with every process it started.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    text = log_path.read_text(encoding="utf-8", errors="replace")
    result = RunResult(
        number=number,
        seed=seed,
        passed=code == 0,
        seconds=round(time.monotonic() - began, 1),
        load_before=round(load, 1),
        output=str(log_path),
    )
    read_outcome(result, text, timed_out=code is None)
    return result


def read_outcome(result: RunResult, text: str, *, timed_out: bool) -> None:
    """Fill in the figures, or what failed, from the pytest output."""
    figures = _FIGURES.search(text)
    result.figures = json.loads(figures.group(1)) if figures else None
    if result.passed:
        return
    if timed_out:
        result.failure = [f"no result after {RUN_TIMEOUT_SECONDS:g} s: the run was stopped"]
    else:
        errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
        result.failure = errors[:60] or text.splitlines()[-20:]
    logs = _HOST_LOGS.search(text)
    result.host_logs = logs.group(1) if logs else None
    unfinished = _UNFINISHED.search(text)
    result.unfinished = unfinished.group(1).split() if unfinished else []
    header = _PROBLEMS_HEADER.search(text)
    if header is not None:
        result.wrong = sorted({m.group(1) for m in _PROBLEM.finditer(text, header.end())})


def summary_markdown(results: list[RunResult], instances: int) -> str:
    failed = [r for r in results if not r.passed]
    lines = [
        f"{len(results)} runs of `{TEST}`, {instances} instances each: "
        f"{len(results) - len(failed)} passed, {len(failed)} failed.",
        "",
        "| run | seed | result | load before | run s | to complete s | kills | partitions moved "
        "after s | activity re-runs (activities) | checkpoint conflicts | duplicate events |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r.figures or {}
        moved = ", ".join(str(k.get("partitions_moved_after_s")) for k in f.get("kills", []))
        lines.append(
            f"| {r.number} | {r.seed} | {'passed' if r.passed else 'FAILED'} | {r.load_before} "
            f"| {r.seconds} | {f.get('seconds_to_complete', '—')} | "
            f"{f.get('kills_survived', '—')} | {moved or '—'} | "
            f"{f.get('activity_reruns', '—')} ({f.get('activities_rerun', '—')}) | "
            f"{f.get('checkpoint_conflicts', '—')} | {f.get('duplicate_events_in_history', '—')} |"
        )
    for r in failed:
        lines += ["", f"### Run {r.number} (seed {r.seed}) failed", ""]
        if r.unfinished:
            lines.append(f"- unfinished ({len(r.unfinished)}): {' '.join(r.unfinished)}")
        if r.wrong:
            lines.append(f"- wrong at the end ({len(r.wrong)}): {' '.join(r.wrong)}")
        lines.append(f"- host logs: {r.host_logs or 'none saved'}; pytest output: {r.output}")
        lines += ["", "```", *r.failure[:30], "```"]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, results: list[RunResult], instances: int) -> None:
    rows = [asdict(r) for r in results]
    (out / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(results, instances), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--runs", type=int, default=20)
    parser.add_argument("--instances", type=int, default=200, help="instances per run")
    parser.add_argument("--seeds", help="comma-separated seeds (default: random ones)")
    parser.add_argument("--out", type=Path, help="default: bench/results/crash-runs-<time>")
    parser.add_argument("--quiet-hosts", action="store_true", help="hosts without --verbose")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else []
    seeds += [random.SystemRandom().randrange(1 << 30) for _ in range(args.runs - len(seeds))]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = (args.out or ROOT / "bench" / "results" / f"crash-runs-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(seeds)} runs; results in {out}", flush=True)
    results: list[RunResult] = []
    for number, seed in enumerate(seeds, start=1):
        print(f"run {number}/{len(seeds)}: seed {seed} (load {os.getloadavg()[0]:.1f})", flush=True)
        result = run_once(number, seed, out, args.instances, not args.quiet_hosts)
        results.append(result)
        verdict = "passed" if result.passed else f"FAILED: {(result.failure or ['?'])[0][:160]}"
        print(f"run {number}: {verdict} in {result.seconds} s", flush=True)
        write_summary(out, results, args.instances)  # kept current: a series may be cut short
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} of {len(results)} passed; see {out / 'summary.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
