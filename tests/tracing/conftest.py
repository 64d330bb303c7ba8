"""Fixtures for the tracing tests: the process's TracerProvider with an in-memory exporter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from durable_host.testing import DurableTestEnvironment
from durable_host.tracing.provider import add_processor, install_provider

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "tracing"


@pytest.fixture(scope="session")
def span_memory() -> InMemorySpanExporter:
    install_provider()
    exporter = InMemorySpanExporter()
    add_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(span_memory: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_memory.clear()
    yield span_memory
    span_memory.clear()


@pytest.fixture
async def env(azurite: str) -> AsyncIterator[DurableTestEnvironment]:
    async with await DurableTestEnvironment.start(APP_DIR, storage=azurite) as environment:
        yield environment
