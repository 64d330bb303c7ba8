"""Test Durable Functions apps with the real engine: `DurableTestEnvironment` and pytest fixtures.

Installed as the pytest plugin `durable_host` (fixtures `durable_env`, `durable_client`); see
"Testing your orchestrations" in the README.

The names below are imported on first use: pytest imports this package for the plugin in every
run of an environment where durable_host is installed, whichever SDK generation it has (or
none); what needs one says so when used (testing/_clients.py, history_check/run.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from durable_host.testing._environment import ActivityDouble, DurableTestEnvironment
    from durable_host.testing._failures import OrchestrationAssertionError
    from durable_host.testing._replay import replay_history
    from durable_host.testing._replay_check import ReplayCheckError
    from durable_host.testing._storage import STORAGE_ENV, test_storage

__all__ = [
    "STORAGE_ENV",
    "ActivityDouble",
    "DurableTestEnvironment",
    "OrchestrationAssertionError",
    "ReplayCheckError",
    "replay_history",
    "test_storage",
]

_HOMES = {
    "ActivityDouble": "_environment",
    "DurableTestEnvironment": "_environment",
    "OrchestrationAssertionError": "_failures",
    "replay_history": "_replay",
    "ReplayCheckError": "_replay_check",
    "STORAGE_ENV": "_storage",
    "test_storage": "_storage",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'durable_host.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"durable_host.testing.{home}"), name)
