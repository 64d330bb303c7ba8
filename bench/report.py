"""Write docs/performance.md and docs/perf-*.png from a results JSON of bench/run.py.

Run (bench/.venv, which has matplotlib): bench/.venv/bin/python bench/report.py RESULTS.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from goal_bounds import bounds_section
from goals import GOALS, UNITS, R, cpu_ms, cpu_per_unit, fmt, goal_text, peer_figure, plural
from profile_report import profiles_section
from ratio_goals import AB_STEPS, ratio_goals_section

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "bench" / "results" / "profiles.json"
DOCS = ROOT / "docs"


def table(r: R) -> list[str]:
    lines = [
        "| Workload | Ours | Goal | Met | Floor (Azurite) | Ours/floor | DBOS | Ours/DBOS "
        "| Azure documented max |",
        "|---|---:|---:|:-:|---:|---:|---:|---:|---|",
    ]
    for g in GOALS:
        ours = g.ours(r)
        floor, peer = g.floor(r), g.peer(r)
        met = "-" if g.goal in (0, float("inf")) else ("yes" if g.met(ours) else "**no**")
        lines.append(
            f"| {g.label} | {fmt(ours)} {g.unit} | {goal_text(g)} | {met} "
            f"| {fmt(floor)} | {fmt(ours / floor) if floor else '-'} "
            f"| {fmt(peer)} | {fmt(ours / peer) if peer else '-'} | {g.azure} |"
        )
    return lines


def round_trip_table(r: R) -> list[str]:
    h = r["host"]
    sdk = h.get("round_trips_sdk", {})
    lines = [
        "| Operation | Median, one at a time | Client CPU per request (user) "
        "| Throughput, 32 in flight | Client CPU meanwhile (cores) | SDK: median "
        "| SDK: CPU per request (user) | SDK: throughput |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op, f in h["round_trips"].items():
        s = sdk.get(op)
        theirs = (
            f"{s['ms']:.2f} ms | {cpu_ms(s):.2f} ms{_user(s)} | {s['per_s']:,.0f}/s"
            if s
            else "- | - | -"
        )
        lines.append(
            f"| {op} | {f['ms']:.2f} ms | {cpu_ms(f):.2f} ms{_user(f)} | {f['per_s']:,.0f}/s "
            f"| {f.get('client_cpu', 0):.2f} | {theirs} |"
        )
    lines += [
        "",
        "The first columns are the minimal client (durable_host's thin REST client: aiohttp, "
        "SharedKey signing, no pipeline; see docs/storage-client.md), which prices the floors; "
        "the SDK columns are the same requests through the Azure SDK clients "
        "(azure-storage-queue, azure-data-tables). "
        "Client CPU per request is the benchmark process's CPU time per call while calls run "
        "one at a time, with its user-space part in brackets (on loopback the kernel's part "
        "includes delivering the request to Azurite); 'client CPU meanwhile' is the share of "
        "a core it used during the throughput test (near 1.00 the Python client, not Azurite, "
        "sets the pace).",
    ]
    return lines


def _user(f: dict[str, float]) -> str:
    return f" ({f['user_ms']:.2f})" if "user_ms" in f else ""


def cpu_table(r: R) -> list[str]:
    lines = [
        "| Workload | Wall | Host CPU (share of a core) | Azurite CPU (share of a core) "
        "| Load average | Host CPU per unit | Azurite CPU per unit | Ceiling on 2 free cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in UNITS:
        found = cpu_per_unit(r, key)
        if found is None:
            continue
        unit, host, azurite, cpu = found
        wall = cpu["wall_s"]
        lines.append(
            f"| {key} | {wall:.1f} s | {cpu['host_s']:.1f} s ({cpu['host_s'] / wall:.2f}) "
            f"| {cpu['azurite_s']:.1f} s ({cpu['azurite_s'] / wall:.2f}) | {cpu['load']} "
            f"| {host:.1f} ms/{unit} | {azurite:.1f} ms/{unit} "
            f"| {1000 / max(host, azurite):,.0f} {plural(unit)}/s |"
        )
    lines += [
        "",
        "Measured around each workload (all its runs and its warm-up): the host's CPU (this "
        "process: engine, SDK replays, functions, HTTP server, storage client) and Azurite's "
        "(one Node.js process). A share near 1.00 means that process was CPU-bound; both well "
        "below 1.00 with a high load average means both waited for cores other work held. "
        "The ceiling is what the CPU per unit allows if each process had a core of its own "
        "(the larger of the two per unit bounds it; latency-bound workloads such as the "
        "sequential hop never reach it).",
    ]
    return lines


def http_starts_section(r: R) -> list[str]:
    hs = r["host"].get("http_starts")
    if not hs:
        return []
    return [
        "## HTTP starts",
        "",
        f"{hs['starts']:,} POSTs to the bench app's own starter (`POST "
        "/api/orchestrators/single`, the usual `client.start_new` + "
        "`create_check_status_response` function) through the whole host (HTTP server, "
        f"function invocation, the SDK's client calls back to the host, engine), from "
        f"{hs['clients']} concurrent loopback clients (a bounded aiohttp session), "
        f"{hs['runs']} run(s). Each start is timed from its POST until its 1-activity "
        f"orchestration has completed: p50 {hs['p50_ms']:.0f} ms, p95 {hs['p95_ms']:.0f} ms; "
        f"{hs['per_s']:.0f} starts/s (median of the runs: {_list(hs['per_s_all'])}). With a "
        "fixed number of clients, latency and rate are tied (clients = rate x latency): "
        "10 clients at 150 starts/s leave each start 67 ms.",
        "",
    ]


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def transactions_table(r: R) -> list[str]:
    t = r["host"]["transactions"]
    ops = sorted(set(t["sequential"]["by_operation"]) | set(t["fan_out"]["by_operation"]))
    lines = ["| Operation | Per sequential activity | Per fan-out activity |", "|---|---:|---:|"]
    for op in ops:
        lines.append(
            f"| {op} | {t['sequential']['by_operation'].get(op, 0):.2f} "
            f"| {t['fan_out']['by_operation'].get(op, 0):.3f} |"
        )
    lines.append(
        f"| **total** | **{t['sequential']['total']:.2f}** | **{t['fan_out']['total']:.2f}** |"
    )
    overhead = ", ".join(f"{k} {v}" for k, v in sorted(t["orchestration_overhead"].items()))
    lines += [
        "",
        f"Fixed cost of one orchestration (start, one checkpoint, completion): {overhead}.",
    ]
    return lines


def _warnings(r: R) -> list[str]:
    records = r.get("host_warnings") or []
    if not records:
        return ["None: the host logged no warning."]
    # Same message, many instances: show each distinct message once, with its count.
    distinct: dict[str, tuple[str, int]] = {}
    for line in records:
        at, _, message = line.partition(" s ")
        key = " ".join(w for w in message.split() if not _looks_like_id(w))
        first, count = distinct.get(key, (at, 0))
        distinct[key] = (first, count + 1)
    shown = [f"    {count:4} x from {first} s: {key}" for key, (first, count) in distinct.items()]
    more: list[str] = []
    notes = []
    if any("Reporting activity" in line for line in records):
        notes += [
            "",
            "'Reporting activity ... failed; it will run again': in the runs examined, the "
            "delete of the activity's work item met 404 MessageNotFound (a stale pop "
            "receipt), so the activity's result is reported again: the host's at-least-once "
            "path, seen here only under saturation, with the stall that follows.",
        ]
    if any("Finishing a checkpoint" in line for line in records):
        notes += [
            "",
            "'Finishing a checkpoint ... failed': in the runs examined, after a stall the "
            "delete of a control-queue message met 404 MessageNotFound (its pop receipt had "
            "gone stale); the history was already written, so the next checkpoint repairs the "
            "status and the message's copy is dropped as a duplicate.",
        ]
    if any("could not be renewed" in line for line in records):
        notes += [
            "",
            "A lease that could not be renewed in time means a renewal (every 10 s, 30 s "
            "leases) did not get an answer in time. Lease renewals have their own connection "
            "pool, so they no longer queue behind the workload; what remains is in-memory "
            "Azurite stalling every request at once for seconds to minutes when it holds the "
            "data of the heavy workloads (timed outside this suite: a lease query and a queue "
            "receive both waiting 12 s together, about 50 s after two 1,000-activity fan-outs). "
            "The host then releases its control queues and claims them again at the next "
            "pass. Medians keep such a run from setting a figure; the idle workload runs "
            "first, before Azurite holds that data.",
        ]
    return [
        f"{len(records)} warning(s), times from the start of the run:",
        "",
        *shown,
        *more,
        *notes,
    ]


def _looks_like_id(word: str) -> bool:
    bare = word.strip("'\";:,.")
    return len(bare) >= 16 and sum(c.isdigit() for c in bare) >= 4


def _profiles() -> R | None:
    return json.loads(PROFILES.read_text()) if PROFILES.exists() else None


def _ab_steps() -> str:
    return AB_STEPS.read_text(encoding="utf-8") if AB_STEPS.exists() else ""


# -- plots ------------------------------------------------------------------------------------


def plot_hops(r: R, path: Path) -> None:
    samples = sorted(r["host"]["sequential"]["samples_ms"])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ys = [(i + 1) / len(samples) for i in range(len(samples))]
    ax.step(samples, ys, where="post", label="durable_host (Azurite)")
    floor = r["host"]["floors"]["sequential_ms_per_hop"]
    ax.axvline(floor["value"], color="grey", ls="--", label=f"floor: Azurite {floor['model']}")
    ax.axvline(15, color="green", ls=":", label="goal 15 ms")
    peer = peer_figure("sequential", "median_ms")(r)
    if peer is not None:
        ax.axvline(peer, color="tab:orange", ls="-.", label="DBOS (SQLite) median")
    ax.set_xlim(left=0)
    ax.set_xlabel("ms per sequential hop")
    ax.set_ylabel("fraction of hops")
    ax.set_title("Workload 1: latency of one activity hop (CDF)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_floor(r: R, path: Path) -> None:
    """Each workload as a share of its physical limit (100% = at Azurite's floor)."""
    rows = []
    for g in GOALS:
        floor = g.floor(r)
        if floor is None or g.key in ("tx_fan", "idle_rps", "sequential_p95"):
            continue
        ours = g.ours(r)
        share = floor / ours if g.lower_is_better else ours / floor
        rows.append((g.label, share * 100))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    labels = [label for label, _ in rows][::-1]
    values = [v for _, v in rows][::-1]
    ax.barh(labels, values, color=["tab:green" if v >= 50 else "tab:red" for v in values])
    ax.axvline(100, color="grey", ls="--")
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.0f}%", va="center", fontsize=8)
    ax.set_xlabel("% of the physical limit (Azurite round trips; 100% = at the floor)")
    ax.set_title("How close to what storage allows")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_peer(r: R, path: Path) -> None:
    peer = r.get("peer")
    keys = [
        ("sequential", "median_ms", "hop, ms\n(lower is better)"),
        ("fan_out", "seconds", "fan-out, s\n(lower is better)"),
        ("concurrent", "per_s", "orchestrations/s\n(higher is better)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(8, 3.2))
    for ax, (work, field, title) in zip(axes, keys, strict=True):
        ours = r["host"][work][field]
        theirs = peer[work][field] if peer else 0
        ax.bar(["durable_host", "DBOS"], [ours, theirs], color=["tab:blue", "tab:orange"])
        ax.set_title(title, fontsize=9)
        for i, v in enumerate([ours, theirs]):
            ax.text(i, v, fmt(v), ha="center", va="bottom", fontsize=8)
    fig.suptitle("Workloads 1-3 side by side (same machine, same run)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_transactions(r: R, path: Path) -> None:
    t = r["host"]["transactions"]
    ops = sorted(set(t["sequential"]["by_operation"]) | set(t["fan_out"]["by_operation"]))
    fig, ax = plt.subplots(figsize=(7, 3.4))
    bottoms = [0.0, 0.0]
    for op in ops:
        vals = [t["sequential"]["by_operation"].get(op, 0), t["fan_out"]["by_operation"].get(op, 0)]
        ax.bar(["per sequential activity", "per fan-out activity"], vals, bottom=bottoms, label=op)
        bottoms = [b + v for b, v in zip(bottoms, vals, strict=True)]
    ax.axhline(8, color="green", ls=":", label="goal (sequential) 8")
    ax.set_ylabel("storage requests")
    ax.set_title("Workload 7: storage requests per activity, by operation")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(r: R) -> None:
    plot_hops(r, DOCS / "perf-hops.png")
    plot_floor(r, DOCS / "perf-floor.png")
    plot_peer(r, DOCS / "perf-peer.png")
    plot_transactions(r, DOCS / "perf-transactions.png")
    m = r["machine"]
    h = r["host"]
    sizes = r["sizes"]
    peer = r.get("peer")
    peer_line = (
        f"DBOS Transact {peer['version']} on a SQLite system database (its queue polled every "
        "10 ms, its best case; the default is 1 s)"
        if peer
        else "DBOS was not run (bench/.venv missing or --no-peer)"
    )
    doc = [
        "# Performance",
        "",
        "Generated by `python bench/run.py` (`make bench`) from `bench/results/latest.json`; "
        "do not edit by hand, re-run instead.",
        "",
        f"Run: {r['mode']} mode, {r['started']}, {r['seconds']:.0f} s; {m['cpus']} CPUs, "
        f"Python {m['python']}, {m['platform']}. Load average (1/5/15 min) {m['load_before']} "
        f"before and {m['load_after']} after: the machine is shared with other work, so "
        "every figure is a median over "
        f"{sizes['runs']} run(s) and the floors are measured in the same run."
        + (
            f" Speed of one core: a 10-million-step Python loop took {m['python_loop_s']} s "
            "(machines of this kind differ from day to day: compare runs by their ratios to "
            "the floor and to the peer, which move with the machine)."
            if "python_loop_s" in m
            else ""
        ),
        "",
        "Workloads run on durable_host with Azurite (in memory), through the engine's public "
        "client API, each on a fresh task hub with the extension's default settings. "
        f"Peer: {peer_line}, running workloads 1-3 with equivalent steps "
        "(`bench/peer_dbos.py`).",
        "",
        "## Results",
        "",
        *table(r),
        "",
        "*Floor*: the fewest Azurite round trips the workload needs with the Durable Task Azure "
        "Storage layout, priced at Azurite's round trips measured in this run (below). "
        "For times (ms, s) a ratio above 1 is slower than the floor; for rates (/s) a ratio "
        "below 1 is slower. *Ours/DBOS* reads the same way. The floor is priced with round "
        "trips measured a few minutes apart from the workload on a shared machine, so a "
        "workload can land a little beyond it (over 100% in the plot): read that as at "
        "the floor. The idle floor is 5 pollers (4 "
        "control queues, 1 work-item queue) at the 30 s maximum polling interval plus the "
        "partition leases renewed every 10 s (1 query and 4 writes).",
        "",
        "![share of the physical limit](perf-floor.png)",
        "",
        *ratio_goals_section(r),
        "## What bounds each missed goal",
        "",
        *bounds_section(r, _profiles(), _ab_steps()),
        "",
        "## Where the host's CPU goes (py-spy)",
        "",
        *profiles_section(PROFILES),
        "",
        "## Sequential hops",
        "",
        f"{h['sequential']['runs']} chains of {h['sequential']['hops']} activities; a hop is "
        "the time between two consecutive activities starting (each activity returns "
        "`time.perf_counter()`; the host runs them in the benchmark's process). End to end, "
        f"start to completion divided by the hops: {h['sequential']['end_to_end_ms_per_hop']:.1f} "
        "ms per hop.",
        "",
        "![hop latency](perf-hops.png)",
        "",
        *http_starts_section(r),
        "## CPU during each workload",
        "",
        *cpu_table(r),
        "",
        "## The physical limit: Azurite's round trips",
        "",
        "Measured from the benchmark process with a minimal client and with the Azure SDK "
        "clients, before and after the workloads (`bench/physical.py`); the floors are priced "
        "with the minimal client's figures, the mean of before and after, shown here.",
        "",
        *round_trip_table(r),
        "",
        "Floor models: "
        + "; ".join(f"{k.replace('_', ' ')}: {v['model']}" for k, v in h["floors"].items())
        + ".",
        "",
        "## Storage requests",
        "",
        "Every request the queue, table and blob SDKs send is counted by operation "
        "(`bench/storage_counter.py`: a pipeline policy on the SDKs' transport, in the "
        "benchmark process only; retries count). Per activity = (requests of a run with N "
        "activities - requests of a run with none) / N.",
        "",
        *transactions_table(r),
        "",
        "![storage requests per activity](perf-transactions.png)",
        "",
        f"Idle host: {h['idle']['idle_requests_per_s']:.2f} requests/s over the last "
        f"{h['idle']['idle_window_s']:.0f} s of a {h['idle']['idle_seconds']:.0f} s idle "
        "period (the first half lets the pollers back off).",
        "",
        "## Side by side with DBOS",
        "",
        "![durable_host and DBOS](perf-peer.png)",
        "",
        "DBOS keeps its checkpoints in SQLite in the same process (a committed transaction "
        "per step and per enqueue, in a temporary directory on the machine's ext4 disk); "
        "durable_host keeps them in Azure Storage (Azurite over HTTP), which is the "
        "layout a Functions app needs in Azure. The comparison shows what that layout costs "
        "on one machine, not which is better in production.",
        "",
        "## Host warnings during the run",
        "",
        *_warnings(r),
        "",
        "## Memory",
        "",
        f"Peak RSS of the process hosting the engine during workload 2: "
        f"{h['fan_out']['rss_peak_mib']:.0f} MiB (it was {h['fan_out']['rss_baseline_mib']:.0f} "
        "MiB before; sampled every 10 ms from /proc; the benchmark harness shares the process).",
        "",
    ]
    (DOCS / "performance.md").write_text("\n".join(doc))


def main() -> None:
    results_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench/results/latest.json"
    write(json.loads(results_path.read_text()))


if __name__ == "__main__":
    main()
