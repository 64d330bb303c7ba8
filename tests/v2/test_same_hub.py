"""A hub written by the 2.x app reads as one written by a 1.x app: the same orchestrations
(tests/apps/v2 and its 1.x twin tests/apps/v2_twin) give the same answers through the 1.x
code paths: the Durable HTTP API's status with history, and the History table's rows.

The one difference is by design and the extension's too: a protobuf worker's TaskScheduled
Input is the activity's input JSON as sent, where 1.x stores a one-element array."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from durable_host.engine.runtime import Engine
from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints
from durable_host.http.durable_api import DurableApi
from durable_host.taskhub.event_json import event_to_json
from tests.engine._helpers import finish, history, running_engine, stored_input
from tests.v2.conftest import APP_DIR

TWIN_DIR = APP_DIR.parent / "v2_twin"
# Times differ between runs; everything else must not.
_TIME_KEYS = {"Timestamp", "ScheduledTime", "FireAt", "createdTime", "lastUpdatedTime"}
_EXECUTION_ID = re.compile(r"[0-9a-f]{32}")


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<time>" if k in _TIME_KEYS else _masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, str):
        return _EXECUTION_ID.sub("<execution>", value)
    return value


async def _answers(engine: Engine, name: str, input_json: str, instance_id: str) -> dict[str, Any]:
    await engine.client.start_new(name, instance_id, input_json)
    await finish(engine, instance_id)
    endpoints = ClientEndpoints(
        origin="http://127.0.0.1", rpc_origin="http://127.0.0.1", hub_name="TestHubName"
    )
    app = create_app(durable_api=DurableApi(engine.client, endpoints))
    async with TestClient(TestServer(app)) as http:
        resp = await http.get(
            f"/runtime/webhooks/durabletask/instances/{instance_id}",
            params={"showHistory": "true", "showHistoryOutput": "true", "showInput": "true"},
        )
        assert resp.status == 200
        status = await resp.json()
    status["input"] = _decoded(status["input"])
    for event in status["historyEvents"]:
        if event["EventType"] in ("TaskCompleted", "TaskFailed"):
            event.pop("Input", None)  # its TaskScheduled's Input: the documented difference
        for key in ("Input", "Result"):
            if key in event:
                event[key] = _decoded(event[key])
    rows = [event_to_json(e, with_type=False) for e in await history(engine, instance_id)]
    return {"status": _masked(status), "rows": _masked(_renumbered(rows))}


def _renumbered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documented differences taken out: scheduling EventIds renumbered in order (a
    protobuf worker numbers its actions from 1, the 1.x replay from 0), results pointed at
    the new numbers, TaskScheduled's Input dropped, an empty Version read as none, payloads
    decoded."""
    numbers: dict[int, int] = {}
    for row in rows:
        if row.get("EventId", -1) >= 0:
            row["EventId"] = numbers.setdefault(row["EventId"], len(numbers))
        for key in ("TaskScheduledId", "TimerId"):
            if key in row:
                row[key] = numbers.get(row[key], row[key])
        if row.get("EventType") == 4:  # TaskScheduled
            row.pop("Input", None)
            row["Version"] = row.get("Version") or None
        for key in ("Input", "Result"):
            row[key] = _decoded(row.get(key))
    return rows


def _decoded(value: Any) -> Any:
    """A payload as the value it holds: each SDK spaces its JSON its own way, and the 1.x
    client encodes an input twice (tests/engine/_helpers.stored_input)."""
    while isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


async def _run_in(app_dir: Path, azurite: str, hub: str, name: str, input_json: str) -> Any:
    async with running_engine(azurite, hub, app_dir) as engine:
        return await _answers(engine, name, input_json, f"same-{name}")


@pytest.mark.parametrize(
    ("name", "value"), [("hello_chain", None), ("fan_out", 4), ("approval", 1)]
)
async def test_the_2x_hub_reads_as_the_1x_hub(
    azurite: str, hub_name: str, name: str, value: Any
) -> None:
    # Each started as its generation's client starts it.
    one = await _run_in(TWIN_DIR, azurite, hub_name + "one", name, stored_input(value))
    two = await _run_in(APP_DIR, azurite, hub_name + "two", name, json.dumps(value))
    if name == "fan_out":
        # Its activities finish in whatever order the threads get to them, in either app, and
        # their results reach the orchestrator in as many episodes as the timing makes: the
        # episode markers are compared apart, as balanced pairs.
        for answers in (one, two):
            answers["status"]["historyEvents"] = _without_episode_markers(
                answers["status"]["historyEvents"], "EventType", _MARKER_NAMES
            )
            answers["rows"] = _without_episode_markers(answers["rows"], "EventType", _MARKERS)
    assert two["status"] == one["status"]
    assert two["rows"] == one["rows"]


# OrchestratorStarted and OrchestratorCompleted, by number (History rows) and by name (the API).
_MARKERS = (12, 13)
_MARKER_NAMES = ("OrchestratorStarted", "OrchestratorCompleted")


def _without_episode_markers(
    events: list[dict[str, Any]], key: str, markers: tuple[Any, Any]
) -> list[dict[str, Any]]:
    started, completed = (sum(e[key] == m for e in events) for m in markers)
    assert started == completed, f"{started} episodes started, {completed} completed"
    return sorted((e for e in events if e[key] not in markers), key=_canonical)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
