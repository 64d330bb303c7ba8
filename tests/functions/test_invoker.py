"""FunctionInvoker: every kind of function through the real azure-functions(-durable) SDK."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from durable_host.errors import FunctionInvocationError, FunctionNotFoundError
from durable_host.functions import (
    FunctionIndex,
    FunctionInvoker,
    InvocationEvent,
    InvocationLogFilter,
    format_event,
    load_app,
)

BASIC = Path(__file__).resolve().parent.parent / "apps" / "basic"
T0 = "2025-03-01T10:00:00.0000000Z"
T1 = "2025-03-01T10:00:01.0000000Z"


@pytest.fixture(scope="module")
def index() -> FunctionIndex:
    return load_app(BASIC)


@pytest.fixture
def events() -> list[InvocationEvent]:
    return []


@pytest.fixture
def invoker(index: FunctionIndex, events: list[InvocationEvent]) -> Iterator[FunctionInvoker]:
    invoker = FunctionInvoker(index, max_workers=4, hook=events.append)
    yield invoker
    invoker.close()


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(InvocationLogFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_logs() -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    app_logger = logging.getLogger("basic_app")
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    yield handler
    app_logger.removeHandler(handler)


def event(event_type: int, **fields: Any) -> dict[str, Any]:
    return {"EventType": event_type, "EventId": -1, "IsPlayed": False, "Timestamp": T0, **fields}


def orchestration_context(name: str, input_json: str | None, history: list[dict[str, Any]]) -> str:
    """The trigger payload (docs/protocol.md §1.1); `input`: the stored input as a JSON string."""
    return json.dumps(
        {
            "history": history,
            "input": input_json,
            "instanceId": "inst-1",
            "isReplaying": False,
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00",
            "maximumShortTimerDuration": "6.00:00:00",
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        },
        indent=2,
    )


def started(name: str, input_json: str) -> list[dict[str, Any]]:
    return [
        event(12),
        event(
            0,
            Name=name,
            Version="",
            Input=input_json,
            OrchestrationInstance={"InstanceId": "inst-1", "ExecutionId": "e1"},
            ParentInstance=None,
            Tags=None,
        ),
    ]


# -- orchestrators -------------------------------------------------------------------


async def test_orchestrator_first_episode_schedules_the_activity(invoker: FunctionInvoker) -> None:
    context = orchestration_context(
        "hello_orchestrator", '"Tokyo"', started("hello_orchestrator", '"Tokyo"')
    )
    outcome = await invoker.invoke_orchestrator("Hello_Orchestrator", context)
    assert outcome.error is None
    assert outcome.state == {
        "isDone": False,
        "schemaVersion": 2,
        "actions": [[{"actionType": 0, "functionName": "say_hello", "input": '"Tokyo"'}]],
    }


async def test_orchestrator_replays_to_completion(invoker: FunctionInvoker) -> None:
    history = [
        *[
            {**e, "IsPlayed": e["EventType"] != 12}
            for e in started("hello_orchestrator", '"Tokyo"')
        ],
        {**event(4, EventId=0, Name="say_hello", Version="", Input='"Tokyo"'), "IsPlayed": True},
        event(13),
        {**event(12), "Timestamp": T1},
        event(5, TaskScheduledId=0, Result='"Hello Tokyo!"'),
    ]
    context = orchestration_context("hello_orchestrator", '"Tokyo"', history)
    outcome = await invoker.invoke_orchestrator("hello_orchestrator", context)
    assert outcome.error is None
    assert outcome.state is not None
    assert outcome.state["isDone"] is True
    assert outcome.state["output"] == ["Hello Tokyo!"]


async def test_orchestrator_error_carries_the_state_after_the_marker(
    invoker: FunctionInvoker, events: list[InvocationEvent]
) -> None:
    context = orchestration_context("RenamedOrchestrator", None, started("RenamedOrchestrator", ""))
    outcome = await invoker.invoke_orchestrator("renamedorchestrator", context)
    assert outcome.error == "Exception: orchestrator exploded"
    assert outcome.state is not None
    assert outcome.state["error"] == "orchestrator exploded"
    assert outcome.state["customStatus"] == {"stage": "before"}
    assert outcome.state["isDone"] is False
    end = events[-1]
    assert (end.phase, end.success, end.function_name) == ("end", False, "failing_orchestrator")
    assert end.error == "Exception: orchestrator exploded"


async def test_orchestrator_sdk_failure_has_no_state(invoker: FunctionInvoker) -> None:
    context = orchestration_context("hello_orchestrator", None, [event(12)])
    outcome = await invoker.invoke_orchestrator("hello_orchestrator", context)
    assert outcome.state is None
    assert outcome.error is not None
    assert outcome.error.startswith("Exception: Internal Durable Functions error")


async def test_unknown_orchestrator(invoker: FunctionInvoker) -> None:
    with pytest.raises(FunctionNotFoundError, match="is not an orchestrator function"):
        await invoker.invoke_orchestrator("say_hello", "{}")


# -- activities ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw_input", "expected"),
    [
        ("say_hello", '"Tokyo"', '"Hello Tokyo!"'),
        ("say_hello", '"Grüße 東京"', json.dumps("Hello Grüße 東京!")),
        ("async_echo", '{"a": [1, 2.5, null], "b": "x"}', '{"a": [1, 2.5, null], "b": "x"}'),
        ("async_echo", "42", "42"),
        ("async_echo", "not json at all", '"not json at all"'),  # the converter's fallback
        ("Renamed_Activity", "true", "true"),
        ("returns_none", '"ignored"', None),
        ("async_echo", "null", None),
        ("shout", '"blueprint"', '"BLUEPRINT"'),
    ],
)
async def test_activity_inputs_and_results(
    invoker: FunctionInvoker, name: str, raw_input: str, expected: str | None
) -> None:
    outcome = await invoker.invoke_activity(name, raw_input)
    assert outcome.error is None
    assert outcome.result_json == expected


async def test_activity_failure_reports_type_message_and_user_stack(
    invoker: FunctionInvoker, events: list[InvocationEvent]
) -> None:
    outcome = await invoker.invoke_activity("failing_activity", '{"a": 1}')
    assert outcome.result_json is None
    assert outcome.error is not None
    assert outcome.error.message == "RuntimeError: activity failed for {'a': 1}"
    assert outcome.error.error_type == "RuntimeError"
    assert "function_app.py" in outcome.error.stack_trace
    assert "in failing_activity" in outcome.error.stack_trace
    assert "concurrent" not in outcome.error.stack_trace
    assert [(e.phase, e.success) for e in events] == [("start", None), ("end", False)]
    assert events[1].error == outcome.error.message


async def test_activity_result_that_is_not_json_fails(invoker: FunctionInvoker) -> None:
    outcome = await invoker.invoke_activity("returns_object", "1")
    assert outcome.result_json is None
    assert outcome.error is not None
    assert outcome.error.error_type == "ValueError"
    assert outcome.error.message.startswith(
        "ValueError: activity trigger output must be json serializable"
    )


async def test_activity_without_input(invoker: FunctionInvoker) -> None:
    outcome = await invoker.invoke_activity("async_echo", None)
    assert (outcome.result_json, outcome.error) == (None, None)


async def test_activity_gets_func_context(invoker: FunctionInvoker) -> None:
    outcome = await invoker.invoke_activity("with_context", '"x"')
    assert outcome.result_json is not None
    result = json.loads(outcome.result_json)
    assert result == {"function": "with_context", "invocation": outcome.invocation_id}


async def test_sync_activities_run_concurrently_in_the_pool(index: FunctionIndex) -> None:
    module_globals = index.get_activity("wait_at_barrier").user_function.__globals__
    # Each call blocks until all three are inside the barrier: only concurrent threads pass.
    module_globals["barrier"] = threading.Barrier(3, timeout=10)
    invoker = FunctionInvoker(index, max_workers=3)
    try:
        outcomes = await asyncio.gather(
            *(invoker.invoke_activity("wait_at_barrier", str(i)) for i in range(3))
        )
    finally:
        invoker.close()
        module_globals["barrier"] = None
    assert [o.error for o in outcomes] == [None, None, None]
    thread_ids = {o.result_json for o in outcomes}
    assert len(thread_ids) == 3
    assert str(threading.get_ident()) not in thread_ids


def test_pool_size_follows_the_worker_setting(
    index: FunctionIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "7")
    invoker = FunctionInvoker(index)
    assert invoker.max_workers == 7
    invoker.close()
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "zero")
    invoker = FunctionInvoker(index)
    assert invoker.max_workers == min(32, (os.cpu_count() or 1) + 4)
    invoker.close()


# -- entities ------------------------------------------------------------------------


async def test_entity_batch(invoker: FunctionInvoker) -> None:
    batch = {
        "self": {"name": "counter", "key": "k1"},
        "exists": True,
        "state": "5",
        "batch": [
            {"name": "add", "input": json.dumps(json.dumps(3)), "isSignal": True},
            {"name": "get", "input": json.dumps(json.dumps(None)), "isSignal": False},
            {"name": "fail", "input": json.dumps(json.dumps(None)), "isSignal": False},
        ],
    }
    result = json.loads(await invoker.invoke_entity("counter", json.dumps(batch)))
    assert result["entityExists"] is True
    assert result["entityState"] == "8"
    assert result["signals"] == []
    assert [(r["isError"], r["result"]) for r in result["results"]] == [
        (False, "null"),
        (False, "8"),
        (True, '"no such luck"'),
    ]


async def test_entity_sdk_failure_raises(invoker: FunctionInvoker) -> None:
    with pytest.raises(FunctionInvocationError) as caught:
        await invoker.invoke_entity("Counter", "not json")
    assert caught.value.error_type == "JSONDecodeError"


# -- HTTP ----------------------------------------------------------------------------

CLIENT_BINDING = {
    "taskHubName": "MyHub",
    "connectionName": None,
    "creationUrls": {
        "createNewInstancePostUri": "http://localhost:7071/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]",
        "createAndWaitOnNewInstancePostUri": "http://localhost:7071/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}",
    },
    "managementUrls": {
        "id": "INSTANCEID",
        "statusQueryGetUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID?taskHub=MyHub&connection=Storage",
        "sendEventPostUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID/raiseEvent/{eventName}?taskHub=MyHub&connection=Storage",
        "terminatePostUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID/terminate?reason={text}&taskHub=MyHub&connection=Storage",
        "rewindPostUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID/rewind?reason={text}&taskHub=MyHub&connection=Storage",
        "purgeHistoryDeleteUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID?taskHub=MyHub&connection=Storage",
        "restartPostUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID/restart?taskHub=MyHub&connection=Storage",
        "suspendPostUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID/suspend?reason={text}&taskHub=MyHub&connection=Storage",
        "resumePostUri": "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID/resume?reason={text}&taskHub=MyHub&connection=Storage",
    },
    "baseUrl": "http://localhost:7071/runtime/webhooks/durabletask",
    "requiredQueryStringParameters": "",
    "rpcBaseUrl": "http://127.0.0.1:17071/durabletask/",
    "httpBaseUrl": None,
}


def request(method: str, path: str, route_params: dict[str, str], **kw: Any) -> func.HttpRequest:
    return func.HttpRequest(
        method=method,
        url=f"http://localhost:7071/api/{path}",
        headers=kw.get("headers", {}),
        params=kw.get("params", {}),
        route_params=route_params,
        body=kw.get("body", b""),
    )


async def test_http_starter_receives_a_durable_client(
    invoker: FunctionInvoker, index: FunctionIndex
) -> None:
    fn = index.get_http("http_start")
    req = request(
        "POST",
        "orchestrators/hello_orchestrator/abc",
        {"name": "hello_orchestrator", "instance_id": "abc"},
        headers={"x-test": "yes"},
    )
    response = await invoker.invoke_http(fn, req, client_binding_json=json.dumps(CLIENT_BINDING))
    assert response.status_code == 202
    assert response.headers["X-Seen"] == "yes"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    client_type, hub, name, status_uri = response.get_body().decode().split("|")
    assert (client_type, hub, name) == ("DurableOrchestrationClient", "MyHub", "hello_orchestrator")
    assert status_uri == (
        "http://localhost:7071/runtime/webhooks/durabletask/instances/abc"
        "?taskHub=MyHub&connection=Storage"
    )


async def test_http_starter_needs_the_binding(
    invoker: FunctionInvoker, index: FunctionIndex
) -> None:
    with pytest.raises(ValueError, match="client_binding_json"):
        await invoker.invoke_http(index.get_http("http_start"), request("GET", "x", {"name": "x"}))


async def test_sync_http_with_context_and_route_params(
    invoker: FunctionInvoker, index: FunctionIndex, events: list[InvocationEvent]
) -> None:
    response = await invoker.invoke_http(
        index.get_http("hello_http"), request("GET", "hello/Ann", {"name": "Ann"})
    )
    assert response.status_code == 200
    assert response.get_body() == b"Hello Ann from hello_http"
    assert [(e.kind, e.phase, e.success) for e in events] == [
        ("http", "start", None),
        ("http", "end", True),
    ]
    assert events[0].reason == "This function was programmatically called via the host APIs."


async def test_async_http_returning_a_string(
    invoker: FunctionInvoker, index: FunctionIndex
) -> None:
    response = await invoker.invoke_http(index.get_http("AsyncText"), request("PUT", "text", {}))
    assert response.status_code == 200
    assert response.get_body() == b"plain PUT"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_http_failures_raise_invocation_errors(
    invoker: FunctionInvoker, index: FunctionIndex, events: list[InvocationEvent]
) -> None:
    with pytest.raises(FunctionInvocationError) as caught:
        await invoker.invoke_http(index.get_http("http_boom"), request("GET", "boom", {}))
    assert caught.value.message == "KeyError: 'missing thing'"
    assert "in http_boom" in caught.value.stack_trace
    with pytest.raises(FunctionInvocationError) as caught:
        await invoker.invoke_http(index.get_http("returns_dict"), request("GET", "dict", {}))
    assert caught.value.error_type == "TypeError"
    assert 'for Python type "dict"' in caught.value.message
    assert [e.success for e in events if e.phase == "end"] == [False, False]


# -- logging -------------------------------------------------------------------------


async def test_user_logs_are_stamped_with_the_invocation(
    invoker: FunctionInvoker, app_logs: RecordingHandler
) -> None:
    sync = await invoker.invoke_activity("say_hello", '"Bo"')
    asynchronous = await invoker.invoke_activity("async_echo", '"Cy"')
    orchestrator = await invoker.invoke_orchestrator(
        "hello_orchestrator",
        orchestration_context("hello_orchestrator", None, started("hello_orchestrator", "null")),
    )
    logging.getLogger("basic_app").info("outside any invocation")

    stamped = [(r.getMessage(), r.function_name, r.invocation_id) for r in app_logs.records]  # type: ignore[attr-defined]
    assert stamped == [
        ("saying hello to Bo", "say_hello", sync.invocation_id),
        ("echoing 'Cy'", "async_echo", asynchronous.invocation_id),
        ("orchestrating inst-1", "hello_orchestrator", orchestrator.invocation_id),
        ("outside any invocation", None, None),
    ]
    assert len({sync.invocation_id, asynchronous.invocation_id, orchestrator.invocation_id}) == 3


async def test_console_lines_look_like_func_start(
    invoker: FunctionInvoker, events: list[InvocationEvent]
) -> None:
    outcome = await invoker.invoke_activity("say_hello", '"Di"')
    start, end = (format_event(e) for e in events)
    assert start.startswith("[") and start.index("Z] Executing 'Functions.say_hello'") == 24
    assert start.endswith(f"(Reason='(null)', Id={outcome.invocation_id})")
    assert (
        f"Executed 'Functions.say_hello' (Succeeded, Id={outcome.invocation_id}, Duration=" in end
    )
    assert end.endswith("ms)")
    assert events[1].duration is not None and events[1].duration >= 0
