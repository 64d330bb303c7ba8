"""Distributed tracing with OpenTelemetry, in the Durable extension's Distributed Tracing V2 shape.

Off unless host.json says `extensions.durableTask.tracing` `DistributedTracingEnabled: true`
with `Version: "V2"`. Nothing imported from this package's `__init__` or `w3c` touches
opentelemetry: the engine holds `tracer = None` when tracing is off and checks only that, so
an untraced host neither imports nor runs any of it. `load_tracer()` imports the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from durable_host.errors import ConfigurationError

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

__all__ = ["load_tracer"]


def load_tracer(*, console: bool = False) -> DurableTracer:
    """The process's tracer (installing the TracerProvider once); needs `durable-host[otel]`."""
    try:
        from durable_host.tracing.provider import install_provider
        from durable_host.tracing.spans import DurableTracer
    except ImportError as exc:
        raise ConfigurationError(
            f"host.json turns on distributed tracing, but OpenTelemetry is missing ({exc}). "
            "Install it with: pip install 'durable-host[otel]'"
        ) from exc
    return DurableTracer(install_provider(console=console))
