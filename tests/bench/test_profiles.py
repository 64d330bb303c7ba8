"""The profiles `make bench` takes after its timed runs (bench/host_profile.py: py-spy on the
host, Node's --cpu-prof on Azurite), how they are summarised, and how docs/performance.md
shows them: from the run's results, from an older stored file, or saying why one is missing.

Pure functions on made-up profiles and results; nothing here runs a workload or a profiler.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    monkeypatch.syspath_prepend(str(BENCH))
    names = ("azurite_profile", "host_profile", "profile_report", "storage_counter", "workloads")
    return {name: importlib.import_module(name) for name in names}


def _host(load: float = 2.5, **extra: Any) -> dict[str, Any]:
    return {
        "started": "2026-12-07T21:30:05+00:00",
        "figures": "{'runs': 3}",
        "load": load,
        "loop_busy_share": 0.72,
        "busy_samples": 400,
        "categories": {
            "storage requests (RestClient.request)": 0.3,
            "event loop and the rest": 0.5,
        },
        "frames": {"RestClient._send": 0.2, "FunctionInvoker._call": 0.05},
        "leaves": {"EpollSelector.select (selectors.py)": 0.3},
        **extra,
    }


AZURITE = {
    "busy_samples": 9000,
    "busy_share": 0.93,
    "categories": {
        "Node's built-in modules (HTTP, streams, sockets)": 0.3,
        "LokiJS (the in-memory store)": 0.12,
        "garbage collection": 0.06,
    },
    "groups": {"lokijs": 0.12, "node:_http_outgoing": 0.07, "azurite/table/batch": 0.05},
    "functions": {"(garbage collector)": 0.06, "ltHelper src/lokijs.js:222": 0.03},
}

IN_RUN: dict[str, Any] = {
    "started": "2026-12-07T21:30:00+00:00",
    "rate": 100,
    "azurite_interval_us": 200,
    "load_before": 1.5,
    "seconds": 41.0,
    "in_run": True,
    "workloads": {
        "concurrent": _host(azurite=AZURITE),
        "http_starts": {
            "started": "2026-12-07T21:30:30+00:00",
            "figures": "{'runs': 3}",
            "load": 1.7,
            "host_error": "py-spy exited 1 with no samples: Permission denied (os error 13)",
            "azurite": {**AZURITE, "busy_share": 0.51},
        },
        "sequential": _host(azurite_error="Azurite wrote no CPU profile (no window)"),
    },
}

# What bench/host_profile.py --save wrote before the profiles moved into the results.
STORED: dict[str, Any] = {
    "started": "2026-12-07T12:26:10+00:00",
    "rate": 100,
    "load_before": 6.8,
    "workloads": {"concurrent": {k: v for k, v in _host(6.5).items() if k != "started"}},
}


def test_the_host_section_says_the_profiles_are_this_runs_and_why_one_is_missing(
    bench: dict[str, ModuleType],
) -> None:
    text = "\n".join(bench["profile_report"].profiles_section(IN_RUN))

    assert "this run's profiling step, after its timed runs (2026-12-07T21:30:00+00:00" in text
    assert "| Share of the host's busy samples | concurrent | sequential |" in text
    assert "| storage requests (RestClient.request) | 30% | 30% |" in text
    assert "could not be taken for `http_starts`: py-spy exited 1" in text
    assert "Permission denied (os error 13)" in text
    assert "- **concurrent** (2026-12-07T21:30:05+00:00, load average 2.5)" in text


def test_an_older_stored_profile_still_renders_and_says_it_is_apart(
    bench: dict[str, ModuleType],
) -> None:
    report = bench["profile_report"]

    text = "\n".join(report.profiles_section(STORED))
    azurite = "\n".join(report.azurite_section(STORED))

    assert "run 2026-12-07T12:26:10+00:00 apart from this run's figures" in text
    assert "load average 6.8 before" in text
    assert "- **concurrent** (load average 6.5)" in text
    assert "No Azurite profile in these results" in azurite
    assert "No profile in this run" in report.profiles_section(None)[0]


def test_the_azurite_section_shows_each_workloads_shares_and_busy_main_thread(
    bench: dict[str, ModuleType],
) -> None:
    text = "\n".join(bench["profile_report"].azurite_section(IN_RUN))

    assert "| Share of Azurite's busy samples | concurrent | http_starts |" in text
    rows = [line.split(" |")[0] for line in text.splitlines() if line.startswith("| ")]
    assert rows[1:] == [
        "| Node's built-in modules (HTTP, streams, sockets)",
        "| LokiJS (the in-memory store)",
        "| garbage collection",
        "| *main thread busy, share of wall time*",
    ]
    assert "| LokiJS (the in-memory store) | 12% | 12% |" in text
    assert "| *main thread busy, share of wall time* | 93% | 51% |" in text
    assert "a sample every 200 µs" in text
    assert "could not be taken for `sequential`: Azurite wrote no CPU profile" in text
    assert "- **concurrent**: lokijs 12%, node:_http_outgoing 7%" in text
    assert "functions: `(garbage collector)` 6%" in text


def test_a_ratio_goals_profile_line_cites_this_runs_host_and_azurite_profiles(
    bench: dict[str, ModuleType],
) -> None:
    line = bench["profile_report"].profile_line

    concurrent = line("concurrent", IN_RUN, "")
    starts = line("http_starts", IN_RUN, "azurite_profile.py")
    sequential = line("sequential", IN_RUN, "")
    stored = line("concurrent", STORED, "azurite_profile.py")

    assert "from this run's profiling step, after its timed runs" in concurrent
    assert "(2026-12-07T21:30:05+00:00, load average 2.5)" in concurrent
    assert "Azurite (Node's `--cpu-prof`, the same run of `concurrent`): its main" in concurrent
    assert "busy 93% of the wall time" in concurrent
    assert "Node's built-in modules (HTTP, streams, sockets) 30%, LokiJS" in concurrent
    assert "busy nearly all along: there, Azurite bounded the workload" in concurrent
    assert "py-spy could not profile the host during `http_starts`: py-spy exited 1" in starts
    assert "main thread busy 51%" in starts
    assert "Azurite bounded" not in starts
    assert "taken by hand" not in starts
    assert "Azurite's profile (Node's `--cpu-prof`) could not be taken: Azurite wrote" in sequential
    assert "apart from this run's figures" in stored
    assert "these results hold no Azurite profile; the last one, taken by hand" in stored


def test_azurites_profile_is_summarised_over_the_workloads_window_only(
    bench: dict[str, ModuleType],
) -> None:
    url = "file:///x/node_modules/lokijs/src/lokijs.js"
    profile = {
        "nodes": [
            {"id": 1, "callFrame": {"url": "", "functionName": "(idle)", "lineNumber": 0}},
            {"id": 2, "callFrame": {"url": url, "functionName": "find", "lineNumber": 9}},
            {"id": 3, "callFrame": {"url": "node:net", "functionName": "write", "lineNumber": 0}},
        ],
        "startTime": 1000.0,
        # Samples at 1100 .. 2000: 1100-1300 before the window, 1400-1800 in it, 1900+ after.
        "samples": [2, 2, 2, 2, 2, 3, 1, 3, 2, 2],
        "timeDeltas": [100.0] * 10,
    }

    found = bench["azurite_profile"].summary(profile, (1350.0, 1850.0))

    # In the window: 1400 lokijs, 1500 lokijs, 1600 net, 1700 idle, 1800 net.
    assert found["busy_samples"] == 4
    assert found["busy_share"] == pytest.approx(400 / 500)
    assert found["groups"] == {"lokijs": 0.5, "node:net": 0.5}
    assert found["categories"] == {
        "LokiJS (the in-memory store)": 0.5,
        "Node's built-in modules (HTTP, streams, sockets)": 0.5,
    }
    assert found["functions"] == {"find src/lokijs.js:10": 0.5, "write": 0.5}


def test_the_hosts_samples_are_shared_out_by_category(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    host_profile = bench["host_profile"]
    raw = tmp_path / "samples.txt"
    raw.write_text(
        "run_until_complete (base_events.py:1);RestClient.request (durable_host/taskhub/"
        "rest_client.py:5);RestClient._send (durable_host/taskhub/rest_client.py:9) 30\n"
        "run_until_complete (base_events.py:1);select (selectors.py:3) 50\n"
        "_worker (thread.py:2);invoke_activity (durable_host/functions/invoker.py:4) 20\n"
    )
    run = host_profile._Run(window=(10.0, 12.0))

    found = host_profile._host_summary(raw, run, 100)

    assert found["busy_samples"] == 100
    assert found["categories"] == {
        "event loop and the rest": 0.5,
        "storage requests (RestClient.request)": 0.3,
        "activities": 0.2,
    }
    assert found["frames"] == {"RestClient._send": 0.3, "invoke_activity": 0.2}
    # 80 samples of the loop's thread over 2 s at 100 samples/s.
    assert found["loop_busy_share"] == 0.4


def test_a_profiler_that_could_not_run_is_said_with_its_reason(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    stop = bench["host_profile"]._stop_spy

    assert stop("py-spy is not installed", tmp_path) == "py-spy is not installed"
    assert stop(None, tmp_path) == "the workload never started"


def test_the_storage_counter_counts_a_blocks_requests_apart_too(
    bench: dict[str, ModuleType],
) -> None:
    counter = bench["storage_counter"].StorageCounter({10002: "table"})
    row = "http://127.0.0.1:10002/devstoreaccount1/hubInstances(PartitionKey='a',RowKey='')"

    counter.count("GET", row)
    with counter.aside("waits"):
        counter.count("GET", row)
        counter.count("GET", row)
    counter.count("GET", "http://127.0.0.1:9999/elsewhere")

    assert counter.snapshot() == {"table.get": 3}
    assert counter.snapshot("waits") == {"table.get": 2}
    assert counter.snapshot("other") == {}


def test_requests_per_http_start_leave_the_benchmarks_waits_out(
    bench: dict[str, ModuleType],
) -> None:
    every = {"queue.send": 300, "table.get": 250, "table.batch": 200}
    waits = {"table.get": 150}

    found = bench["workloads"].requests_per_start(every, waits, 100)

    assert found == {
        "requests_per_start": pytest.approx(6.0),
        "requests_by_operation": {"queue.send": 3.0, "table.batch": 2.0, "table.get": 1.0},
        "wait_requests_per_start": 1.5,
    }
