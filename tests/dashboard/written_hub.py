"""Completed orchestrations written straight into a task hub's tables, as a host would leave them.

The standalone dashboard reads hubs no app of ours ran; these rows have the layout's
exact shape (Instances row + History rows with sentinel), written by TaskHubStorage.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
    TaskCompleted,
    TaskScheduled,
)
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.storage import TaskHubStorage


def chain_history(
    instance_id: str, execution_id: str, activities: int, start: datetime
) -> list[HistoryEvent]:
    """ExecutionStarted, `activities` scheduled/completed pairs, ExecutionCompleted."""
    step = timedelta(milliseconds=5)
    execution = OrchestrationInstance(instance_id, execution_id)
    events: list[HistoryEvent] = [
        OrchestratorStarted(timestamp=start),
        ExecutionStarted(timestamp=start, orchestration_instance=execution, name="chain"),
    ]
    for i in range(activities):
        at = start + step * (2 * i + 1)
        events.append(TaskScheduled(timestamp=at, event_id=i, name="step", input=json.dumps(i)))
        events.append(TaskCompleted(timestamp=at + step, task_scheduled_id=i, result=str(i)))
    end = start + step * (2 * activities + 1)
    events.append(
        ExecutionCompleted(
            timestamp=end, orchestration_status=OrchestrationStatus.Completed, result='"done"'
        )
    )
    events.append(OrchestratorCompleted(timestamp=end))
    return events


async def write_completed_chain(
    storage: TaskHubStorage, instance_id: str, *, activities: int
) -> int:
    """Write one completed `chain` orchestration; returns its number of history events."""
    execution_id = uuid.uuid4().hex
    start = datetime.now(timezone.utc)
    events = chain_history(instance_id, execution_id, activities, start)
    await storage.append_history(instance_id, execution_id, start_index=0, events=events, etag=None)
    await storage.insert_instance(
        InstanceRecord(
            instance_id=instance_id,
            name="chain",
            runtime_status=OrchestrationStatus.Completed,
            version="",
            execution_id=execution_id,
            input='"start"',
            output='"done"',
            created_time=start,
            last_updated_time=events[-1].timestamp,
            completed_time=events[-1].timestamp,
            task_hub_name=storage.names.hub,
        )
    )
    return len(events)
