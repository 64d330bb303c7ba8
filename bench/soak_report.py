"""Figures of a soak run (bench/soak.py): a plot over time and a Markdown table.

Run (bench/.venv, which has matplotlib):
    bench/.venv/bin/python bench/soak_report.py RUN/soak.json [--png P.png] [--md P.md]

The plot: instances finished per 10 s, p50 and p95 latency to completion (start acknowledged
to the final status seen), and each fault as a band. The table: instances and what became of
them, faults of each kind, duplicates, and the time from each fault's end to throughput back
at 90% of the run's median (storage pauses: from storage answering again).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BUCKET = 10.0
# Issue 23's goal: throughput back at 90% within 10 s of a fault's end, 5 s of storage
# answering again after a pause (a window of BUCKET seconds that starts that soon).
GOAL_SECONDS = {"storage_pause": 5.0}
COLOURS = {
    "host_kill": "tab:red",
    "storage_pause": "tab:orange",
    "connection_reset": "tab:purple",
    "azurite_restart": "tab:brown",
    "loop_block": "tab:gray",
}


def buckets(data: dict[str, Any]) -> list[tuple[float, int, float | None, float | None]]:
    """(bucket start, finished, p50, p95) per 10 s over the run's working time."""
    done = data["completions"]
    end = data["minutes"] * 60
    rows = []
    start = 0.0
    while start < end:
        lat = sorted(latency for t, latency, _ in done if start <= t < start + BUCKET)
        p50 = statistics.median(lat) if lat else None
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None
        rows.append((start, len(lat), p50, p95))
        start += BUCKET
    return rows


def baselines(data: dict[str, Any]) -> tuple[float, float]:
    """The median 10 s throughput of the whole run, and of the windows no fault touched
    (faults are active much of the time, so the first is the lower bar)."""
    rows = buckets(data)[1:-1]
    faults = data["faults"]

    def touched(start: float) -> bool:
        return any(f["start"] < start + BUCKET and (f["end"] or f["start"]) > start for f in faults)

    every = [n for _, n, _, _ in rows] or [0]
    quiet = [n for start, n, _, _ in rows if not touched(start)] or every
    return statistics.median(every), statistics.median(quiet)


def recoveries(data: dict[str, Any], baseline: float) -> dict[str, list[float | str]]:
    """Per fault kind: seconds from each fault's end until 10 s of throughput reach 90% of
    `baseline` (a median 10 s throughput). Faults overlap: the clock starts when no fault is
    active any more (`quiet_after`), so a fault is not blamed for one that outlasted it;
    "cut" when another fault began before throughput was back, "never" when the work
    stopped first."""
    faults = data["faults"]
    times = sorted(t for t, _, _ in data["completions"])
    end = data["minutes"] * 60
    target = 0.9 * baseline
    found: dict[str, list[float | str]] = {}
    for fault in faults:
        if fault["end"] is None:
            continue
        quiet = quiet_after(faults, fault["end"])
        next_start = min((f["start"] for f in faults if f["start"] >= quiet), default=end)
        moment, back = quiet, "never"
        while moment + BUCKET <= end:
            if moment > next_start:
                back = "cut"
                break
            if sum(1 for t in times if moment <= t < moment + BUCKET) >= target:
                back = round(moment - quiet, 1)
                break
            moment += 1.0
        found.setdefault(fault["kind"], []).append(back)
    return found


def quiet_after(faults: list[dict[str, Any]], moment: float) -> float:
    """The first time at or after `moment` when no fault is active."""
    while True:
        later = [
            f["end"] for f in faults if f["end"] is not None and f["start"] <= moment < f["end"]
        ]
        if not later:
            return moment
        moment = max(later)


def plot(data: dict[str, Any], path: Path) -> None:
    rows = buckets(data)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.bar(
        [r[0] for r in rows],
        [r[1] for r in rows],
        width=BUCKET * 0.9,
        align="edge",
        color="tab:blue",
        alpha=0.6,
        label="instances finished per 10 s",
    )
    ax.set_xlabel("seconds since the soak began")
    ax.set_ylabel("instances per 10 s")
    lat = ax.twinx()
    xs = [r[0] + BUCKET / 2 for r in rows if r[2] is not None]
    lat.plot(xs, [r[2] for r in rows if r[2] is not None], color="tab:green", label="p50 latency")
    lat.plot(
        xs, [r[3] for r in rows if r[3] is not None], color="black", lw=0.8, label="p95 latency"
    )
    lat.set_ylabel("latency to completion, s")
    lanes = {kind: i for i, kind in enumerate(COLOURS)}
    top = max([r[1] for r in rows] + [1])
    for fault in data["faults"]:
        end = fault["end"] if fault["end"] is not None else fault["start"] + 1
        y = top * (1.02 + 0.04 * lanes[fault["kind"]])
        ax.plot(
            [fault["start"], max(end, fault["start"] + 1)],
            [y, y],
            color=COLOURS[fault["kind"]],
            lw=4,
        )
    for kind, colour in COLOURS.items():
        ax.plot([], [], color=colour, lw=4, label=kind.replace("_", " "))
    handles = ax.get_legend_handles_labels()
    more = lat.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=7, ncol=4)
    ax.set_ylim(0, top * 1.45)
    ax.set_title(f"soak seed {data['seed']}, {data['minutes']:g} min, {data['hosts']} hosts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(data: dict[str, Any]) -> str:
    check = data["check"]
    found = check["findings"]
    count = {w: sum(1 for f in found if f["what"] == w) for w in ("lost", "wrong", "stuck")}
    rows = buckets(data)
    counts = [n for _, n, _, _ in rows[1:-1]] or [0]
    latencies = sorted(latency for _, latency, _ in data["completions"])
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0
    p50 = statistics.median(latencies) if latencies else 0
    signals = f"{data['client_signals']} ({data['client_signals_unacknowledged']})"
    facts = [
        ("instances (with restarts, stalls)", f"{check['instances']:,} ({check['by_status']})"),
        ("lost / wrong / stuck", f"{count['lost']} / {count['wrong']} / {count['stuck']}"),
        ("client signals (unacknowledged)", signals),
        ("activity runs, duplicates", f"{check['activity_runs']:,}, {check['duplicate_runs']}"),
        ("raced timers that won after a slow run", str(check["slow_alternatives"])),
        ("throughput, median per 10 s", f"{statistics.median(counts):g} instances"),
        ("latency p50 / p95", f"{p50:.1f} s / {p95:.1f} s"),
        (
            "suspended instances resumed again (still suspended 20 s after a resume)",
            str(data.get("resumed_again", 0)),
        ),
        (
            "HTTP / storage calls retried by the driver",
            f"{data['http_retries']} / {data['storage_retries']}",
        ),
    ]
    lines = [f"**{data['summary']}**", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in facts]
    for name, baseline in zip(
        ("the run's", "the fault-free windows'"), baselines(data), strict=True
    ):
        lines += _recovery_table(data, name, baseline)
    rss = data["rss"]
    if rss:
        first = {}
        last = {}
        for t, _slot, pid, mib in rss:
            first.setdefault(pid, (t, mib))
            last[pid] = (t, mib)
        longest = max(first, key=lambda p: last[p][0] - first[p][0])
        lines += [
            "",
            f"Host RSS: the longest-lived host (pid {longest}) went from "
            f"{first[longest][1]:.0f} MiB at {first[longest][0]:.0f} s to "
            f"{last[longest][1]:.0f} MiB at {last[longest][0]:.0f} s; "
            f"highest of any host {max(m for *_, m in rss):.0f} MiB.",
        ]
    return "\n".join(lines) + "\n"


def _recovery_table(data: dict[str, Any], name: str, baseline: float) -> list[str]:
    lines = [
        "",
        f"Back to 90% of {name} median throughput ({baseline:g} per 10 s), from the end of "
        "the fault and of every fault overlapping it:",
        "",
        "| fault | count | median / max | within the goal | cut short by the next fault "
        "| never back |",
        "|---|---|---|---|---|---|",
    ]
    rec = recoveries(data, baseline)
    for kind in COLOURS:
        values = rec.get(kind, [])
        known = [v for v in values if isinstance(v, float)]
        cut, never = values.count("cut"), values.count("never")
        med = f"{statistics.median(known):.1f} s" if known else "—"
        worst = f"{max(known):.1f} s" if known else "—"
        count_of = data["fault_counts"].get(kind, 0)
        goal = GOAL_SECONDS.get(kind, 10.0)
        within = f"{sum(1 for v in known if v <= goal)} of {len(known)} (≤ {goal:g} s)"
        lines.append(
            f"| {kind.replace('_', ' ')} | {count_of} | {med} / {worst} | {within} | {cut} "
            f"| {never} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--png", type=Path)
    parser.add_argument("--md", type=Path)
    args = parser.parse_args()
    data = json.loads(args.results.read_text(encoding="utf-8"))
    png = args.png or args.results.with_name("soak.png")
    md = args.md or args.results.with_name("soak.md")
    plot(data, png)
    md.write_text(table(data), encoding="utf-8")
    print(f"wrote {png} and {md}")


if __name__ == "__main__":
    main()
