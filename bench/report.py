"""Write docs/performance.md and docs/perf-*.png from a results JSON of bench/run.py.

Run (bench/.venv, which has matplotlib): bench/.venv/bin/python bench/report.py [RESULTS.json]
(default bench/results/latest.json). bench/run.py runs it after a benchmark; on its own (or
`make bench-report`) it re-renders the docs from stored results without running anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from goal_bounds import bounds_section
from goals import GOALS, UNITS, R, cpu_ms, cpu_per_unit, fmt, goal_text, plural
from host_warnings import warnings_section
from perf_plots import write_plots
from profile_report import azurite_section, profiles_section
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
        "10 clients at 150 starts/s leave each start 67 ms." + _start_requests(hs),
        "",
    ]


def _start_requests(hs: R) -> str:
    if "requests_per_start" not in hs:
        return ""
    ops = ", ".join(f"{k} {v:.2f}" for k, v in hs["requests_by_operation"].items())
    return (
        f" Storage requests per start over the timed runs: {hs['requests_per_start']:.2f} by "
        f"the host ({ops}; its pollers and lease renewals of those seconds included), besides "
        f"{hs['wait_requests_per_start']:.2f} status reads by the benchmark's client while it "
        "waited for each instance to complete."
    )


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


def _profiles(r: R) -> R | None:
    """This run's profiles, or for results without them (older runs, --no-profiles) the ones
    bench/host_profile.py --save stored."""
    if r.get("profiles"):
        return dict(r["profiles"])
    return json.loads(PROFILES.read_text()) if PROFILES.exists() else None


def _ab_steps() -> str:
    return AB_STEPS.read_text(encoding="utf-8") if AB_STEPS.exists() else ""


def _head(r: R) -> list[str]:
    """The title, the run and the results table."""
    m = r["machine"]
    sizes = r["sizes"]
    peer = r.get("peer")
    peer_line = (
        f"DBOS Transact {peer['version']} on a SQLite system database (its queue polled every "
        "10 ms, its best case; the default is 1 s)"
        if peer
        else "DBOS was not run (bench/.venv missing or --no-peer)"
    )
    return [
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
    ]


def _analysis(r: R) -> list[str]:
    """Issue 24's goals, what bounds the missed ones, and where the CPU goes."""
    h = r["host"]
    profiles = _profiles(r)
    return [
        *ratio_goals_section(r),
        "## What bounds each missed goal",
        "",
        *bounds_section(r, profiles, _ab_steps()),
        "",
        "## Where the host's CPU goes (py-spy)",
        "",
        *profiles_section(profiles),
        "",
        "## Where Azurite's CPU goes (Node's --cpu-prof)",
        "",
        *azurite_section(profiles),
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
    ]


def _storage(r: R) -> list[str]:
    """Azurite's round trips, the storage requests, the peer, warnings and memory."""
    h = r["host"]
    return [
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
        *warnings_section(r),
        "",
        "## Memory",
        "",
        f"Peak RSS of the process hosting the engine during workload 2: "
        f"{h['fan_out']['rss_peak_mib']:.0f} MiB (it was {h['fan_out']['rss_baseline_mib']:.0f} "
        "MiB before; sampled every 10 ms from /proc; the benchmark harness shares the process).",
        "",
    ]


def write(r: R) -> None:
    write_plots(r, DOCS)
    doc = [*_head(r), *_analysis(r), *_storage(r)]
    (DOCS / "performance.md").write_text("\n".join(doc))


def main() -> None:
    results_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench/results/latest.json"
    write(json.loads(results_path.read_text()))


if __name__ == "__main__":
    main()
