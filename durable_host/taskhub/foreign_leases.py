"""Refuse a task hub that hosts of another kind hold in a way durable_host cannot share.

durable_host takes partitions with the table partition manager's rows only (`lease_table.py`).
Two layouts of the provider keep others off a hub in ways it does not take part in
(docs/task-hub-layout.md §8.4):

- blob partition leases, `<hub>-leases` (`taskhub.json` and a lease blob per control queue;
  DT.AS `Partitioning/BlobPartitionLeaseManager.cs`), the default of extension 2.x and of 3.x
  with `useTablePartitionManagement: false`: such a host does not see our table rows, so both
  would read the same control queues and run the same work twice;
- the app lease, a lease on the container `<hub>-applease` held while an app runs on the hub
  (`Partitioning/AppLeaseManager.cs`, `UseAppLease` on by default): it keeps every other app
  off the hub.
"""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from durable_host.errors import TaskHubInUseError
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage_errors import storage_errors

__all__ = ["refuse_foreign_leases"]


async def refuse_foreign_leases(blobs: BlobServiceClient, names: TaskHubNames) -> None:
    """Raise TaskHubInUseError when the hub uses blob partition leases or another app holds
    its app lease; return quietly otherwise."""
    blob_lease = await _first_blob(blobs, names.leases_container)
    if blob_lease is not None:
        container = names.leases_container
        raise TaskHubInUseError(
            f"Task hub {names.hub} uses blob partition leases: the container {container} "
            f"holds {blob_lease} (written by Durable Functions extension 2.x, or 3.x with "
            "storageProvider.useTablePartitionManagement false). durable_host takes "
            f"partitions with table leases only ({names.partitions_table}), so beside such a "
            "host both would read the same control queues and run the same work twice. Stop "
            "the hosts of that app and set storageProvider.useTablePartitionManagement to "
            f"true for it (extension 3.x), then delete the container {container}; or give "
            "this app another hubName."
        )
    if await _leased(blobs, names.app_lease_container):
        raise TaskHubInUseError(
            f"Task hub {names.hub} is in use by another app: the container "
            f"{names.app_lease_container} holds a live app lease, which a Functions host "
            "running on this hub keeps to hold other apps off it (its UseAppLease, on by "
            "default). durable_host does not take part in the app lease. Stop that app (its "
            "lease ends within 30 seconds) or give this app another hubName."
        )


async def _first_blob(blobs: BlobServiceClient, container: str) -> str | None:
    client = blobs.get_container_client(container)
    with storage_errors(f"list the blobs of {container}"):
        try:
            async for blob in client.list_blobs(results_per_page=1):
                return str(blob.name)
        except ResourceNotFoundError:
            return None
    return None


async def _leased(blobs: BlobServiceClient, container: str) -> bool:
    client = blobs.get_container_client(container)
    with storage_errors(f"read the lease of {container}"):
        try:
            properties = await client.get_container_properties()
        except ResourceNotFoundError:
            return False
    return bool(properties.lease.state == "leased")
