"""Every client call of durabletask's clients (the 2.x SDK's DurableFunctionsClient is the
async one) against the gRPC service on a real engine, real Azurite, the engine test app."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from durabletask.client import (
    AsyncTaskHubGrpcClient,
    OrchestrationStatus,
    TaskHubGrpcClient,
)

from durable_host.engine.runtime import Engine
from durable_host.taskhub.events import ExecutionRewound
from tests.engine._helpers import eventually


async def test_start_wait_and_read(aclient: AsyncTaskHubGrpcClient) -> None:
    instance_id = await aclient.schedule_new_orchestration(
        "wait_event", instance_id="grpc-one", tags={"team": "a"}, version="1.0"
    )
    assert instance_id == "grpc-one"
    started = await aclient.wait_for_orchestration_start(instance_id, timeout=30)
    assert started is not None and started.runtime_status == OrchestrationStatus.RUNNING
    await aclient.raise_orchestration_event(instance_id, "Go", data={"x": 1})
    done = await aclient.wait_for_orchestration_completion(instance_id, timeout=30)
    assert done is not None
    assert done.runtime_status == OrchestrationStatus.COMPLETED
    assert done.get_output() == {"x": 1}
    assert await aclient.get_orchestration_state("no-such-instance") is None


async def test_version_and_tags_are_stored(engine: Engine, aclient: AsyncTaskHubGrpcClient) -> None:
    instance_id = await aclient.schedule_new_orchestration(
        "wait_event", tags={"team": "a"}, version="2.1"
    )
    record = await engine.storage.get_instance(instance_id)
    assert record is not None
    assert (record.version, record.tags) == ("2.1", {"team": "a"})
    await aclient.terminate_orchestration(instance_id)


async def test_scheduled_start_stays_pending(aclient: AsyncTaskHubGrpcClient) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    instance_id = await aclient.schedule_new_orchestration("wait_event", start_at=later)
    state = await aclient.get_orchestration_state(instance_id)
    assert state is not None and state.runtime_status == OrchestrationStatus.PENDING
    with pytest.raises(TimeoutError):
        await aclient.wait_for_orchestration_start(instance_id, timeout=1)


async def test_completion_wait_times_out(aclient: AsyncTaskHubGrpcClient) -> None:
    instance_id = await aclient.schedule_new_orchestration("wait_event")
    with pytest.raises(TimeoutError):
        await aclient.wait_for_orchestration_completion(instance_id, timeout=1)


async def test_start_twice_is_already_exists(aclient: AsyncTaskHubGrpcClient) -> None:
    await aclient.schedule_new_orchestration("wait_event", instance_id="twice")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await aclient.schedule_new_orchestration("wait_event", instance_id="twice")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "twice" in (raised.value.details() or "")


async def test_failed_instance_has_failure_details(aclient: AsyncTaskHubGrpcClient) -> None:
    instance_id = await aclient.schedule_new_orchestration("fails")
    state = await aclient.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
    assert state.failure_details is not None
    assert "orchestrator broke" in state.failure_details.message


async def test_actions_on_missing_or_finished_instances(aclient: AsyncTaskHubGrpcClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await aclient.raise_orchestration_event("nobody", "Go")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "nobody" in (missing.value.details() or "")
    instance_id = await aclient.schedule_new_orchestration("wait_event")
    await aclient.wait_for_orchestration_start(instance_id, timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as running:
        await aclient.rewind_orchestration(instance_id)
    assert running.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as in_place:
        await aclient.restart_orchestration(instance_id)
    assert in_place.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await aclient.terminate_orchestration(instance_id, output="stop")
    await aclient.wait_for_orchestration_completion(instance_id, timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as finished:
        await aclient.suspend_orchestration(instance_id)
    assert finished.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_terminate_suspend_resume_sync(sync_client: TaskHubGrpcClient) -> None:
    # The sync client blocks its thread: off the event loop that serves it.
    await asyncio.to_thread(_suspend_resume_terminate, sync_client)


def _suspend_resume_terminate(sync_client: TaskHubGrpcClient) -> None:
    instance_id = sync_client.schedule_new_orchestration("wait_event")
    sync_client.wait_for_orchestration_start(instance_id, timeout=30)
    sync_client.suspend_orchestration(instance_id, reason="pause")
    _wait_status(sync_client, instance_id, OrchestrationStatus.SUSPENDED)
    sync_client.resume_orchestration(instance_id, reason="go on")
    _wait_status(sync_client, instance_id, OrchestrationStatus.RUNNING)
    sync_client.terminate_orchestration(instance_id, output="enough")
    state = sync_client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.TERMINATED
    assert state.get_output() == "enough"


def _wait_status(client: TaskHubGrpcClient, instance_id: str, wanted: OrchestrationStatus) -> None:
    """Poll the instance until it shows `wanted` (the sync client has no wait for it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.get_orchestration_state(instance_id)
        if state is not None and state.runtime_status == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never became {wanted.name}")


async def test_restart_in_place_and_as_new(aclient: AsyncTaskHubGrpcClient) -> None:
    first = await aclient.schedule_new_orchestration("wait_event", tags={"k": "v"})
    await aclient.wait_for_orchestration_start(first, timeout=30)
    await aclient.raise_orchestration_event(first, "Go", data=1)
    await aclient.wait_for_orchestration_completion(first, timeout=30)
    again = await aclient.restart_orchestration(first)
    assert again == first
    other = await aclient.restart_orchestration(first, restart_with_new_instance_id=True)
    assert other != first
    for instance_id in (again, other):
        state = await aclient.wait_for_orchestration_start(instance_id, timeout=30)
        assert state is not None and state.runtime_status == OrchestrationStatus.RUNNING


async def test_rewind_failed_instance(engine: Engine, aclient: AsyncTaskHubGrpcClient) -> None:
    instance_id = await aclient.schedule_new_orchestration("fails")
    await aclient.wait_for_orchestration_completion(instance_id, timeout=30)
    await aclient.rewind_orchestration(instance_id, reason="try again")

    # The orchestrator still raises: rewound, it runs again (ExecutionRewound in its
    # history) and fails again.
    async def failed_again() -> bool:
        state = await aclient.get_orchestration_state(instance_id)
        loaded = await engine.storage.load_history(instance_id)
        rewound = any(isinstance(e, ExecutionRewound) for e in loaded.events)
        return rewound and state is not None and state.runtime_status == OrchestrationStatus.FAILED

    await eventually(failed_again, what="the rewound instance to fail again")
