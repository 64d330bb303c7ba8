"""The app's patterns end to end through the durable_host.testing plugin (fixtures durable_env,
durable_client), on the session's Azurite (tests/conftest.py) and virtual time."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def durable_storage(azurite: str) -> str:
    # One Azurite for the whole run: the plugin's own would be a second emulator.
    return azurite
