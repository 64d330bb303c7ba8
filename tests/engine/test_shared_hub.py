"""A task hub shared with hosts of the extension: what an engine's start refuses (issue 27,
item 4: blob partition leases, another app's app lease) and what it warns of (item 5: messages
parked in `<hub>-poison`, which only durable_host reads). The provider's blobs are written as
DurableTask.AzureStorage writes them (Azure/durabletask 5217032, cited per test)."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueClient

from durable_host.engine.runtime import Engine
from durable_host.errors import TaskHubInUseError
from durable_host.functions import FunctionIndex, FunctionInvoker
from tests.engine._helpers import drop_hub, settings
from tests.provider_rows import put_blob


async def refused(azurite: str, hub_name: str, app_index: FunctionIndex) -> str:
    """Start an engine on the hub; the TaskHubInUseError's message (it must not start)."""
    engine = Engine(azurite, settings(hub_name), app_index, FunctionInvoker(app_index))
    try:
        with pytest.raises(TaskHubInUseError) as refusal:
            await engine.start()
    finally:
        await engine.stop()
    return str(refusal.value)


async def test_a_hub_with_blob_partition_leases_is_refused(
    azurite: str, hub_name: str, app_index: FunctionIndex
) -> None:
    # BlobPartitionLeaseManager (5217032): `<hub>-leases` (AzureStorageOrchestrationService.cs
    # 223-231) with taskhub.json, the TaskHubInfo (BlobPartitionLeaseManager.cs 247-259,
    # TaskHubInfo.cs 20-29), and a lease blob per queue under `default/` (89-100).
    container = f"{hub_name.lower()}-leases"
    info = {"TaskHubName": hub_name, "CreatedAt": "2026-01-02T03:04:05Z", "PartitionCount": 4}
    async with BlobServiceClient.from_connection_string(azurite) as service:
        await service.create_container(container)
    await put_blob(azurite, container, "taskhub.json", json.dumps(info))
    try:
        message = await refused(azurite, hub_name, app_index)
        assert "blob partition leases" in message and container in message
        assert "useTablePartitionManagement" in message and "hubName" in message
    finally:
        await drop_hub(azurite, hub_name)
        async with BlobServiceClient.from_connection_string(azurite) as service:
            await service.delete_container(container)


async def test_a_hub_another_app_holds_is_refused_until_its_lease_ends(
    azurite: str, hub_name: str, app_index: FunctionIndex
) -> None:
    # AppLeaseManager (5217032): a container lease on `<hub>-applease` (AzureStorage
    # OrchestrationService.cs 183-188; AppLeaseManager.cs 364-377), its id a Guid of the app
    # name's FNV-1a hash (75-77).
    container = f"{hub_name.lower()}-applease"
    async with BlobServiceClient.from_connection_string(azurite) as service:
        client = service.get_container_client(container)
        await client.create_container()
        lease = await client.acquire_lease(lease_duration=30, lease_id=str(uuid.uuid4()))
        try:
            message = await refused(azurite, hub_name, app_index)
            assert "another app" in message and container in message
        finally:
            await lease.release()
        engine = Engine(azurite, settings(hub_name), app_index, FunctionInvoker(app_index))
        await engine.start()  # a released (or expired) app lease keeps nobody off
        await engine.stop()
        await drop_hub(azurite, hub_name)


async def test_start_warns_of_messages_only_durable_host_reads(
    azurite: str, hub_name: str, app_index: FunctionIndex, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(azurite, settings(hub_name), app_index, FunctionInvoker(app_index))
    await engine.storage.create_if_not_exists()
    poison = engine.names.poison_queue
    async with QueueClient.from_connection_string(azurite, poison) as queue:
        await queue.send_message(json.dumps({"Queue": "x", "Reason": "test", "Body": "{}"}))
    with caplog.at_level(logging.WARNING, logger="durable_host.engine"):
        await engine.start()
    try:
        [warning] = [r.getMessage() for r in caplog.records if poison in r.getMessage()]
        assert "1 message(s) parked" in warning and "durable-host poison list" in warning
    finally:
        await engine.stop()
        await drop_hub(azurite, hub_name)
