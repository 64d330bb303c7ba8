"""One trace per HTTP-started orchestration, in the Distributed Tracing V2 shape.

The spans come from the OpenTelemetry SDK's in-memory exporter; the host runs the tracing
test app (host.json turns tracing on) on Azurite.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence

import aiohttp
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from durable_host.taskhub.events import ExecutionStarted, TaskCompleted
from durable_host.testing import DurableTestEnvironment
from tests.tracing.conftest import APP_DIR

pytestmark = pytest.mark.azurite


def _named(spans: Sequence[ReadableSpan], name: str, kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name and s.kind == kind]


def _one(spans: Sequence[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    found = _named(spans, name, kind)
    assert len(found) == 1, f"{name} ({kind.name}): {len(found)} spans, expected 1"
    return found[0]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    span_id: int = span.context.span_id
    return span_id


async def _start_over_http(env: DurableTestEnvironment, name: str, body: object, tp: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{env.base_url}/api/start/{name}", json=body, headers={"traceparent": tp}
        ) as response,
    ):
        assert response.status == 202, await response.text()
        instance_id: str = (await response.json())["id"]
        return instance_id


async def test_an_http_started_orchestration_is_one_trace_with_every_kind_of_work(
    env: DurableTestEnvironment, spans: InMemorySpanExporter
) -> None:
    trace_id, caller = random.getrandbits(128), random.getrandbits(64)
    instance_id = await _start_over_http(
        env, "traced_order", [1, 2, 3], f"00-{trace_id:032x}-{caller:016x}-01"
    )
    status = await env.wait_for_completion(instance_id)
    assert status.output == {"tally": 3, "doubled": [2, 4, 6], "child": 24}

    finished = spans.get_finished_spans()
    assert {s.context.trace_id for s in finished if s.context} == {trace_id}
    assert len({_id(s) for s in finished}) == len(finished), "a span was emitted twice"
    assert not [s.name for s in finished if s.status.status_code == StatusCode.ERROR]

    http = _one(finished, "POST /api/start/{name}", SpanKind.SERVER)
    assert _parent_id(http) == caller
    create = _one(finished, "create_orchestration:traced_order", SpanKind.PRODUCER)
    assert _parent_id(create) == _id(http)
    assert create.attributes is not None
    assert create.attributes["durabletask.type"] == "orchestration"
    assert create.attributes["durabletask.task.instance_id"] == instance_id

    orchestration = _one(finished, "orchestration:traced_order", SpanKind.SERVER)
    assert _parent_id(orchestration) == _id(create)
    assert dict(orchestration.attributes or {}) == {
        "durabletask.type": "orchestration",
        "durabletask.task.name": "traced_order",
        "durabletask.task.instance_id": instance_id,
        "durabletask.task.status": "Completed",
    }
    assert orchestration.status.status_code == StatusCode.OK
    parent_id = _id(orchestration)

    # The entity call: the caller's side under the orchestration, the entity's under it.
    call = _one(finished, "entity:tally:add", SpanKind.CLIENT)
    assert _parent_id(call) == parent_id
    assert call.attributes is not None
    assert call.attributes["durabletask.task.operation"] == "call_entity"
    assert call.attributes["durabletask.event.target_instance_id"] == "@tally@orders"
    served = _one(finished, "entity:tally:add", SpanKind.SERVER)
    assert _parent_id(served) == _id(call)

    timer = _one(finished, "orchestration:traced_order:timer", SpanKind.INTERNAL)
    assert _parent_id(timer) == parent_id
    assert timer.attributes is not None and "durabletask.fire_at" in timer.attributes

    sub_client = _one(finished, "orchestration:traced_child", SpanKind.CLIENT)
    assert _parent_id(sub_client) == parent_id
    sub_server = _one(finished, "orchestration:traced_child", SpanKind.SERVER)
    assert _parent_id(sub_server) == _id(sub_client)

    # Fan-out: three activities under the parent, one under the child; each runs under its
    # scheduling span, and the span the activity's own code opens nests under that.
    clients = _named(finished, "activity:double", SpanKind.CLIENT)
    assert sorted(_parent_id(s) == parent_id for s in clients) == [False, True, True, True]
    assert [_parent_id(s) for s in clients if _parent_id(s) != parent_id] == [_id(sub_server)]
    assert {s.attributes["durabletask.task.task_id"] for s in clients if s.attributes} >= {1, 2, 3}
    servers = _named(finished, "activity:double", SpanKind.SERVER)
    assert sorted(_parent_id(s) or 0 for s in servers) == sorted(_id(s) for s in clients)
    work = _named(finished, "double-work", SpanKind.INTERNAL)
    assert sorted(_parent_id(s) or 0 for s in work) == sorted(_id(s) for s in servers)

    counts = Counter((s.name, s.kind) for s in finished)
    assert counts[("activity:double", SpanKind.SERVER)] == 4
    assert len(finished) == 20  # 1 http, 1 create, 1 orchestration, 2 sub-orchestration
    # (client + server), 2 entity, 1 timer, 4 + 4 activity, 4 user spans; nothing else


async def test_a_failure_sets_error_status_on_the_activity_and_the_orchestration(
    env: DurableTestEnvironment, spans: InMemorySpanExporter
) -> None:
    instance_id = await env.start_orchestration("doomed", None)
    await env.wait_for_completion(instance_id, expected_status="Failed")
    finished = spans.get_finished_spans()

    ran = _one(finished, "activity:explode", SpanKind.SERVER)
    assert ran.status.status_code == StatusCode.ERROR
    assert "boom: the answer is not 42" in (ran.status.description or "")
    exception = next(e for e in ran.events if e.name == "exception")
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "ValueError"
    scheduled = _one(finished, "activity:explode", SpanKind.CLIENT)
    assert scheduled.status.status_code == StatusCode.ERROR
    orchestration = _one(finished, "orchestration:doomed", SpanKind.SERVER)
    assert orchestration.status.status_code == StatusCode.ERROR
    assert orchestration.attributes is not None
    assert orchestration.attributes["durabletask.task.status"] == "Failed"


async def test_a_rewound_execution_runs_in_a_new_span_of_the_same_trace(
    env: DurableTestEnvironment, spans: InMemorySpanExporter
) -> None:
    instance_id = await env.start_orchestration("flaky_once", None)
    await env.wait_for_completion(instance_id, expected_status="Failed")
    await env.engine.client.rewind(instance_id, "try again")
    deadline = time.monotonic() + 10
    while (await env.client.get_status(instance_id)).runtime_status.name != "Completed":
        assert time.monotonic() < deadline, "not Completed within 10 s of the rewind"
        await asyncio.sleep(0.05)
    finished = spans.get_finished_spans()

    create = _one(finished, "create_orchestration:flaky_once", SpanKind.PRODUCER)
    failed, rewound = _named(finished, "orchestration:flaky_once", SpanKind.SERVER)
    assert (failed.status.status_code, rewound.status.status_code) == (
        StatusCode.ERROR,
        StatusCode.OK,
    )
    assert _parent_id(failed) == _parent_id(rewound) == _id(create)
    assert _id(failed) != _id(rewound)
    runs = _named(finished, "activity:flaky", SpanKind.CLIENT)
    assert [(_parent_id(s), s.status.status_code) for s in runs] == [
        (_id(failed), StatusCode.ERROR),
        (_id(rewound), StatusCode.UNSET),
    ]


async def _wait_for_history(env: DurableTestEnvironment, instance_id: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done = [e for e in await env.history(instance_id) if isinstance(e, TaskCompleted)]
        if len(done) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{instance_id} did not complete {count} activities within 10 s")


async def test_the_trace_goes_on_after_the_host_restarts_mid_orchestration(
    azurite: str, spans: InMemorySpanExporter
) -> None:
    first = await DurableTestEnvironment.start(APP_DIR, storage=azurite, delete_hub=False)
    try:
        instance_id = await first.start_orchestration("gated", None)
        await _wait_for_history(first, instance_id, 1)
        hub = first.hub_name
    finally:
        await first.close()
    before = spans.get_finished_spans()
    assert not _named(before, "orchestration:gated", SpanKind.SERVER)
    create = _one(before, "create_orchestration:gated", SpanKind.PRODUCER)

    async with await DurableTestEnvironment.start(APP_DIR, storage=azurite, hub_name=hub) as second:
        await second.raise_event(instance_id, "go", 20)
        status = await second.wait_for_completion(instance_id)
        assert status.output == 42
        started = next(
            e for e in await second.history(instance_id) if isinstance(e, ExecutionStarted)
        )

    finished = spans.get_finished_spans()
    orchestration = _one(finished, "orchestration:gated", SpanKind.SERVER)
    assert orchestration.context is not None and create.context is not None
    assert orchestration.context.trace_id == create.context.trace_id
    assert _parent_id(orchestration) == _id(create)
    # The span the first host chose (stored in the history) is the one the second ended.
    assert started.parent_trace_context is not None
    assert int(started.parent_trace_context["SpanId"], 16) == _id(orchestration)
    clients = _named(finished, "activity:double", SpanKind.CLIENT)
    assert len(clients) == 2
    assert {_parent_id(s) for s in clients} == {_id(orchestration)}
    assert len({_id(s) for s in finished}) == len(finished)
