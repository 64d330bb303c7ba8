"""Histories the engine recorded for each of the app's orchestrators, on the session Azurite.

The task hub outlives the test environment (the replay and export commands read it) and is
deleted when the module's tests are done.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from durable_host.testing import DurableTestEnvironment

PROJECT_DIR = Path(__file__).resolve().parents[2]
PARTITIONS = 4  # host.json storageProvider.partitionCount

ORDER = {
    "orderId": "A-1001",
    "customer": "ada@contoso.example",
    "country": "NL",
    "lines": [{"sku": "KB-101", "quantity": 2}, {"sku": "CB-404", "quantity": 3}],
}
EXPENSE = {
    "amount": 412.5,
    "submitter": "sam@contoso.example",
    "approver": "lena@contoso.example",
    "timeoutSeconds": 300,
}
# (instance id, orchestrator, input): every orchestrator of the app, some along two paths.
RUNS = [
    ("order-ok", "process_order", ORDER),
    ("order-rejected", "process_order", {**ORDER, "lines": [{"sku": "MN-303", "quantity": 9}]}),
    ("order-invalid", "process_order", {"orderId": "X"}),
    (
        "batch",
        "process_order_batch",
        {"orders": [{**ORDER, "orderId": "B-1"}, {**ORDER, "orderId": "B-2", "country": "DE"}]},
    ),
    (
        "documents",
        "analyze_documents",
        {
            "top": 3,
            "documents": [{"name": "q1", "text": "Revenue grew."}, {"name": "q2", "text": "x"}],
        },
    ),
    ("export", "export_report", {"dataset": "sales-2024", "rows": 1200, "stepDelaySeconds": 5}),
    (
        "monitor",
        "monitor_build",
        {"buildId": "build-42", "pollIntervalSeconds": 2, "expirySeconds": 60},
    ),
    ("report", "metrics_report", {"keys": ["cpu", "memory"]}),
    ("rollup", "metrics_rollup", {"key": "cpu", "intervalSeconds": 60, "maxCycles": 2}),
    ("expense-decided", "expense_approval", {**EXPENSE, "expenseId": "EXP-1"}),
]
WAITING = ("expense-waiting", "expense_approval", {**EXPENSE, "expenseId": "EXP-2"})


@dataclass(frozen=True)
class RecordedHub:
    connection: str
    hub: str
    statuses: dict[str, str]  # instance id -> runtime status name


async def _record(connection: str, hub: str) -> dict[str, str]:
    statuses: dict[str, str] = {}
    async with await DurableTestEnvironment.start(
        PROJECT_DIR, storage=connection, hub_name=hub, delete_hub=False
    ) as env:
        for instance_id, name, value in RUNS:
            await env.start_orchestration(name, value, instance_id=instance_id)
            if name == "expense_approval":
                await env.wait_for_custom_status(instance_id, lambda s: s is not None)
                await env.raise_event(instance_id, "ApprovalDecision", {"approved": True})
            status = await env.wait_for_completion(instance_id, expected_status=None)
            statuses[instance_id] = status.runtime_status.name
        instance_id, name, value = WAITING
        await env.start_orchestration(name, value, instance_id=instance_id)
        await env.wait_for_custom_status(instance_id, lambda s: s is not None)
        statuses[instance_id] = "Running"
    return statuses


@pytest.fixture(scope="module")
def recorded(azurite: str) -> Iterator[RecordedHub]:
    hub = "replay" + uuid.uuid4().hex[:12]
    statuses = asyncio.run(_record(azurite, hub))
    yield RecordedHub(azurite, hub, statuses)

    async def drop() -> None:
        async with TaskHubStorage(azurite, TaskHubNames(hub, PARTITIONS)) as storage:
            await storage.delete_task_hub()

    asyncio.run(drop())
