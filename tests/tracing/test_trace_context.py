"""The trace context as the task hub stores it, and tracing off loading no OpenTelemetry code."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from durable_host.server.settings import load_host_settings
from durable_host.taskhub.events import (
    ExecutionStarted,
    MessageData,
    OrchestrationInstance,
    TaskMessage,
    TaskScheduled,
)
from durable_host.taskhub.history_rows import event_from_row, event_to_row
from durable_host.taskhub.queue_messages import decode_message, encode_message
from durable_host.tracing import load_tracer
from durable_host.tracing.provider import one_line
from durable_host.tracing.w3c import (
    SpanRef,
    own_span_of,
    parent_of,
    parse_traceparent,
    trace_context_dict,
)

PROJECT = Path(__file__).resolve().parent.parent.parent
WHEN = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
PARENT = SpanRef(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1, "congo=t61rcWkgMzE")


def test_traceparent_round_trips_and_rejects_what_w3c_rejects() -> None:
    text = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert PARENT.traceparent == text
    assert parse_traceparent(text, PARENT.state) == PARENT
    for bad in (None, "", "zz", "ff-" + text[3:], text.replace("b7ad6b7169203331", "0" * 16)):
        assert parse_traceparent(bad) is None


def test_an_execution_started_keeps_its_span_through_the_queue_and_the_history_row() -> None:
    own = PARENT.with_span(0x1122334455667788)
    context = trace_context_dict(PARENT, own=own, start=WHEN)
    assert context == {
        "TraceParent": PARENT.traceparent,
        "TraceState": "congo=t61rcWkgMzE",
        "Id": own.traceparent,
        "SpanId": "1122334455667788",
        "ActivityStartTime": "2026-01-02T03:04:05.1234560+00:00",
    }
    instance = OrchestrationInstance("i-1", "e-1")
    started = ExecutionStarted(
        timestamp=WHEN, orchestration_instance=instance, name="n", parent_trace_context=context
    )
    body = encode_message(MessageData("a", TaskMessage(started, instance)))
    queued = json.loads(body)["TaskMessage"]["Event"]["ParentTraceContext"]
    assert queued["$type"] == "DurableTask.Core.Tracing.DistributedTraceContext"
    decoded = decode_message(body).task_message
    assert decoded is not None and decoded.event == started
    row = event_to_row(started, instance_id="i-1", execution_id="e-1", index=1)
    assert event_from_row(row) == started
    assert own_span_of(context) == (own, WHEN)


def test_a_scheduled_activity_names_its_client_span() -> None:
    client = PARENT.with_span(0x99)
    event = TaskScheduled(
        timestamp=WHEN, event_id=3, name="a", parent_trace_context=trace_context_dict(client)
    )
    row = event_to_row(event, instance_id="i", execution_id="e", index=4)
    back = event_from_row(row)
    assert isinstance(back, TaskScheduled)
    assert parent_of(back.parent_trace_context) == client
    assert own_span_of(back.parent_trace_context) is None


@pytest.mark.parametrize(
    ("tracing", "expected"),
    [
        ({"DistributedTracingEnabled": True, "Version": "V2"}, True),
        ({"distributedTracingEnabled": "true", "version": "v2"}, True),
        ({"DistributedTracingEnabled": True}, False),  # V1 is the extension's default
        ({"DistributedTracingEnabled": False, "Version": "V2"}, False),
        (None, False),
    ],
)
def test_host_json_turns_tracing_on_as_the_extension_does(
    tmp_path: Path, tracing: dict[str, Any] | None, expected: bool
) -> None:
    durable = {"tracing": tracing} if tracing is not None else {}
    host = {"version": "2.0", "extensions": {"durableTask": durable}}
    (tmp_path / "host.json").write_text(json.dumps(host))
    settings = load_host_settings(tmp_path, environ={})
    assert settings.durable_task.distributed_tracing is expected


def test_an_untraced_host_loads_none_of_the_opentelemetry_code() -> None:
    code = (
        "import sys, durable_host.cli, durable_host.server.host, durable_host.testing\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('durable_host.tracing.'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    # Only the package's __init__ (load_tracer), which imports nothing else.
    assert out.stdout.strip() == "[]"


def test_the_console_prints_one_line_per_span(span_memory: InMemorySpanExporter) -> None:
    span_memory.clear()
    tracer = load_tracer()
    own = PARENT.with_span(0xABC)
    tracer.emit(
        "orchestration:n",
        kind=SpanKind.SERVER,
        parent=PARENT,
        attributes={"durabletask.task.status": "Failed"},
        start=WHEN,
        end=WHEN + timedelta(milliseconds=250),
        span_id=own.span_id,
        error="it broke",
    )
    (span,) = span_memory.get_finished_spans()
    assert one_line(span) == (
        "[2026-01-02T03:04:05.373Z] Span orchestration:n (server, 250.0 ms) "
        "trace=0af7651916cd43dd8448eb211c80319c span=0000000000000abc parent=b7ad6b7169203331 "
        "ERROR 'it broke' durabletask.task.status=Failed\n"
    )
    span_memory.clear()
