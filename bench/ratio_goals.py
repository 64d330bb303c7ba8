"""The goals of issue 24 (ratios to the floor and to DBOS) for docs/performance.md, and the
A/B log of the steps taken for them (bench/ab_steps.md, written by hand: the A/B runs are
separate from `make bench`, see bench/engine_ab.py and bench/replay_ab.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

R = dict[str, Any]
AB_STEPS = Path(__file__).resolve().parent / "ab_steps.md"


def _at(*path: str) -> Callable[[R], float | None]:
    """The figure at `path` in the results (None where the run has none, e.g. no peer)."""

    def get(r: R) -> float | None:
        node: Any = r
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        return None if node is None else float(node)

    return get


def _ratio(
    ours: Callable[[R], float | None], other: Callable[[R], float | None]
) -> Callable[[R], float | None]:
    def get(r: R) -> float | None:
        a, b = ours(r), other(r)
        return None if a is None or not b else a / b

    return get


def _floor(name: str) -> Callable[[R], float | None]:
    return _at("host", "floors", name, "value")


_HOP = _ratio(_at("host", "sequential", "median_ms"), _floor("sequential_ms_per_hop"))
_HOP_DBOS = _ratio(_at("host", "sequential", "median_ms"), _at("peer", "sequential", "median_ms"))
_FAN = _ratio(_at("host", "fan_out", "seconds"), _floor("fan_out_seconds"))
_ORCH = _ratio(_at("host", "concurrent", "per_s"), _floor("orchestrations_per_s"))
_ORCH_DBOS = _ratio(_at("host", "concurrent", "per_s"), _at("peer", "concurrent", "per_s"))
_HTTP = _ratio(_at("host", "http_starts", "per_s"), _floor("http_starts_per_s"))


@dataclass(frozen=True)
class RatioGoal:
    label: str
    figure: Callable[[R], float | None]
    goal: float
    lower_is_better: bool
    before: str  # what it was when the issue was filed
    workload: str  # its workload's key in the results' "host"
    versus: str  # "floor", "DBOS", or "" for a figure that is not a ratio

    def met(self, value: float) -> bool:
        return value <= self.goal if self.lower_is_better else value >= self.goal


GOALS = [
    RatioGoal("sequential hop median / floor", _HOP, 3, True, "6.08", "sequential", "floor"),
    RatioGoal("sequential hop median / DBOS", _HOP_DBOS, 4, True, "6.61", "sequential", "DBOS"),
    RatioGoal("fan-out of 1,000 / floor", _FAN, 2, True, "2.54", "fan_out", "floor"),
    RatioGoal(
        "100 x 5-activity orchestrations / DBOS",
        _ORCH_DBOS,
        1.15,
        False,
        "0.96",
        "concurrent",
        "DBOS",
    ),
    RatioGoal(
        "100 x 5-activity orchestrations / floor",
        _ORCH,
        0.8,
        False,
        "0.68",
        "concurrent",
        "floor",
    ),
    RatioGoal("HTTP starts / floor", _HTTP, 0.8, False, "0.59", "http_starts", "floor"),
    RatioGoal(
        "HTTP start p95, ms",
        _at("host", "http_starts", "p95_ms"),
        80,
        True,
        "106",
        "http_starts",
        "",
    ),
]


def target_text(g: RatioGoal) -> str:
    return f"{'≤' if g.lower_is_better else '≥'} {g.goal:g}"


def missed(r: R) -> list[tuple[RatioGoal, float]]:
    """The goals this run has a figure for and missed, with the figure."""
    found = [(g, g.figure(r)) for g in GOALS]
    return [(g, v) for g, v in found if v is not None and not g.met(v)]


def ratio_goals_section(r: R) -> list[str]:
    lines = [
        "## The goals of issue 24 (ratios from this run)",
        "",
        "| Goal | This run | Target | Met | When the issue was filed |",
        "|---|---:|---:|:-:|---:|",
    ]
    for g in GOALS:
        value = g.figure(r)
        if value is None:
            shown, met = "-", "-"
        else:
            shown = f"{value:.2f}"
            met = "yes" if g.met(value) else "**no**"
        lines.append(f"| {g.label} | {shown} | {target_text(g)} | {met} | {g.before} |")
    lines += [
        "",
        "The host's CPU per step of each workload is in the table 'CPU during each workload' "
        "below; what bounds each missed goal, in 'What bounds each missed goal' and the "
        "profiles.",
        "",
    ]
    if AB_STEPS.exists():
        lines += [*AB_STEPS.read_text(encoding="utf-8").rstrip("\n").splitlines(), ""]
    return lines
