"""The goals docs/performance.md measures each workload against, and the figures per unit of
work both its tables and its bounds section read from a results JSON of bench/run.py.

Pure (no plotting), so the tests can read it without bench/.venv.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

R = dict[str, Any]

# An idle host of the layout: 5 pollers (4 control queues, the work-item queue) at the 30 s
# maximum interval, and the partition leases renewed every 10 s (1 query + 4 writes).
IDLE_FLOOR = 5 / 30 + 5 / 10


@dataclass(frozen=True)
class Goal:
    key: str
    label: str
    unit: str
    goal: float
    lower_is_better: bool
    ours: Callable[[R], float]
    floor: Callable[[R], float | None]
    peer: Callable[[R], float | None]
    azure: str  # the documented maximum of Durable Functions on Azure Storage

    def met(self, value: float) -> bool:
        return value <= self.goal if self.lower_is_better else value >= self.goal


def peer_figure(*path: str) -> Callable[[R], float | None]:
    def get(r: R) -> float | None:
        node: Any = r.get("peer")
        for p in path:
            if node is None:
                return None
            node = node.get(p)
        return None if node is None else float(node)

    return get


def _floor(name: str) -> Callable[[R], float | None]:
    return lambda r: float(r["host"]["floors"][name]["value"])


GOALS = [
    Goal(
        "sequential",
        "1. Sequential hop, median",
        "ms",
        10,
        True,
        lambda r: r["host"]["sequential"]["median_ms"],
        _floor("sequential_ms_per_hop"),
        peer_figure("sequential", "median_ms"),
        "5 activities/s (200 ms)",
    ),
    Goal(
        "sequential_p95",
        "1. Sequential hop, p95",
        "ms",
        float("inf"),
        True,
        lambda r: r["host"]["sequential"]["p95_ms"],
        _floor("sequential_ms_per_hop"),
        peer_figure("sequential", "p95_ms"),
        "",
    ),
    Goal(
        "fan_out",
        "2. Fan-out/fan-in, end to end",
        "s",
        5,
        True,
        lambda r: r["host"]["fan_out"]["seconds"],
        _floor("fan_out_seconds"),
        peer_figure("fan_out", "seconds"),
        "100 activities/s, 150 responses/s (10 s for 1,000)",
    ),
    Goal(
        "concurrent",
        "3. Orchestrations of 5 activities",
        "/s",
        40,
        False,
        lambda r: r["host"]["concurrent"]["per_s"],
        _floor("orchestrations_per_s"),
        peer_figure("concurrent", "per_s"),
        "",
    ),
    Goal(
        "events",
        "4. External events",
        "/s",
        300,
        False,
        lambda r: r["host"]["events"]["per_s"],
        _floor("events_per_s"),
        lambda r: None,
        "50 events/s",
    ),
    Goal(
        "entities_1",
        "5. Entity operations, 1 entity",
        "/s",
        600,
        False,
        lambda r: r["host"]["entities_1"]["per_s"],
        _floor("entity_ops_per_s"),
        lambda r: None,
        "64 operations/s per entity",
    ),
    Goal(
        "entities_100",
        "5. Entity operations, 100 entities",
        "/s",
        400,
        False,
        lambda r: r["host"]["entities_100"]["per_s"],
        _floor("entity_ops_per_s"),
        lambda r: None,
        "",
    ),
    Goal(
        "http_starts",
        "9. HTTP starts, to completion",
        "/s",
        150,
        False,
        lambda r: r["host"]["http_starts"]["per_s"],
        _floor("http_starts_per_s"),
        lambda r: None,
        "",
    ),
    Goal(
        "http_starts_p95",
        "9. HTTP start, p95 from POST to completion",
        "ms",
        100,
        True,
        lambda r: r["host"]["http_starts"]["p95_ms"],
        lambda r: None,
        lambda r: None,
        "",
    ),
    Goal(
        "idle",
        "6. Idle host to first activity",
        "ms",
        50,
        True,
        lambda r: r["host"]["idle"]["first_activity_ms"],
        _floor("idle_to_first_activity_ms"),
        lambda r: None,
        "polling backs off to 30 s",
    ),
    Goal(
        "tx_seq",
        "7. Storage requests per sequential activity",
        "",
        8,
        True,
        lambda r: r["host"]["transactions"]["sequential"]["total"],
        _floor("transactions_per_sequential_activity"),
        lambda r: None,
        "",
    ),
    Goal(
        "tx_fan",
        "7. Storage requests per fan-out activity",
        "",
        float("inf"),
        True,
        lambda r: r["host"]["transactions"]["fan_out"]["total"],
        _floor("transactions_per_fan_out_activity"),
        lambda r: None,
        "",
    ),
    Goal(
        "idle_rps",
        "7. Storage requests/s, idle host",
        "/s",
        1,
        True,
        lambda r: r["host"]["idle"]["idle_requests_per_s"],
        lambda r: IDLE_FLOOR,
        lambda r: None,
        "",
    ),
    Goal(
        "rss",
        "8. Peak RSS during workload 2",
        "MiB",
        200,
        True,
        lambda r: r["host"]["fan_out"]["rss_peak_mib"],
        lambda r: None,
        lambda r: None,
        "",
    ),
]


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def goal_text(g: Goal) -> str:
    if g.goal in (0, float("inf")):
        return "-"
    return f"{'≤' if g.lower_is_better else '≥'} {fmt(g.goal)}"


def cpu_ms(f: dict[str, float]) -> float:
    """Client CPU ms per request: measured one at a time, else implied by the throughput."""
    if "cpu_ms" in f:
        return float(f["cpu_ms"])
    return float(f.get("client_cpu", 0.0)) / float(f["per_s"]) * 1000


# Workload key -> (what one unit is, how many units a run has).
UNITS: dict[str, tuple[str, Callable[[R], float]]] = {
    "sequential": ("hop", lambda w: w["hops"] * w["runs"]),
    "fan_out": ("activity", lambda w: w["activities"] * w["runs"]),
    "concurrent": ("orchestration", lambda w: w["orchestrations"] * w["runs"]),
    "events": ("event", lambda w: w["events"] * w["runs"]),
    "entities_1": ("operation", lambda w: w["signals"] * w["runs"]),
    "entities_100": ("operation", lambda w: w["signals"] * w["runs"]),
    "http_starts": ("start", lambda w: w["starts"] * w["runs"]),
}


def cpu_per_unit(r: R, key: str) -> tuple[str, float, float, dict[str, float]] | None:
    """(unit, host CPU ms per unit, Azurite CPU ms per unit, the raw figures)."""
    workload = r["host"].get(key) or {}
    cpu = workload.get("cpu")
    if cpu is None or key not in UNITS:
        return None
    unit, count = UNITS[key]
    n = float(count(workload))
    return unit, cpu["host_s"] * 1000 / n, cpu["azurite_s"] * 1000 / n, cpu


def plural(unit: str) -> str:
    return unit[:-1] + "ies" if unit.endswith("y") else unit + "s"


def floor_key(key: str) -> str:
    return {
        "sequential": "sequential_ms_per_hop",
        "fan_out": "fan_out_seconds",
        "concurrent": "orchestrations_per_s",
        "entities_1": "entity_ops_per_s",
        "entities_100": "entity_ops_per_s",
        "idle": "idle_to_first_activity_ms",
        "events": "events_per_s",
        "http_starts": "http_starts_per_s",
        "tx_seq": "transactions_per_sequential_activity",
    }.get(key, "")
