"""Which Durable Functions SDK generation the environment has, asked without importing it.

durable_host runs apps of both generations: azure-functions-durable 1.x speaks the JSON
protocol, 2.x (and `durabletask.azurefunctions`) the protobuf protocol. A few host features are
built on the 1.x SDK's own classes (the pytest fixtures' client, the replayer's walk, the SDK's
HTTP session); they call `require_1x_sdk` and say what they need instead of failing on import.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from durable_host.errors import SdkUnavailableError

__all__ = ["durable_sdk_version", "has_1x_sdk", "has_protobuf_worker", "require_1x_sdk"]

_1X_MODULE = "azure.durable_functions.models"


def durable_sdk_version() -> str | None:
    """The installed azure-functions-durable's version, None when it is not installed."""
    try:
        return importlib.metadata.version("azure-functions-durable")
    except importlib.metadata.PackageNotFoundError:
        return None


def _spec_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken one
        return False


def has_1x_sdk() -> bool:
    """azure-functions-durable 1.x is importable (2.x has no `azure.durable_functions.models`)."""
    return _spec_exists(_1X_MODULE)


def has_protobuf_worker() -> bool:
    """The Durable Task protobuf messages are importable (the `durabletask` package)."""
    return _spec_exists("durabletask.internal.orchestrator_service_pb2")


def require_1x_sdk(feature: str) -> None:
    """SdkUnavailableError naming `feature` and what the environment has instead."""
    if has_1x_sdk():
        return
    version = durable_sdk_version()
    found = f"azure-functions-durable {version}" if version else "no azure-functions-durable"
    raise SdkUnavailableError(
        f"{feature} needs azure-functions-durable 1.x (pip install 'azure-functions-durable<2'); "
        f"this environment has {found}. Apps on 2.x run with `durable-host start`; the "
        "README's 'Durable Functions 2.x apps' says what works with 2.x and what not yet."
    )
