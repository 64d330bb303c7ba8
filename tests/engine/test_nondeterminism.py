"""A changed orchestrator fails its running instance with a message naming both tasks."""

from __future__ import annotations

import json

import pytest

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import ExecutionCompleted, TaskCompleted, TaskScheduled
from tests.engine._helpers import FAILED, eventually, finish, history, history_has, start

FIRST = "DURABLE_HOST_TEST_FIRST"


async def test_changed_code_fails_the_instance(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(FIRST, "echo")
    instance_id = await start(engine, "nondeterministic", None)
    await eventually(lambda: history_has(engine, instance_id, TaskCompleted), what="the wait")
    before = await history(engine, instance_id)
    assert [e.name for e in before if isinstance(e, TaskScheduled)] == ["echo"]

    # "Deploy" different code, and make the engine forget the instance's in-memory session.
    monkeypatch.setenv(FIRST, "double")
    engine.orchestrations._sessions.clear()
    await engine.client.raise_event(instance_id, "Continue", json.dumps(None))
    status = await finish(engine, instance_id)

    assert status.runtime_status == FAILED
    assert status.output is not None
    assert "echo" in status.output and "double" in status.output
    assert "Non-deterministic" in status.output or "non-deterministic" in status.output
    events = await history(engine, instance_id)
    done = [e for e in events if isinstance(e, ExecutionCompleted)]
    assert len(done) == 1 and done[0].orchestration_status == FAILED
    assert done[0].failure_details is not None
    assert done[0].failure_details.error_type == "NonDeterminismError"
    # Nothing new was scheduled by the changed code.
    assert [e.name for e in events if isinstance(e, TaskScheduled)] == ["echo"]
    # The console says so (the orchestrator's invocation itself succeeded): instance, the
    # event (its sequence id and both names) and the cause, in the extension's words.
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(logged) == 1, logged
    assert logged[0].startswith(
        f"{instance_id}: Function 'nondeterministic (Orchestrator)' failed with an error. "
        "Reason: Non-deterministic workflow detected"
    )
    assert "sequence ID 0" in logged[0] and "'echo'" in logged[0] and "'double'" in logged[0]
