"""The SDK's `DurableOrchestrationClient` against a running host, method by method.

The client is built from the same binding JSON the host gives a `durableClient` input, so
every call goes over HTTP to the host's RPC endpoint, as from a function in Azure.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)

from tests.e2e.host_process import HostProcess
from tests.e2e.test_patterns import EXPENSE, ORDER

DEADLINE = 30.0


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _wait(
    client: df.DurableOrchestrationClient,
    instance_id: str,
    condition: Callable[[DurableOrchestrationStatus], bool],
    *,
    timeout: float = DEADLINE,
    **options: bool,
) -> DurableOrchestrationStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = await client.get_status(instance_id, **options)
        if condition(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{instance_id}: {status.to_json()} after {timeout:g}s")
        await asyncio.sleep(0.05)


def _is(*expected: Status) -> Callable[[DurableOrchestrationStatus], bool]:
    return lambda status: status.runtime_status in expected


def _awaiting_approval(status: DurableOrchestrationStatus) -> bool:
    return isinstance(status.custom_status, dict) and (
        status.custom_status.get("state") == "awaitingApproval"
    )


async def _start_waiting_expense(client: df.DurableOrchestrationClient, instance_id: str) -> None:
    await client.start_new("expense_approval", instance_id, {**EXPENSE, "timeoutSeconds": 600})
    await _wait(client, instance_id, _awaiting_approval)


async def test_start_new_and_get_status(
    host: HostProcess, http: aiohttp.ClientSession, sdk_client: df.DurableOrchestrationClient
) -> None:
    instance_id = await sdk_client.start_new("process_order", None, ORDER)
    assert len(instance_id) == 32

    status = await _wait(
        sdk_client, instance_id, _is(Status.Completed), show_history=True, show_input=True
    )
    assert status.name == "process_order"
    assert status.output["status"] == "confirmed"
    assert json.loads(status.input_) == ORDER  # the SDK sends its input JSON-encoded once more
    # SDK quirk: the API's `historyEvents` is not the constructor's `history`, so it is dropped.
    assert status.history is None

    history = await _history(http, host, instance_id)
    names = [event.get("FunctionName") for event in history]
    assert names[0] == "process_order"
    scheduled = ["validate_order", "price_order", "reserve_stock", "charge_payment"]
    assert [name for name in names if name in scheduled] == scheduled
    assert history[-1]["EventType"] == "ExecutionCompleted"
    assert history[-1]["Result"]["status"] == "confirmed"


async def _history(
    http: aiohttp.ClientSession, host: HostProcess, instance_id: str
) -> list[dict[str, Any]]:
    url = f"{host.base_url}/runtime/webhooks/durabletask/instances/{instance_id}"
    params = {"showHistory": "true", "showHistoryOutput": "true"}
    async with http.get(url, params=params) as response:
        body = await response.json()
    events: list[dict[str, Any]] = body["historyEvents"]
    return events


async def test_get_status_of_an_unknown_instance(sdk_client: df.DurableOrchestrationClient) -> None:
    status = await sdk_client.get_status("no-such-instance")
    assert status.runtime_status is None
    assert status.instance_id is None


async def test_get_status_all_and_by(sdk_client: df.DurableOrchestrationClient) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    done_id = await sdk_client.start_new("process_order", _id("by-done"), ORDER)
    waiting_id = _id("by-waiting")
    await _start_waiting_expense(sdk_client, waiting_id)
    await _wait(sdk_client, done_id, _is(Status.Completed))

    every = {status.instance_id for status in await sdk_client.get_status_all()}
    assert {done_id, waiting_id} <= every

    completed = await sdk_client.get_status_by(
        created_time_from=before, runtime_status=[Status.Completed]
    )
    ids = {status.instance_id for status in completed}
    assert done_id in ids
    assert waiting_id not in ids
    running = await sdk_client.get_status_by(
        created_time_from=before, runtime_status=[Status.Running]
    )
    assert waiting_id in {status.instance_id for status in running}
    later = await sdk_client.get_status_by(
        created_time_from=datetime.now(timezone.utc) + timedelta(hours=1)
    )
    assert not {done_id, waiting_id} & {status.instance_id for status in later}
    await sdk_client.terminate(waiting_id, "test over")


async def test_raise_event(sdk_client: df.DurableOrchestrationClient) -> None:
    instance_id = _id("event")
    await _start_waiting_expense(sdk_client, instance_id)
    await sdk_client.raise_event(
        instance_id, "ApprovalDecision", {"approved": False, "by": "max", "comment": "too high"}
    )
    status = await _wait(sdk_client, instance_id, _is(Status.Completed))
    assert status.output["status"] == "rejected"
    assert status.output["decidedBy"] == "max"


async def test_terminate(sdk_client: df.DurableOrchestrationClient) -> None:
    instance_id = _id("terminate")
    await _start_waiting_expense(sdk_client, instance_id)
    await sdk_client.terminate(instance_id, "submitted twice")
    status = await _wait(sdk_client, instance_id, _is(Status.Terminated))
    assert status.output == "submitted twice"
    # Terminating a finished instance is a 410, which the SDK accepts silently.
    await sdk_client.terminate(instance_id, "again")


async def test_suspend_buffers_events_until_resume(
    sdk_client: df.DurableOrchestrationClient,
) -> None:
    instance_id = _id("suspend")
    await _start_waiting_expense(sdk_client, instance_id)
    await sdk_client.suspend(instance_id, "audit")
    await _wait(sdk_client, instance_id, _is(Status.Suspended))

    await sdk_client.raise_event(instance_id, "ApprovalDecision", {"approved": True})
    # The event waits in the history while suspended; poll a little to be sure it stays so.
    for _ in range(5):
        status = await sdk_client.get_status(instance_id)
        assert status.runtime_status == Status.Suspended
        await asyncio.sleep(0.1)

    await sdk_client.resume(instance_id, "audit done")
    status = await _wait(sdk_client, instance_id, _is(Status.Completed))
    assert status.output["status"] == "approved"
    assert status.output["decidedBy"] == EXPENSE["approver"]


async def test_rewind_a_failed_instance(
    host: HostProcess, http: aiohttp.ClientSession, sdk_client: df.DurableOrchestrationClient
) -> None:
    instance_id = _id("rewind")
    await sdk_client.start_new("process_order", instance_id, {**ORDER, "country": "XX"})
    failed = await _wait(sdk_client, instance_id, _is(Status.Failed))
    assert "we do not ship to 'XX'" in str(failed.output)

    await sdk_client.rewind(instance_id, "shipping table fixed")

    def rewound_and_failed_again(history: list[dict[str, Any]]) -> bool:
        kinds = [event["EventType"] for event in history]
        return "ExecutionRewound" in kinds and kinds[-1] == "ExecutionCompleted"

    history = await _wait_for_history(http, host, instance_id, rewound_and_failed_again)
    rewound = next(e for e in history if e["EventType"] == "ExecutionRewound")
    assert rewound["Reason"] == "shipping table fixed"
    # The activity is deterministic: it ran again after the rewind, and failed again.
    retried = [e for e in history if e["EventType"] == "TaskFailed"]
    assert retried[-1]["FunctionName"] == "validate_order"
    assert retried[-1]["Timestamp"] > rewound["Timestamp"]
    # The Instances row follows the history (checkpoint order), so it may lag a moment.
    await _wait(sdk_client, instance_id, _is(Status.Failed))


async def _wait_for_history(
    http: aiohttp.ClientSession,
    host: HostProcess,
    instance_id: str,
    condition: Callable[[list[dict[str, Any]]], bool],
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        history = await _history(http, host, instance_id)
        if condition(history):
            return history
        if time.monotonic() > deadline:
            raise AssertionError(f"{instance_id}: history still {history} after {DEADLINE:g}s")
        await asyncio.sleep(0.05)


async def test_restart_with_a_new_instance_id(
    sdk_client: df.DurableOrchestrationClient,
) -> None:
    instance_id = _id("restart")
    await sdk_client.start_new("process_order", instance_id, ORDER)
    first = await _wait(sdk_client, instance_id, _is(Status.Completed))

    restarted: Any = await sdk_client.restart(instance_id)
    # SDK quirk (kept by the host): restart returns the check-status payload, not the new id.
    assert isinstance(restarted, dict)
    new_id = restarted["id"]
    assert new_id != instance_id
    copy = await _wait(sdk_client, new_id, _is(Status.Completed), show_input=True)
    assert copy.output == first.output


async def test_restart_with_the_same_instance_id(
    host: HostProcess, http: aiohttp.ClientSession, sdk_client: df.DurableOrchestrationClient
) -> None:
    instance_id = _id("restart-same")
    await sdk_client.start_new("process_order", instance_id, ORDER)
    first = await _wait(sdk_client, instance_id, _is(Status.Completed))
    first_started: str = (await _history(http, host, instance_id))[0]["Timestamp"]

    same: Any = await sdk_client.restart(instance_id, restart_with_new_instance_id=False)
    assert same["id"] == instance_id

    def rerun_completed(history: list[dict[str, Any]]) -> bool:
        started: str = history[0]["Timestamp"]
        last: str = history[-1]["EventType"]
        return started > first_started and last == "ExecutionCompleted"

    await _wait_for_history(http, host, instance_id, rerun_completed)
    # The restart wrote a Pending row, so Completed now is the rerun's (the row may lag the
    # history a moment, as in the provider's checkpoint order).
    rerun = await _wait(sdk_client, instance_id, _is(Status.Completed))
    assert rerun.output == first.output


def _completed_order(order_id: str) -> Callable[[DurableOrchestrationStatus], bool]:
    def check(status: DurableOrchestrationStatus) -> bool:
        done = status.runtime_status == Status.Completed
        return done and bool(status.output["orderId"] == order_id)

    return check


async def test_starting_a_finished_instance_id_again_runs_it_again(
    host: HostProcess, http: aiohttp.ClientSession, sdk_client: df.DurableOrchestrationClient
) -> None:
    # As the README's fixed-id `metrics_rollup/rollup-cpu` does when run twice.
    instance_id = _id("again")
    for order_id in ("A-1", "A-2"):
        await sdk_client.start_new("process_order", instance_id, {**ORDER, "orderId": order_id})
        status = await _wait(sdk_client, instance_id, _completed_order(order_id))
        assert status.output["status"] == "confirmed"


async def test_purge_instance_history(sdk_client: df.DurableOrchestrationClient) -> None:
    instance_id = await sdk_client.start_new("process_order", _id("purge"), ORDER)
    await _wait(sdk_client, instance_id, _is(Status.Completed))
    result = await sdk_client.purge_instance_history(instance_id)
    assert result.instances_deleted == 1
    assert (await sdk_client.get_status(instance_id)).runtime_status is None


async def test_purge_instance_history_by(sdk_client: df.DurableOrchestrationClient) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    ids = [_id("purge-by-a"), _id("purge-by-b")]
    for instance_id in ids:
        await _start_waiting_expense(sdk_client, instance_id)
        await sdk_client.terminate(instance_id, "cleanup")
        await _wait(sdk_client, instance_id, _is(Status.Terminated))

    result = await sdk_client.purge_instance_history_by(
        created_time_from=before, runtime_status=[Status.Terminated]
    )
    assert result.instances_deleted >= 2
    for instance_id in ids:
        assert (await sdk_client.get_status(instance_id)).runtime_status is None


def _request(host: HostProcess) -> func.HttpRequest:
    return func.HttpRequest(
        method="POST", url=f"{host.base_url}/api/orchestrators/process_order", body=b""
    )


async def test_wait_for_completion_or_create_check_status_response(
    host: HostProcess, sdk_client: df.DurableOrchestrationClient
) -> None:
    done_id = await sdk_client.start_new("process_order", None, ORDER)
    response = await sdk_client.wait_for_completion_or_create_check_status_response(
        _request(host), done_id, timeout_in_milliseconds=20000, retry_interval_in_milliseconds=100
    )
    assert response.status_code == 200
    assert json.loads(response.get_body())["status"] == "confirmed"

    waiting_id = _id("wait")
    await _start_waiting_expense(sdk_client, waiting_id)
    response = await sdk_client.wait_for_completion_or_create_check_status_response(
        _request(host), waiting_id, timeout_in_milliseconds=300, retry_interval_in_milliseconds=100
    )
    assert response.status_code == 202
    body = json.loads(response.get_body())
    assert body["id"] == waiting_id
    assert body["statusQueryGetUri"].startswith(f"{host.base_url}/runtime/webhooks/durabletask/")
    await sdk_client.terminate(waiting_id, "test over")
