"""The py-spy section of docs/performance.md, from bench/results/profiles.json (written by
bench/host_profile.py --save). The profiles come from their own run of each workload, so the
section says when and at what load they were taken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["profiles_section"]

# Columns in the order a reader compares them; a category a workload never hit shows "-".
_CATEGORIES = [
    "storage requests (RestClient.request)",
    "orchestrator replays and entity batches (Python SDK)",
    "activities",
    "HTTP server and starter function",
    "the benchmark's own client",
    "checkpoint encoding",
    "aiohttp outside a request (body writes, answers read in callbacks)",
    "engine (other durable_host code)",
    "event loop and the rest",
]


def _share(value: float | None) -> str:
    return "-" if not value else f"{value:.0%}"


def profiles_section(path: Path) -> list[str]:
    if not path.exists():
        return [
            "No profile in this run: `.venv/bin/python bench/host_profile.py <workloads> --save` "
            "writes one (py-spy)."
        ]
    saved: dict[str, Any] = json.loads(path.read_text())
    workloads: dict[str, Any] = saved["workloads"]
    names = list(workloads)
    lines = [
        f"`bench/host_profile.py` (py-spy at {saved['rate']} samples/s), run {saved['started']} "
        f"(load average {saved['load_before']} before), one workload at a time in its own "
        "process on its own Azurite, from the moment the workload starts until it ends. Busy "
        "samples are those of threads on the CPU or ready for it (py-spy leaves idle threads "
        "out); each is counted in the first category whose function is on its stack. "
        "'Event loop busy' is the share of the wall time the host's event-loop thread was "
        "busy: well below 100% means the host waited (for Azurite or for a core), not that "
        "its CPU bounded the workload.",
        "",
        "| Share of the host's busy samples | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for category in _CATEGORIES:
        cells = [_share(workloads[n]["categories"].get(category)) for n in names]
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    busy = [f"{workloads[n]['loop_busy_share']:.0%}" for n in names]
    lines.append("| *event loop busy, share of wall time* | " + " | ".join(busy) + " |")
    lines += [
        "",
        "Top frames, by workload: first durable_host's (the innermost of ours in a sample), "
        "then any code's (the innermost frame):",
        "",
    ]
    for name in names:
        w = workloads[name]
        ours = ", ".join(f"`{f}` {v:.0%}" for f, v in list(w["frames"].items())[:5])
        leaves = ", ".join(f"`{f}` {v:.0%}" for f, v in list(w.get("leaves", {}).items())[:5])
        lines.append(f"- **{name}** (load average {w['load']}): {ours}; innermost: {leaves}.")
    return lines
