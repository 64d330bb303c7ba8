"""Where Azurite's CPU goes during a workload: Node's --cpu-prof on the Azurite it runs on.

Run: .venv/bin/python bench/azurite_profile.py [--workload orchestrations_per_s] [--runs 2]
[--out DIR] [--top 25]
Starts this checkout's Azurite with `node --cpu-prof`, runs bench/engine_ab.py's workload
`--runs` times (each in a fresh process on a fresh task hub), stops Azurite (Node writes the
profile on exit) and prints, for the samples taken while the runs after the first ran (the
first warms Azurite up), the share of busy samples per package or Node module and the
functions with the most self time. The profile (.cpuprofile, for Chrome's DevTools or
speedscope) stays in --out. Samples on the main thread only: V8's GC helper threads are not
in it. Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from durable_host.server.azurite import AzuriteProcess  # noqa: E402


def _run(azurite: AzuriteProcess, workload: str) -> tuple[float, float]:
    """One engine_ab child run; its CLOCK_MONOTONIC window in microseconds (V8's clock)."""
    started = time.monotonic()
    command = [sys.executable, str(ROOT / "bench" / "engine_ab.py"), "--child"]
    command += ["--connection", azurite.connection_string, "--workload", workload]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return started * 1e6, time.monotonic() * 1e6


def _frame(node: dict[str, Any]) -> tuple[str, str]:
    """(group, function) of a profile node: the npm package or Node module it runs in."""
    frame = node["callFrame"]
    url, name = frame["url"], frame["functionName"] or "(anonymous)"
    if "node_modules/" in url:
        parts = url.split("node_modules/")[-1].split("/")
        if parts[0] == "azurite":  # azurite/dist/src/<service>/<folder>/...
            group = "azurite/" + "/".join(parts[3:5])
        else:
            group = "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]
        return group, f"{name} {'/'.join(parts[-2:])}:{frame['lineNumber'] + 1}"
    return (url or name), name


def summarize(profile: dict[str, Any], windows: list[tuple[float, float]], top: int) -> None:
    nodes = {node["id"]: node for node in profile["nodes"]}
    groups: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    at = profile["startTime"]
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        at += delta
        group, function = _frame(nodes[sample])
        if function != "(idle)" and any(a <= at <= b for a, b in windows):
            groups[group] += 1
            functions[function] += 1
    busy = sum(groups.values()) or 1
    print(f"{busy} busy samples in the measured runs")
    for title, counter in (("package or module", groups), ("function (self time)", functions)):
        print(f"\n--- by {title}")
        for key, count in counter.most_common(top):
            print(f"{100 * count / busy:5.1f}%  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="orchestrations_per_s")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="folder for the .cpuprofile (default: temp)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    out = (args.out or Path(tempfile.mkdtemp(prefix="azurite-profile-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    flags = ["--cpu-prof", f"--cpu-prof-dir={out}", "--cpu-prof-interval=200"]
    windows = []
    with AzuriteProcess(ROOT, node_flags=flags) as azurite:
        for _ in range(max(args.runs, 2)):
            windows.append(_run(azurite, args.workload))
    profiles = sorted(out.glob("*.cpuprofile"), key=lambda p: p.stat().st_mtime)
    if not profiles:
        sys.exit(f"Azurite wrote no profile into {out}")
    print(f"profile: {profiles[-1]}")
    summarize(json.loads(profiles[-1].read_text()), windows[1:], args.top)


if __name__ == "__main__":
    main()
