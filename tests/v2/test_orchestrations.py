"""Orchestration patterns of a 2.x-style app, run through the protobuf protocol in process."""

from __future__ import annotations

import json
from typing import Any

from durable_host.engine.runtime import Engine
from durable_host.functions import DurableProtocol, FunctionIndex
from durable_host.taskhub.events import (
    ExecutionStarted,
    OrchestrationStatus,
    TaskCompleted,
    TaskScheduled,
)
from tests.engine._helpers import finish, history, kinds, without_episodes


async def run(engine: Engine, name: str, value: Any = None, instance_id: str | None = None) -> Any:
    """Start `name` with `value` (JSON, as the 2.x client stores it) and wait for its end."""
    started = await engine.client.start_new(name, instance_id, json.dumps(value))
    return await finish(engine, started)


def test_the_app_is_indexed_as_protobuf(app_index: FunctionIndex) -> None:
    assert app_index.get_orchestrator("hello_chain").protocol is DurableProtocol.PROTOBUF
    assert app_index.get_activity("say_hello").protocol is DurableProtocol.PROTOBUF


async def test_chaining(engine: Engine) -> None:
    status = await run(engine, "hello_chain", None, "chain-1")
    assert status.runtime_status is OrchestrationStatus.Completed, status
    assert json.loads(status.output or "") == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    events = without_episodes(await history(engine, "chain-1"))
    assert kinds(events) == [
        "ExecutionStarted",
        *["TaskScheduled", "TaskCompleted"] * 3,
        "ExecutionCompleted",
    ]
    scheduled = [e for e in events if isinstance(e, TaskScheduled)]
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    # The protobuf protocol stores the activity's input as is (no one-element array).
    assert [e.input for e in scheduled] == ['"Tokyo"', '"Seattle"', '"London"']
    assert [c.task_scheduled_id for c in completed] == [s.event_id for s in scheduled]
    assert isinstance(events[0], ExecutionStarted)
