"""Aggregator: the metric entity (through the SDK's entity handler), the report orchestration
that calls it, and the eternal rollup that resets it on a timer (continue_as_new)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from app_history import History


def _batch(key: str, state: Any, *operations: tuple[str, Any]) -> str:
    """Entity trigger payload (docs/protocol.md §2.1); an operation's input is JSON of JSON."""
    return json.dumps(
        {
            "self": {"name": "metric", "key": key},
            "exists": state is not None,
            "state": None if state is None else json.dumps(state),
            "batch": [
                {
                    "name": name,
                    "input": None if value is None else json.dumps(json.dumps(value)),
                    "isSignal": True,
                }
                for name, value in operations
            ],
        }
    )


def _run_entity(handle: Any, payload: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(handle("metric")(payload))
    assert result["signals"] == []
    return result


def test_entity_accumulates_a_batch_of_samples(handle: Any) -> None:
    result = _run_entity(
        handle,
        _batch("cpu", None, ("record", {"value": 40}), ("record", 70.5), ("record", {"value": 10})),
    )
    assert result["entityExists"] is True
    assert json.loads(result["entityState"]) == {
        "count": 3,
        "sum": 120.5,
        "min": 10.0,
        "max": 70.5,
        "last": 10.0,
    }
    assert [r["isError"] for r in result["results"]] == [False, False, False]
    assert [json.loads(r["result"]) for r in result["results"]] == [1, 2, 3]


def test_entity_get_and_reset_return_the_summary(handle: Any) -> None:
    state = {"count": 2, "sum": 9.0, "min": 4.0, "max": 5.0, "last": 5.0}
    result = _run_entity(handle, _batch("latency", state, ("get", None), ("reset", None)))
    summary = {"key": "latency", **state, "mean": 4.5}
    assert [json.loads(r["result"]) for r in result["results"]] == [summary, summary]
    assert json.loads(result["entityState"]) == {
        "count": 0,
        "sum": 0.0,
        "min": None,
        "max": None,
        "last": None,
    }


def test_entity_reports_bad_operations_as_errors_and_keeps_its_state(handle: Any) -> None:
    state = {"count": 1, "sum": 2.0, "min": 2.0, "max": 2.0, "last": 2.0}
    result = _run_entity(
        handle,
        _batch("cpu", state, ("record", {"value": "high"}), ("explode", None), ("record", 4)),
    )
    errors = [(r["isError"], json.loads(r["result"])) for r in result["results"]]
    assert errors[0] == (True, "Metric sample: field 'value' must be a number, got str \"high\".")
    assert errors[1] == (
        True,
        "Entity 'metric' has no operation 'explode'; use one of record, get, reset.",
    )
    assert errors[2] == (False, 2)
    assert json.loads(result["entityState"])["sum"] == 6.0


def test_report_calls_each_metric_entity_and_aggregates(handle: Any) -> None:
    history = History("metrics_report", {"keys": ["cpu", "disk", "memory"]})
    episode = history.run(handle("metrics_report"))
    [when_all] = episode.actions
    assert when_all["actionType"] == 12
    assert when_all["compoundActions"] == [
        {"actionType": 7, "instanceId": f"@metric@{key}", "operation": "get", "input": "null"}
        for key in ["cpu", "disk", "memory"]
    ]
    for index, key in enumerate(["cpu", "disk", "memory"]):
        history.entity_call_sent(f"@metric@{key}", "get", f"request-{index}")
    empty = {"count": 0, "sum": 0.0, "min": None, "max": None, "last": None, "mean": None}
    cpu = {"count": 3, "sum": 120.0, "min": 10.0, "max": 70.0, "last": 40.0, "mean": 40.0}
    memory = {"count": 5, "sum": 50.0, "min": 10.0, "max": 10.0, "last": 10.0, "mean": 10.0}
    history.next_episode()
    history.entity_responded("request-2", {"key": "memory", **memory})
    history.entity_responded("request-0", {"key": "cpu", **cpu})
    assert not history.run(handle("metrics_report")).is_done
    history.next_episode().entity_responded("request-1", {"key": "disk", **empty})
    done = history.run(handle("metrics_report"))
    assert done.is_done
    assert done.output == {
        "metrics": {
            "cpu": {"key": "cpu", **cpu},
            "disk": {"key": "disk", **empty},
            "memory": {"key": "memory", **memory},
        },
        "samples": 8,
        "busiest": "memory",
        "empty": ["disk"],
    }


def test_report_fails_when_an_entity_call_fails(handle: Any) -> None:
    history = History("metrics_report", {"keys": ["cpu"]})
    history.run(handle("metrics_report"))
    history.entity_call_sent("@metric@cpu", "get", "request-0")
    history.next_episode().event_raised(
        "request-0", {"result": json.dumps("state is corrupt"), "exceptionType": "Error"}
    )
    assert "state is corrupt" in (history.run(handle("metrics_report")).error or "")


def test_report_rejects_keys_that_cannot_name_an_entity(handle: Any) -> None:
    episode = History("metrics_report", {"keys": ["cpu", "a/b"]}).run(handle("metrics_report"))
    assert episode.error == "Metrics report request: 'a/b' is not a valid metric key."


ROLLUP = {"key": "cpu", "intervalSeconds": 300}
WINDOW = {"key": "cpu", "count": 2, "sum": 3.0, "min": 1.0, "max": 2.0, "last": 2.0, "mean": 1.5}


def _one_cycle(history: History, handle: Any, activity: Any) -> Any:
    """Reset the entity, store the rollup, and return the episode that follows."""
    first = history.run(handle("metrics_rollup"))
    assert first.actions[-1] == {
        "actionType": 7,
        "instanceId": "@metric@cpu",
        "operation": "reset",
        "input": "null",
    }
    history.entity_call_sent("@metric@cpu", "reset", "reset-request")
    history.next_episode().entity_responded("reset-request", WINDOW)
    storing = history.run(handle("metrics_rollup"))
    store = storing.actions[-1]
    assert store["functionName"] == "store_rollup"
    window = json.loads(store["input"])
    scheduled = history.task_scheduled("store_rollup", store["input"])
    history.next_episode().task_completed(scheduled, activity("store_rollup", window))
    return history.run(handle("metrics_rollup"))


def test_eternal_rollup_sleeps_then_continues_as_new(handle: Any, activity: Any) -> None:
    history = History("metrics_rollup", {**ROLLUP, "cycle": 4})
    sleeping = _one_cycle(history, handle, activity)
    timer = sleeping.actions[-1]
    assert timer["actionType"] == 5
    fire_at = history.now + timedelta(seconds=300)
    timer_id = history.timer_created(fire_at)
    history.next_episode(after=timedelta(seconds=300)).timer_fired(timer_id, fire_at)
    restarted = history.run(handle("metrics_rollup"))
    assert restarted.is_done  # an execution that continues as new is done
    assert "output" not in restarted.state
    continue_as_new = restarted.actions[-1]
    assert continue_as_new["actionType"] == 4
    assert json.loads(continue_as_new["input"]) == {
        "key": "cpu",
        "intervalSeconds": 300,
        "cycle": 5,
        "maxCycles": None,
        "lastRollup": {
            "key": "cpu",
            "cycle": 4,
            "closedAt": "2025-03-01T09:00:01Z",
            "count": 2,
            "mean": 1.5,
            "min": 1.0,
            "max": 2.0,
        },
    }


def test_eternal_rollup_stops_after_max_cycles(handle: Any, activity: Any) -> None:
    history = History("metrics_rollup", {**ROLLUP, "cycle": 2, "maxCycles": 3})
    done = _one_cycle(history, handle, activity)
    assert done.is_done
    assert done.output["cycles"] == 3
    assert done.output["lastRollup"]["cycle"] == 2
    assert [a["actionType"] for a in done.actions] == [7, 0]
