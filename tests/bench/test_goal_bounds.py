"""bench/goal_bounds.py: docs/performance.md's 'What bounds each missed goal' covers every goal
the run missed, issue 24's ratio goals as well as the results table's, and names what bounds
each from the run's own figures.

The results are built here (not read from bench/results/latest.json, which each `make bench`
rewrites), small and complete enough for both tables. bench/ is a folder of scripts that import
each other by bare name, so it is put on sys.path only while its modules are imported.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def goal_bounds(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("goal_bounds")


def _cpu(wall: float, host: float, azurite: float) -> dict[str, float]:
    return {"wall_s": wall, "host_s": host, "azurite_s": azurite, "load": 1.0}


def _floor(value: float, model: str) -> dict[str, Any]:
    return {"value": value, "model": model}


def _trip(ms: float, per_s: float) -> dict[str, float]:
    return {"ms": ms, "cpu_ms": 0.2, "user_ms": 0.1, "per_s": per_s, "client_cpu": 0.4}


# Every goal of both tables met: hop 2.5 ms (2.5x the floor, 2.5x DBOS), 90 orchestrations/s
# (0.9 of the floor, 1.5x DBOS), 350 HTTP starts/s (0.875 of the floor), p95 60 ms.
MET_RESULTS: dict[str, Any] = {
    "machine": {"load_before": [1.0, 1.0, 1.0], "load_after": [1.2, 1.0, 1.0]},
    "peer": {"sequential": {"median_ms": 1.0}, "concurrent": {"per_s": 60.0}},
    "host": {
        "sequential": {
            "hops": 50,
            "runs": 3,
            "median_ms": 2.5,
            "p95_ms": 4.0,
            "cpu": _cpu(1.0, 0.3, 0.5),
        },
        "fan_out": {
            "activities": 1000,
            "runs": 3,
            "seconds": 1.5,
            "rss_peak_mib": 90.0,
            "cpu": _cpu(5.0, 3.0, 4.0),
        },
        "concurrent": {
            "orchestrations": 100,
            "activities_each": 5,
            "runs": 3,
            "per_s": 90.0,
            "cpu": _cpu(3.0, 2.4, 2.7),
        },
        "events": {"events": 1000, "runs": 3, "per_s": 600.0},
        "entities_1": {"signals": 1000, "runs": 3, "per_s": 2000.0},
        "entities_100": {"signals": 1000, "runs": 3, "per_s": 900.0},
        "http_starts": {
            "starts": 300,
            "runs": 3,
            "per_s": 350.0,
            "p95_ms": 60.0,
            "cpu": _cpu(4.0, 3.6, 2.7),
        },
        "idle": {
            "first_activity_ms": 10.0,
            "idle_requests_per_s": 0.6,
            "idle_by_operation": {"queue.receive": 5, "table.upsert": 12},
            "idle_window_s": 30.0,
            "idle_seconds": 60.0,
        },
        "transactions": {
            "sequential": {
                "total": 6.2,
                "by_operation": {
                    "queue.send": 2.0,
                    "queue.delete": 2.0,
                    "table.batch": 1.0,
                    "table.merge": 1.0,
                    "queue.receive": 0.2,
                },
            },
            "fan_out": {"total": 4.1, "by_operation": {"queue.send": 2.0, "queue.delete": 2.1}},
            "orchestration_overhead": {"queue.send": 1, "queue.delete": 1, "table.batch": 3},
        },
        "round_trips": {"queue.send": _trip(0.5, 3000.0), "table.batch": _trip(0.5, 2500.0)},
        "floors": {
            "sequential_ms_per_hop": _floor(1.0, "batch + send, one after the other"),
            "fan_out_seconds": _floor(1.0, "N x (2 send + 2 delete + 0.02 batch) at throughput"),
            "orchestrations_per_s": _floor(
                100.0, "11 send + 11 delete + 6 batch + 2 upsert per orchestration"
            ),
            "http_starts_per_s": _floor(
                400.0, "3 send + 3 delete + 2 batch + 2 upsert per 1-activity orchestration"
            ),
            "events_per_s": _floor(3000.0, "1 send per event"),
            "entity_ops_per_s": _floor(3000.0, "1 send per signal"),
            "idle_to_first_activity_ms": _floor(1.5, "start message send, then batch + send"),
            "transactions_per_sequential_activity": _floor(5.0, "2 send + 2 delete + 1 batch"),
            "transactions_per_fan_out_activity": _floor(4.02, "2 send + 2 delete + 0.02 batch"),
        },
    },
}


def _with(**changes: Any) -> dict[str, Any]:
    """MET_RESULTS with `changes`, each keyed by its path under "host" ('concurrent__per_s')."""
    results = copy.deepcopy(MET_RESULTS)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = results["host"]
        for name in parents:
            node = node[name]
        node[leaf] = value
    return results


def _entry(lines: list[str], label: str) -> str:
    found = [line for line in lines if line.startswith(f"- **{label}**")]
    assert len(found) == 1, f"no single entry for {label!r} in {lines}"
    return found[0]


def test_when_every_goal_is_met_the_section_says_so(goal_bounds: ModuleType) -> None:
    assert goal_bounds.bounds_section(MET_RESULTS) == [goal_bounds.MET]


@pytest.mark.parametrize(
    ("changes", "label", "bound"),
    [
        # 50/s against a floor of 100/s; Azurite 9 ms per orchestration, the host 8 ms.
        ({"concurrent__per_s": 50.0}, "100 x 5-activity orchestrations / floor", "Azurite"),
        (
            {"concurrent__per_s": 50.0, "concurrent__cpu": _cpu(3.0, 3.0, 2.4)},
            "100 x 5-activity orchestrations / floor",
            "the host",
        ),
        # 200/s against a floor of 400/s; the host 4 ms per start, Azurite 3 ms.
        ({"http_starts__per_s": 200.0}, "HTTP starts / floor", "the host"),
    ],
)
def test_a_missed_throughput_ratio_names_the_process_that_bounds_it(
    goal_bounds: ModuleType, changes: dict[str, Any], label: str, bound: str
) -> None:
    lines = goal_bounds.bounds_section(_with(**changes))

    entry = _entry(lines, label)
    assert f"**{bound}** has the lower ceiling and bounds it" in entry
    assert goal_bounds.MET not in lines


def test_the_throughput_entry_gives_the_rates_and_cpu_it_is_read_from(
    goal_bounds: ModuleType,
) -> None:
    entry = _entry(
        goal_bounds.bounds_section(_with(concurrent__per_s=50.0)),
        "100 x 5-activity orchestrations / floor",
    )

    # 0.8 x 100/s; 2.4 and 2.7 s of CPU over 300 orchestrations; 1000/9 ms; 1000/80 per s.
    assert "the goal needs 80.0 orchestrations/s" in entry
    assert "this run reached 50.0/s" in entry
    assert "the host 8.0 ms, Azurite 9.0 ms" in entry
    assert "allows 125 orchestrations/s and Azurite's 111" in entry
    assert "at most 12.5 ms of CPU per orchestration" not in entry  # both are within it
    assert "Both ceilings are above the goal's rate" in entry
    # 5 fixed + 5 x 6.2 requests against the model's 30; the floor's 10 ms over 30 requests.
    assert "about 36.0 per orchestration" in entry
    assert "counts 30" in entry
    assert "10.00 ms of Azurite's time (0.33 ms per request" in entry


def test_a_process_over_the_goal_rates_budget_is_told_what_it_needs(
    goal_bounds: ModuleType,
) -> None:
    entry = _entry(
        goal_bounds.bounds_section(_with(http_starts__per_s=200.0)), "HTTP starts / floor"
    )

    # 320 starts/s leave 3.1 ms per start; the host spends 4.0, Azurite 3.0.
    assert "at most 3.1 ms of CPU per start on its own core; the host spends 4.0 ms, so" in entry
    assert "Azurite spends" not in entry
    assert "This run's results hold no storage request count per start" in entry


def test_the_http_start_entry_counts_this_runs_requests_per_start(
    goal_bounds: ModuleType,
) -> None:
    results = _with(
        http_starts__per_s=200.0,
        http_starts__requests_per_start=11.26,
        http_starts__wait_requests_per_start=1.5,
    )

    entry = _entry(goal_bounds.bounds_section(results), "HTTP starts / floor")

    assert "Storage requests: 11.26 per start by the host over the timed runs" in entry
    assert "read the status 1.50 times per start" in entry
    assert "the floor model (3 send + 3 delete + 2 batch + 2 upsert per" in entry
    assert "counts 10" in entry
    # Azurite's 3 ms per start over the host's 11.26 requests.
    assert "(0.27 ms per request)" in entry
    assert "hold no storage request count" not in entry


def test_a_missed_hop_ratio_is_latency_bound_and_names_the_busy_process(
    goal_bounds: ModuleType,
) -> None:
    # 4 ms against 3 x the 1 ms floor; Azurite busy 0.95 of a core, the host 0.3.
    results = _with(sequential__median_ms=4.0, sequential__cpu=_cpu(1.0, 0.3, 0.95))

    entry = _entry(goal_bounds.bounds_section(results), "sequential hop median / floor")

    assert "a hop of at most 3.00 ms" in entry
    assert "latency-bound" in entry
    assert "**Azurite** was busy all along" in entry
    assert "The host was not busy all along (0.30 of a core)" in entry
    assert "6.20 against the floor model's 5" in entry
    assert "queue.receive 0.20, table.merge 1.00" in entry


def test_each_ratio_entry_points_to_the_profiles_the_run_has(goal_bounds: ModuleType) -> None:
    results = _with(concurrent__per_s=50.0)
    profiles = {
        "started": "2026-12-07T12:00:00+00:00",
        "workloads": {
            "concurrent": {
                "load": 1.5,
                "loop_busy_share": 0.61,
                "categories": {"engine": 0.16, "storage requests": 0.25},
                "frames": {"RestClient._send": 0.18},
            }
        },
    }

    shown = "\n".join(goal_bounds.bounds_section(results, profiles, "see azurite_profile.py"))
    none = "\n".join(goal_bounds.bounds_section(results))

    assert "column `concurrent` of the table below" in shown
    assert "storage requests 25%, engine 16%" in shown
    assert "`RestClient._send` 18%" in shown
    assert "summarized in the steps above" in shown
    assert "no py-spy profile of `concurrent` is stored" in none
    assert "summarized in the steps above" not in none


def test_a_missed_goal_of_the_results_table_keeps_its_entry(goal_bounds: ModuleType) -> None:
    lines = goal_bounds.bounds_section(_with(sequential__median_ms=12.0))

    assert "storage first" not in _entry(lines, "1. Sequential hop, median")
    assert _entry(lines, "sequential hop median / floor")
