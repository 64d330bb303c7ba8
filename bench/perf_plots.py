"""The plots of docs/performance.md (docs/perf-*.png), from a results JSON of bench/run.py.

Needs matplotlib (bench/.venv).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from goals import GOALS, R, fmt, peer_figure

__all__ = ["write_plots"]


def write_plots(r: R, docs: Path) -> None:
    plot_hops(r, docs / "perf-hops.png")
    plot_floor(r, docs / "perf-floor.png")
    plot_peer(r, docs / "perf-peer.png")
    plot_transactions(r, docs / "perf-transactions.png")


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
