"""A hub written half by the provider and half by us (issue 27): an orchestration whose first
two episodes a Functions host of the extension ran (History rows, sentinel, Instances row and
the work item it sent for the second activity, as DurableTask.AzureStorage writes them: see
tests/provider_rows.py) is run to completion by our engine, and the end is read by the
provider's rules (tests/provider_reader.py)."""

from __future__ import annotations

import json
from typing import Any

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import OrchestrationStatus
from tests.engine._helpers import eventually
from tests.provider_reader import read_instance
from tests.provider_rows import (
    instances_row,
    put_row,
    send_to_queue,
    task_scheduled_message,
    write_history,
)

EXECUTION = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def provider_history(instance_id: str) -> list[dict[str, Any]]:
    """`chain` with input 1 after two episodes: `double(1)` done (2), `double(2)` scheduled.
    Columns by TableEntityConverter (EventType by name, structured members as JSON text,
    `"null"` when unset; docs/task-hub-layout.md §3); inputs as the extension stores the 1.x
    SDK's (the input JSON text of a JSON string, an activity's as a one-element array)."""
    return [
        {"EventType": "OrchestratorStarted"},
        {
            "EventType": "ExecutionStarted",
            "OrchestrationInstance": json.dumps(
                {"InstanceId": instance_id, "ExecutionId": EXECUTION}
            ),
            "ParentInstance": "null",
            "Name": "chain",
            "Version": "",
            "Input": '"1"',
            "Tags": "null",
            "Generation": 0,
        },
        {
            "EventType": "TaskScheduled",
            "EventId": 0,
            "Name": "double",
            "Version": "",
            "Input": '["1"]',
            "Tags": "null",
        },
        {"EventType": "OrchestratorCompleted"},
        {"EventType": "OrchestratorStarted"},
        {"EventType": "TaskCompleted", "TaskScheduledId": 0, "Result": "2"},
        {
            "EventType": "TaskScheduled",
            "EventId": 1,
            "Name": "double",
            "Version": "",
            "Input": '["2"]',
            "Tags": "null",
        },
        {"EventType": "OrchestratorCompleted"},
    ]


async def test_an_orchestration_the_provider_began_is_finished_here(
    engine: Engine, azurite: str
) -> None:
    instance_id = "half/provider"
    names = engine.storage.names
    await write_history(
        azurite, engine.storage, instance_id, EXECUTION, provider_history(instance_id)
    )
    await put_row(
        azurite,
        names.instances_table,
        instances_row(instance_id, names.hub, Name="chain", Input='"1"', ExecutionId=EXECUTION),
    )
    await send_to_queue(
        azurite,
        names.work_item_queue,
        task_scheduled_message(instance_id, EXECUTION, 1, "double", '["2"]'),
    )

    async def finished() -> bool:
        record = await engine.storage.get_instance(instance_id)
        return record is not None and record.runtime_status == OrchestrationStatus.Completed

    await eventually(finished, timeout=30, what="the provider's orchestration completed here")
    seen = await read_instance(azurite, names.instances_table, instance_id)
    assert (seen.status, seen.output, seen.input) == ("Completed", "8", '"1"')
    status = await engine.client.get_status(instance_id, show_history=True)
    assert status is not None and status.history is not None
    results = [getattr(e, "result", None) for e in status.history]
    assert [r for r in results if r is not None] == ["2", "4", "8", "8"]
