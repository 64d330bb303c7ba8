"""Helpers for engine tests: starting instances, waiting with deadlines, reading storage."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from durable_host.engine.client.api import InstanceStatus
from durable_host.engine.runtime import Engine, EngineSettings
from durable_host.taskhub.events import HistoryEvent, OrchestrationStatus


def settings(hub_name: str, **overrides: Any) -> EngineSettings:
    # Idle loops back off to 1 s at most, so a message nobody woke us for is seen quickly.
    return EngineSettings(hub_name=hub_name, max_queue_polling_interval=1.0, **overrides)


async def drop_hub(connection_string: str, hub_name: str) -> None:
    from durable_host.taskhub.names import TaskHubNames
    from durable_host.taskhub.storage import TaskHubStorage

    async with TaskHubStorage(connection_string, TaskHubNames(hub_name, 4)) as storage:
        await storage.delete_task_hub()


def stored_input(value: Any) -> str:
    """The Input text the extension stores for a value sent by the SDK client (JSON, twice)."""
    return json.dumps(json.dumps(value))


async def start(
    engine: Engine, name: str, value: Any = None, instance_id: str | None = None
) -> str:
    return await engine.client.start_new(name, instance_id, stored_input(value))


async def finish(engine: Engine, instance_id: str, timeout: float = 30) -> InstanceStatus:
    status = await engine.client.wait_for_completion(instance_id, timeout=timeout)
    assert status is not None, f"instance {instance_id} does not exist"
    assert status.runtime_status.is_terminal, (
        f"{instance_id} still {status.runtime_status.name} after {timeout} s"
    )
    return status


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 20, what: str = "condition"
) -> Any:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


async def history(engine: Engine, instance_id: str) -> list[HistoryEvent]:
    return list((await engine.storage.load_history(instance_id)).events)


def kinds(events: list[HistoryEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


async def history_has(engine: Engine, instance_id: str, kind: type[HistoryEvent]) -> bool:
    return any(isinstance(e, kind) for e in await history(engine, instance_id))


async def queues_drained(engine: Engine, timeout: float = 20) -> None:
    """No message left in any control, work-item or poison queue (visible or not)."""

    async def empty() -> dict[str, int] | None:
        lengths = await engine.storage.queue_lengths()
        return lengths if not any(lengths.values()) else None

    try:
        await eventually(empty, timeout=timeout, what="empty queues")
    except AssertionError:
        lengths = await engine.storage.queue_lengths()
        raise AssertionError(f"messages left behind: {lengths}") from None


def output(status: InstanceStatus) -> Any:
    assert status.output is not None
    return json.loads(status.output)


COMPLETED = OrchestrationStatus.Completed
FAILED = OrchestrationStatus.Failed


def without_episodes(events: list[HistoryEvent]) -> list[HistoryEvent]:
    """The history minus OrchestratorStarted/Completed markers (they vary with batching)."""
    return [
        e
        for e in events
        if type(e).__name__ not in ("OrchestratorStarted", "OrchestratorCompleted")
    ]


async def raw_rows(connection_string: str, table: str, partition_key: str) -> list[dict[str, Any]]:
    """The table rows of one partition, as azure-data-tables returns them (no codec)."""
    from azure.data.tables.aio import TableClient

    async with TableClient.from_connection_string(connection_string, table) as client:
        quoted = partition_key.replace("'", "''")
        return [dict(row) async for row in client.query_entities(f"PartitionKey eq '{quoted}'")]


async def blob_names(connection_string: str, container: str) -> list[str]:
    from azure.storage.blob.aio import ContainerClient

    async with ContainerClient.from_connection_string(connection_string, container) as client:
        return [blob.name async for blob in client.list_blobs()]


ENTITY_APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "entities"


@asynccontextmanager
async def running_engine(
    connection_string: str, hub_name: str, app_dir: Path
) -> AsyncIterator[Engine]:
    """An Engine over `app_dir` on a fresh hub, stopped and its hub dropped afterwards."""
    from durable_host.functions import FunctionInvoker, load_app

    index = load_app(app_dir)
    invoker = FunctionInvoker(index)
    engine = Engine(connection_string, settings(hub_name), index, invoker)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()
        invoker.close(wait=False)
        await drop_hub(connection_string, hub_name)
