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

INTERVAL_US = 200  # Node's sampling interval


def node_flags(folder: Path) -> list[str]:
    """Node's options for a CPU profile of Azurite, written into `folder` when it exits."""
    return ["--cpu-prof", f"--cpu-prof-dir={folder}", f"--cpu-prof-interval={INTERVAL_US}"]


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


def category(node: dict[str, Any]) -> str:
    """What a profile node's code is, in the few kinds the report compares across workloads."""
    url = node["callFrame"]["url"]
    if "node_modules/" in url:
        package = url.split("node_modules/")[-1]
        if package.startswith("lokijs/"):
            return "LokiJS (the in-memory store)"
        if package.startswith("azurite/"):
            return (
                "Azurite's generated dispatchers and serializers"
                if "/generated/" in package
                else "Azurite's handlers, middleware and persistence"
            )
        return "other packages (Express, router, ms-rest-js, ...)"
    if url.startswith("node:"):
        return "Node's built-in modules (HTTP, streams, sockets)"
    if node["callFrame"]["functionName"] == "(garbage collector)":
        return "garbage collection"
    return "native code and the rest (socket writes, hashing, (program))"


def busy_counts(
    profile: dict[str, Any], windows: list[tuple[float, float]]
) -> tuple[collections.Counter[str], collections.Counter[str], float]:
    """Busy samples of the profile's main thread inside `windows` (V8's clock, microseconds),
    by package or module, by function and by category, and the microseconds they cover."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    groups: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    categories: collections.Counter[str] = collections.Counter()
    busy_us = 0.0
    at = profile["startTime"]
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        at += delta
        group, function = _frame(nodes[sample])
        if function != "(idle)" and any(a <= at <= b for a, b in windows):
            groups[group] += 1
            functions[function] += 1
            categories[category(nodes[sample])] += 1
            busy_us += delta
    return groups, functions, categories, busy_us


def summary(profile: dict[str, Any], window: tuple[float, float], top: int = 8) -> dict[str, Any]:
    """What bench/run.py keeps of a profile: the busy samples in `window`, the share of the
    window the main thread was busy, and the shares by category and the largest by package
    and by function."""
    groups, functions, categories, busy_us = busy_counts(profile, [window])
    busy = sum(groups.values()) or 1
    return {
        "busy_samples": sum(groups.values()),
        "busy_share": round(busy_us / max(window[1] - window[0], 1.0), 3),
        "categories": {c: round(n / busy, 3) for c, n in categories.most_common()},
        "groups": {g: round(n / busy, 3) for g, n in groups.most_common(top)},
        "functions": {f: round(n / busy, 3) for f, n in functions.most_common(top)},
    }


def summarize(profile: dict[str, Any], windows: list[tuple[float, float]], top: int) -> None:
    groups, functions, _, _ = busy_counts(profile, windows)
    busy = sum(groups.values()) or 1
    print(f"{busy} busy samples in the measured runs")
    for title, counter in (("package or module", groups), ("function (self time)", functions)):
        print(f"\n--- by {title}")
        for key, count in counter.most_common(top):
            print(f"{100 * count / busy:5.1f}%  {key}")


def newest_profile(folder: Path) -> dict[str, Any] | None:
    """The last profile Node wrote into `folder` (Node writes one when Azurite exits)."""
    found = sorted(folder.glob("*.cpuprofile"), key=lambda p: p.stat().st_mtime)
    return json.loads(found[-1].read_text()) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="orchestrations_per_s")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="folder for the .cpuprofile (default: temp)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    out = (args.out or Path(tempfile.mkdtemp(prefix="azurite-profile-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    flags = node_flags(out)
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
