"""Test Durable Functions apps with the real engine: `DurableTestEnvironment` and pytest fixtures.

Installed as the pytest plugin `durable_host` (fixtures `durable_env`, `durable_client`); see
"Testing your orchestrations" in the README.
"""

from durable_host.testing._environment import (
    ActivityDouble,
    DurableTestEnvironment,
)
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
