"""Golden task hub data: rows, messages and blobs exactly as DurableTask.AzureStorage and the
extension write them, built by hand from their source (each writer names its file and lines),
so tests can put "the provider's" half of a hub next to ours.

Sources: Azure/durabletask 5217032 (`src/DurableTask.AzureStorage`, `src/DurableTask.Core`)
and Azure/azure-functions-durable-extension `dev` (`src/WebJobs.Extensions.DurableTask`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.blob.aio import BlobServiceClient

from durable_host.engine.client.engine_client import EngineClient
from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints
from durable_host.http.durable_api import DurableApi
from durable_host.taskhub.key_escaping import escape_partition_key
from durable_host.taskhub.storage import TaskHubStorage

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


async def put_blob(connection: str, container: str, name: str, text: str) -> str:
    """A gzipped payload blob as `MessageManager.CompressAndUploadAsBytesAsync` stores it;
    returns `MessageManager.GetBlobUrl(name)` (MessageManager.cs 283-288, 355-358)."""
    async with BlobServiceClient.from_connection_string(connection) as service:
        client = service.get_container_client(container)
        await client.upload_blob(name, gzip.compress(text.encode("utf-8")), overwrite=True)
        base = client.url.split("?")[0].rstrip("/")
    return base + "/" + "/".join(quote(segment, safe="") for segment in name.split("/"))


async def put_row(connection: str, table: str, row: dict[str, Any]) -> None:
    async with TableClient.from_connection_string(connection, table) as client:
        await client.upsert_entity(row, mode=UpdateMode.REPLACE)


async def get_row(
    connection: str, table: str, instance_id: str, row_key: str = ""
) -> dict[str, Any]:
    async with TableClient.from_connection_string(connection, table) as client:
        return dict(await client.get_entity(escape_partition_key(instance_id), row_key))


def instances_row(instance_id: str, hub: str, **columns: Any) -> dict[str, Any]:
    """An Instances row with the columns every checkpoint writes (AzureTableTrackingStore.cs
    933-940: CustomStatus "null" when unset, ExecutionId, LastUpdatedTime, TaskHubName) and
    those of its ExecutionStarted (985-1003: Name, Version, CreatedTime, RuntimeStatus,
    Tags, Generation)."""
    row: dict[str, Any] = {
        "PartitionKey": escape_partition_key(instance_id),
        "RowKey": "",
        "CustomStatus": "null",
        "ExecutionId": "e0",
        "LastUpdatedTime": T0,
        "TaskHubName": hub,
        "Name": "hello",
        "Version": "",
        "CreatedTime": T0,
        "RuntimeStatus": "Running",
        "Generation": 0,
    }
    row.update(columns)
    return row


def start_message_json(instance_id: str, execution_id: str, name: str, input_text: str) -> str:
    """A whole ExecutionStarted MessageData, as a large start message's blob holds it
    (MessageManager.SerializeMessageData: Newtonsoft with `$type` names)."""
    event = {
        "$type": "DurableTask.Core.History.ExecutionStartedEvent, DurableTask.Core",
        "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
        "EventType": 0,
        "ParentInstance": None,
        "Name": name,
        "Version": "",
        "Input": input_text,
        "Tags": None,
        "Generation": 0,
        "EventId": -1,
        "IsPlayed": False,
        "Timestamp": "2026-01-02T03:04:05.0000000Z",
    }
    return json.dumps(
        {
            "$type": "DurableTask.AzureStorage.MessageData, DurableTask.AzureStorage",
            "ActivityId": "8b3c1f2e-0000-4000-8000-000000000001",
            "TaskMessage": {
                "$type": "DurableTask.Core.TaskMessage, DurableTask.Core",
                "Event": event,
                "SequenceNumber": 0,
                "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
            },
            "CompressedBlobName": None,
            "SequenceNumber": 1,
            "Sender": {"InstanceId": "", "ExecutionId": ""},
            "SerializableTraceContext": None,
        }
    )


@asynccontextmanager
async def hub_client(
    storage: TaskHubStorage,
) -> AsyncIterator[tuple[EngineClient, TestClient[web.Request, web.Application]]]:
    """Our client on the hub, and the Durable HTTP API over it (no dispatchers)."""
    client = EngineClient.standalone(storage)
    endpoints = ClientEndpoints(
        origin="http://127.0.0.1", rpc_origin="http://127.0.0.1", hub_name=storage.names.hub
    )
    app = create_app(durable_api=DurableApi(client, endpoints))
    async with TestClient(TestServer(app)) as http:
        yield client, http


# -- entities and messages ----------------------------------------------------------------------


def _history_row(instance_id: str, execution_id: str, index: int, **columns: Any) -> dict[str, Any]:
    """A History row as AzureTableTrackingStore.UpdateStateAsync writes one (951-968: the
    event's members by TableEntityConverter, RowKey the sequence number in `X16`, ExecutionId;
    `Timestamp` is stored as `_Timestamp`, the enum as its name)."""
    row = {
        "PartitionKey": escape_partition_key(instance_id),
        "RowKey": f"{index:016X}",
        "ExecutionId": execution_id,
        "EventId": -1,
        "IsPlayed": False,
        "_Timestamp": T0,
    }
    row.update(columns)
    return row


async def write_entity(
    connection: str,
    storage: TaskHubStorage,
    instance_id: str,
    scheduler_state: str,
    custom_status: str,
    *,
    execution_id: str = "0123456789abcdef0123456789abcdef",
    started: datetime = T0,
) -> None:
    """An entity after a batch, as the extension stores it: a continue-as-new whose history is
    OrchestratorStarted, ExecutionStarted (Input: the SchedulerState) and OrchestratorCompleted
    (TaskEntityShim.cs 275-284; Core's TaskEntityDispatcher.cs 359-384), the sentinel
    (AzureTableTrackingStore.cs 1398-1415), then the Instances row of a running execution with
    the EntityStatus as CustomStatus (933-1003)."""
    names = storage.names
    key = escape_partition_key(instance_id)
    rows = [
        _history_row(instance_id, execution_id, 0, EventType="OrchestratorStarted"),
        _history_row(
            instance_id,
            execution_id,
            1,
            EventType="ExecutionStarted",
            OrchestrationInstance=json.dumps(
                {"InstanceId": instance_id, "ExecutionId": execution_id}
            ),
            ParentInstance="null",
            Name=instance_id,
            Version="",
            Input=scheduler_state,
            Tags="null",
            Generation=1,
            _Timestamp=started,
        ),
        _history_row(instance_id, execution_id, 2, EventType="OrchestratorCompleted"),
        {
            "PartitionKey": key,
            "RowKey": "sentinel",
            "ExecutionId": execution_id,
            "IsCheckpointComplete": True,
            "CheckpointCompletedTimestamp": started,
        },
    ]
    for row in rows:
        await put_row(connection, names.history_table, row)
    await put_row(
        connection,
        names.instances_table,
        instances_row(
            instance_id,
            names.hub,
            Name=instance_id,
            Input=scheduler_state,
            CustomStatus=custom_status,
            ExecutionId=execution_id,
            CreatedTime=started,
            LastUpdatedTime=started,
            Generation=1,
        ),
    )


def message_json(instance_id: str, execution_id: str | None, event: dict[str, Any]) -> str:
    """A queue message carrying `event` (its members after its `$type`), as the provider sends
    one: raw UTF-8 JSON of MessageData with Newtonsoft `$type` names first in each object
    (MessageManager.SerializeMessageDataAsync, MessageManager.cs 64, 103-105)."""
    instance = {"InstanceId": instance_id, "ExecutionId": execution_id}
    return json.dumps(
        {
            "$type": "DurableTask.AzureStorage.MessageData, DurableTask.AzureStorage",
            "ActivityId": "8b3c1f2e-0000-4000-8000-000000000002",
            "TaskMessage": {
                "$type": "DurableTask.Core.TaskMessage, DurableTask.Core",
                "Event": {**event, "IsPlayed": False, "Timestamp": "2026-01-02T03:04:05.0000000Z"},
                "SequenceNumber": 0,
                "OrchestrationInstance": instance,
            },
            "CompressedBlobName": None,
            "SequenceNumber": 2,
            "Sender": instance,
            "SerializableTraceContext": None,
        }
    )


def event_raised_message(instance_id: str, name: str, input_text: str | None) -> str:
    """A control-queue message carrying an EventRaisedEvent (EventType 15)."""
    event = {
        "$type": "DurableTask.Core.History.EventRaisedEvent, DurableTask.Core",
        "EventType": 15,
        "Name": name,
        "Input": input_text,
        "EventId": -1,
    }
    return message_json(instance_id, None, event)


def task_scheduled_message(
    instance_id: str, execution_id: str, event_id: int, name: str, input_text: str
) -> str:
    """A work-item message carrying a TaskScheduledEvent (EventType 4), as a checkpoint sends
    one for each activity it schedules (AzureStorageOrchestrationService.cs 1141-1226:
    `CommitOutboundQueueMessages` after the history and the Instances row)."""
    event = {
        "$type": "DurableTask.Core.History.TaskScheduledEvent, DurableTask.Core",
        "EventType": 4,
        "Name": name,
        "Version": "",
        "Input": input_text,
        "Tags": None,
        "EventId": event_id,
    }
    return message_json(instance_id, execution_id, event)


async def write_history(
    connection: str,
    storage: TaskHubStorage,
    instance_id: str,
    execution_id: str,
    events: list[dict[str, Any]],
) -> None:
    """An execution's History rows (RowKey = position, `X16`) and its sentinel as
    UpdateStateAsync and UploadHistoryBatch write them (AzureTableTrackingStore.cs 951-976,
    1403-1411)."""
    for index, columns in enumerate(events):
        row = _history_row(instance_id, execution_id, index, **columns)
        await put_row(connection, storage.names.history_table, row)
    sentinel = {
        "PartitionKey": escape_partition_key(instance_id),
        "RowKey": "sentinel",
        "ExecutionId": execution_id,
        "IsCheckpointComplete": True,
        "CheckpointCompletedTimestamp": T0,
    }
    await put_row(connection, storage.names.history_table, sentinel)


async def send_to_queue(connection: str, queue: str, body: str) -> None:
    from azure.storage.queue.aio import QueueClient

    async with QueueClient.from_connection_string(connection, queue) as client:
        await client.send_message(body)


async def send_raw(connection: str, storage: TaskHubStorage, instance_id: str, body: str) -> None:
    """Put a message body on the instance's control queue as the provider does."""
    await send_to_queue(connection, storage.names.control_queue_for(instance_id), body)
