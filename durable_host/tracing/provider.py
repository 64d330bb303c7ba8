"""The process's TracerProvider: console and OTLP exporters, and span ids the engine chooses.

A durable span outlives the process that starts it: the orchestration span's id is chosen at
the first episode and stored in the history, and the span is ended by whichever host runs the
last one. The SDK picks ids through its IdGenerator, so ours hands out a preset id when the
tracer asks it to (`preset_span_id`), and random ids otherwise.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

__all__ = ["install_provider", "preset_span_id"]

_PRESET: contextvars.ContextVar[int | None] = contextvars.ContextVar("preset_span_id", default=None)
_provider: TracerProvider | None = None


class _PresetIdGenerator(IdGenerator):
    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        preset = _PRESET.get()
        return preset if preset is not None else self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return self._random.generate_trace_id()


@contextmanager
def preset_span_id(span_id: int | None) -> Iterator[None]:
    """The next span started inside gets `span_id` (None: a random one)."""
    token = _PRESET.set(span_id)
    try:
        yield
    finally:
        _PRESET.reset(token)


def install_provider(*, console: bool = False) -> TracerProvider:
    """Create the provider once per process and make it the global one.

    Configured by the standard variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
    OTEL_EXPORTER_OTLP_*): spans go to OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT or
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, and to stdout with `console`.
    """
    global _provider
    if _provider is None:
        resource = Resource.create({"service.name": "durable-host"} | _service_from_env())
        _provider = TracerProvider(resource=resource, id_generator=_PresetIdGenerator())
        if _otlp_configured():
            _provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
        # Spans user code opens (e.g. inside an activity) come from the global provider.
        trace.set_tracer_provider(_provider)
    if console:
        add_processor(SimpleSpanProcessor(ConsoleSpanExporter(formatter=one_line)))
    return _provider


def add_processor(processor: SpanProcessor) -> None:
    """Also send finished spans to `processor` (tests add an in-memory exporter this way)."""
    assert _provider is not None, "install_provider() first"
    _provider.add_span_processor(processor)


def one_line(span: ReadableSpan) -> str:
    """`[time] Span <name> (<kind>, <ms>) trace=.. span=.. parent=.. <status> <attributes>`,
    one line per span, to read next to the host's Executing/Executed lines."""
    context = span.context
    ids = f"trace={context.trace_id:032x} span={context.span_id:016x}" if context else ""
    parent = f" parent={span.parent.span_id:016x}" if span.parent is not None else ""
    start, end = span.start_time or 0, span.end_time or 0
    when = datetime.fromtimestamp(end / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")
    status = span.status.status_code.name
    if span.status.description:
        status += f" {span.status.description!r}"
    attributes = " ".join(f"{k}={v!s}" for k, v in (span.attributes or {}).items())
    return (
        f"[{when.replace('+00:00', 'Z')}] Span {span.name} ({span.kind.name.lower()}, "
        f"{(end - start) / 1e6:.1f} ms) {ids}{parent} {status} {attributes}\n"
    )


def _service_from_env() -> dict[str, str]:
    name = os.environ.get("OTEL_SERVICE_NAME")
    return {"service.name": name} if name else {}


def _otlp_configured() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _otlp_exporter() -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        from durable_host.errors import ConfigurationError

        raise ConfigurationError(
            f"OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is missing ({exc}). "
            "Install it with: pip install 'durable-host[otel]'"
        ) from exc
    return OTLPSpanExporter()
