"""Shared fixtures: one Azurite for the whole session, and a fresh task hub name per test.

Set DURABLE_HOST_TEST_STORAGE to a connection string to run against an already
running emulator (or a real account) instead of starting Azurite here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from durable_host.server.azurite import AzuriteProcess

PROJECT_DIR = Path(__file__).resolve().parent.parent
STORAGE_ENV = "DURABLE_HOST_TEST_STORAGE"


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A storage connection string, valid for the whole test session."""
    existing = os.environ.get(STORAGE_ENV)
    if existing:
        yield existing
        return
    with AzuriteProcess(PROJECT_DIR) as process:
        yield process.connection_string


@pytest.fixture
def hub_name() -> str:
    """A task hub name no other test uses (a letter, then alphanumerics)."""
    return "t" + uuid.uuid4().hex[:12]
