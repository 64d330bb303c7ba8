"""The Instances row the engine writes, read by the provider's rules (issue 27, item 7):
AzureTableTrackingStore.UpdateStateAsync (984-1061) and SetNewExecutionAsync (788-801) set
Tags with every new execution ("null" without tags), leave a null Input or Output out (a
merge keeps the column), put a suspension's or resumption's reason in Output, and set
CompletedTime only when an execution ends (not for ContinuedAsNew)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.replay.decision import Completion
from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import (
    ExecutionResumed,
    ExecutionStarted,
    ExecutionSuspended,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
)
from tests.engine._helpers import eventually, finish, history_has
from tests.provider_reader import ProviderState, read_instance

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


async def provider_view(engine: Engine, azurite: str, instance_id: str) -> ProviderState:
    return await read_instance(azurite, engine.storage.names.instances_table, instance_id)


async def test_rows_of_an_instance_without_input_suspended_and_resumed(
    engine: Engine, azurite: str
) -> None:
    instance_id = await engine.client.start_new("wait_event", None, None)
    # The client's row (Pending, or Running already if the engine was quick).
    first = await provider_view(engine, azurite, instance_id)
    assert "Input" not in first.row and first.row["Tags"] == "null"
    await eventually(lambda: history_has(engine, instance_id, OrchestratorCompleted), what="wait")

    async def reads(status: str, output: str | None) -> bool:
        seen = await provider_view(engine, azurite, instance_id)
        return (seen.status, seen.output) == (status, output)

    # The episode's history is written before its Instances row (the provider's order), so
    # the row may read Pending for a moment after the history shows the episode.
    await eventually(lambda: reads("Running", None), what="Running after the first episode")
    running = await provider_view(engine, azurite, instance_id)
    assert running.row["Tags"] == "null"
    assert "Input" not in running.row and "Output" not in running.row

    await engine.client.suspend(instance_id, "hold on")
    await eventually(lambda: reads("Suspended", "hold on"), what="Suspended, reason as Output")
    await engine.client.resume(instance_id, "go on")
    await eventually(lambda: reads("Running", "go on"), what="Running, reason as Output")
    await engine.client.raise_event(instance_id, "Go", json.dumps("done"))
    await finish(engine, instance_id)
    done = await provider_view(engine, azurite, instance_id)
    assert done.status == "Completed" and json.loads(done.output or "") == "done"
    assert done.completed_time is not None


def test_episode_fields_follow_update_state() -> None:
    writer = InstanceRowWriter(None, "Hub")  # type: ignore[arg-type]  # fields only
    started = ExecutionStarted(
        timestamp=NOW,
        orchestration_instance=OrchestrationInstance("i", "e1"),
        name="hello",
        tags={"owner": "me"},
    )
    session = Session(instance_id="i", execution_id="e1", history=[started])
    first = writer.episode_fields(session, started, [started], None, None, NOW, suspended=False)
    assert first["tags"] == {"owner": "me"} and "input" not in first and "output" not in first
    suspended = ExecutionSuspended(timestamp=NOW, reason="why")
    fields = writer.episode_fields(session, started, [suspended], None, None, NOW, suspended=True)
    assert (fields["runtime_status"], fields["output"]) == (OrchestrationStatus.Suspended, "why")
    assert "tags" not in fields  # written with a new execution only
    resumed = ExecutionResumed(timestamp=NOW, reason=None)
    fields = writer.episode_fields(session, started, [resumed], None, None, NOW, suspended=False)
    assert "output" not in fields  # a null reason leaves the suspension's in place
    # ContinueAsNew (1051-1061): status and Output, no CompletedTime.
    again = Completion(OrchestrationStatus.ContinuedAsNew, result='"next"')
    fields = writer.episode_fields(session, started, [], again, None, NOW, suspended=False)
    assert fields["runtime_status"] == OrchestrationStatus.ContinuedAsNew
    assert fields["output"] == '"next"' and "completed_time" not in fields
    ended = Completion(OrchestrationStatus.Completed, result=None)
    fields = writer.episode_fields(session, started, [], ended, None, NOW, suspended=False)
    assert fields["completed_time"] == NOW and "output" not in fields
