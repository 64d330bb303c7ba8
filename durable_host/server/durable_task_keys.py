"""The keys the extension reads under `extensions.durableTask` (DurableTaskOptions) and its
Azure Storage `storageProvider` (AzureStorageOptions), and the warnings for any other key.

The real host ignores a key it does not know, so a misspelled `hubNmae` silently runs the
app on the default task hub: durable_host warns instead, with the closest known key.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["unknown_key_warnings"]

# Azure/azure-functions-durable-extension, src/WebJobs.Extensions.DurableTask/Options/
# DurableTaskOptions.cs (public settable properties).
DURABLE_TASK_KEYS = (
    "hubName",
    "httpSettings",
    "storageProvider",
    "tracing",
    "notifications",
    "maxConcurrentActivityFunctions",
    "maxConcurrentOrchestratorFunctions",
    "maxConcurrentEntityFunctions",
    "localRpcEndpointEnabled",
    "maxEntityOperationBatchSize",
    "extendedSessionsEnabled",
    "extendedSessionIdleTimeoutInSeconds",
    "maxOrchestrationActions",
    "overridableExistingInstanceStates",
    "entityMessageReorderWindowInMinutes",
    "useGracefulShutdown",
    "rollbackEntityOperationsOnExceptions",
    "throwStatusExceptionsOnRaiseEvent",
    "useAppLease",
    "storeInputsInOrchestrationHistory",
    "appLeaseOptions",
)

# AzureStorageOptions.cs, plus `type` (which provider), the legacy `connectionStringName`
# and durable_host's own lease timings (docs/compatibility.md).
STORAGE_PROVIDER_KEYS = (
    "type",
    "connectionName",
    "connectionStringName",
    "controlQueueBatchSize",
    "partitionCount",
    "controlQueueBufferThreshold",
    "controlQueueVisibilityTimeout",
    "workItemQueueVisibilityTimeout",
    "trackingStoreConnectionName",
    "trackingStoreNamePrefix",
    "fetchLargeMessagesAutomatically",
    "maxQueuePollingInterval",
    "useLegacyPartitionManagement",
    "useTablePartitionManagement",
    "allowReplayingTerminalInstances",
    "partitionLeaseDurationSeconds",
    "partitionRenewIntervalSeconds",
)


def _suggestion(key: str, known: Iterable[str]) -> str | None:
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


# Durable Functions 1.x read the storage keys directly under durableTask; 2.x reads them under
# storageProvider, and names the connection setting connectionName.
_MOVED_TO_PROVIDER = {
    k.lower(): k
    for k in (
        "controlQueueBatchSize",
        "partitionCount",
        "controlQueueBufferThreshold",
        "controlQueueVisibilityTimeout",
        "workItemQueueVisibilityTimeout",
        "trackingStoreNamePrefix",
        "fetchLargeMessagesAutomatically",
        "maxQueuePollingInterval",
    )
}
_V1_CONNECTION_KEY = "azurestorageconnectionstringname"


def _hint(key: str, known: tuple[str, ...], *, top_level: bool) -> str:
    lowered = key.lower()
    if top_level and lowered == _V1_CONNECTION_KEY:
        return (
            " It is the Durable Functions 1.x name: write storageProvider.connectionName "
            "(`durable-host durable` still reads it, as Core Tools' `func durable` does)."
        )
    if top_level and lowered in _MOVED_TO_PROVIDER:
        return (
            f" Durable Functions 1.x read it here; 2.x reads "
            f"storageProvider.{_MOVED_TO_PROVIDER[lowered]}."
        )
    close = _suggestion(key, known)
    return f" Did you mean '{close}'?" if close else ""


def _unknown(section: Mapping[str, Any], known: tuple[str, ...], path: str) -> list[str]:
    lowered = {k.lower() for k in known}
    top_level = known is DURABLE_TASK_KEYS
    found = []
    for key in section:
        if str(key).lower() in lowered:
            continue
        found.append(
            f"host.json: {path}{key} is not a setting the Durable extension reads; it is "
            f"ignored (as the real host ignores it).{_hint(str(key), known, top_level=top_level)}"
        )
    return found


def unknown_key_warnings(durable_task: Mapping[str, Any]) -> list[str]:
    """One warning per key of `extensions.durableTask` (and its storageProvider) that the
    extension does not read, naming the closest known key."""
    path = "extensions.durableTask."
    warnings = _unknown(durable_task, DURABLE_TASK_KEYS, path)
    provider = next(
        (v for k, v in durable_task.items() if str(k).lower() == "storageprovider"), None
    )
    if isinstance(provider, Mapping):
        warnings += _unknown(provider, STORAGE_PROVIDER_KEYS, f"{path}storageProvider.")
    return warnings
