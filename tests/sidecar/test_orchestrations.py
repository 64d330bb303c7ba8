"""durabletask's worker and client on `durable-host sidecar` (real Azurite): every
orchestration pattern, and the client's management calls on instances the worker runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from durabletask import task
from durabletask.client import AsyncTaskHubGrpcClient, OrchestrationStatus
from durabletask.worker import TaskHubGrpcWorker

from durable_host.server.sidecar import Sidecar
from durable_host.taskhub.events import ExecutionStarted

_attempts: dict[str, int] = {}


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def flaky(ctx: task.ActivityContext, key: str) -> int:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise RuntimeError(f"attempt {_attempts[key]} fails")
    return _attempts[key]


def fails_first(ctx: task.ActivityContext, key: str) -> int:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise RuntimeError("the first attempt fails")
    return _attempts[key]


def sequence(ctx: task.OrchestrationContext, cities: list[str]) -> Any:
    results = []
    for city in cities:
        results.append((yield ctx.call_activity(hello, input=city)))
    return results


def fan_out(ctx: task.OrchestrationContext, count: int) -> Any:
    results = yield task.when_all([ctx.call_activity(hello, input=str(n)) for n in range(count)])
    return len(results)


def parent(ctx: task.OrchestrationContext, _: Any) -> Any:
    child = yield ctx.call_sub_orchestrator(sequence, input=["Paris"])
    return {"child": child, "custom": "set"}


def approval(ctx: task.OrchestrationContext, _: Any) -> Any:
    ctx.set_custom_status("waiting")
    timeout = ctx.create_timer(timedelta(hours=1))
    event = ctx.wait_for_external_event("approve")
    winner = yield task.when_any([event, timeout])
    return "approved" if winner == event else "timed out"


def short_timer(ctx: task.OrchestrationContext, _: Any) -> Any:
    yield ctx.create_timer(timedelta(seconds=1))
    return "fired"


def retried(ctx: task.OrchestrationContext, key: str) -> Any:
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=5
    )
    return (yield ctx.call_activity(flaky, input=key, retry_policy=policy))


def counter(ctx: task.OrchestrationContext, value: int) -> Any:
    if value < 3:
        ctx.continue_as_new(value + 1)
        return None
    return value


def failing(ctx: task.OrchestrationContext, _: Any) -> Any:
    raise ValueError("orchestrator broke")


def echo(ctx: task.OrchestrationContext, value: Any) -> Any:
    return {"version": ctx.version, "value": value}


def register(worker: TaskHubGrpcWorker) -> None:
    for orchestrator in (
        sequence,
        fan_out,
        parent,
        approval,
        short_timer,
        retried,
        counter,
        failing,
        echo,
        retried_once,
    ):
        worker.add_orchestrator(orchestrator)
    worker.add_activity(hello)
    worker.add_activity(flaky)
    worker.add_activity(fails_first)
    worker.start()


async def _completed(client: AsyncTaskHubGrpcClient, instance_id: str) -> Any:
    state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    return state.get_output()


async def test_chaining_fan_out_and_sub_orchestrations(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    chain = await client.schedule_new_orchestration(sequence, input=["Tokyo", "London"])
    fan = await client.schedule_new_orchestration(fan_out, input=50)
    nested = await client.schedule_new_orchestration(parent)
    assert await _completed(client, chain) == ["Hello Tokyo!", "Hello London!"]
    assert await _completed(client, fan) == 50
    assert await _completed(client, nested) == {"child": ["Hello Paris!"], "custom": "set"}


async def test_external_event_with_when_any_and_custom_status(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    instance_id = await client.schedule_new_orchestration(approval)
    await client.wait_for_orchestration_start(instance_id, timeout=60)
    await client.raise_orchestration_event(instance_id, "approve", data=True)
    assert await _completed(client, instance_id) == "approved"
    timer = await client.schedule_new_orchestration(short_timer)
    assert await _completed(client, timer) == "fired"


async def test_retries_continue_as_new_and_failures(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    again = await client.schedule_new_orchestration(retried, input="retries")
    looped = await client.schedule_new_orchestration(counter, input=0)
    broken = await client.schedule_new_orchestration(failing)
    unknown = await client.schedule_new_orchestration("not_registered")
    assert await _completed(client, again) == 3
    assert await _completed(client, looped) == 3
    for instance_id, text in ((broken, "orchestrator broke"), (unknown, "not_registered")):
        state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
        assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
        assert state.failure_details is not None and text in state.failure_details.message


async def test_suspend_resume_terminate(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    instance_id = await client.schedule_new_orchestration(approval)
    await client.wait_for_orchestration_start(instance_id, timeout=60)
    await client.suspend_orchestration(instance_id)
    await client.resume_orchestration(instance_id)
    await client.terminate_orchestration(instance_id, output="stopped")
    state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None and state.runtime_status == OrchestrationStatus.TERMINATED
    assert state.get_output() == "stopped"


async def test_version_tags_and_large_payloads_are_kept(
    sidecar: Sidecar, worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    big = "x" * (200 * 1024)  # past the 60 KB message limit: stored as a blob
    instance_id = await client.schedule_new_orchestration(
        echo, input=big, version="2.0", tags={"team": "a"}
    )
    assert await _completed(client, instance_id) == {"version": "2.0", "value": big}
    assert sidecar.engine is not None
    history = await sidecar.engine.storage.load_history(instance_id)
    started = next(e for e in history.events if isinstance(e, ExecutionStarted))
    assert (started.version, started.tags) == ("2.0", {"team": "a"})


async def test_a_failed_instance_is_rewound(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    _attempts.pop("rewind", None)
    instance_id = await client.schedule_new_orchestration(retried_once, input="rewind")
    state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
    await client.rewind_orchestration(instance_id, reason="flaky fixed")
    assert await _completed(client, instance_id) == 2


def retried_once(ctx: task.OrchestrationContext, key: str) -> Any:
    return (yield ctx.call_activity(fails_first, input=key))


async def test_history_streams_as_protobuf_events(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    instance_id = await client.schedule_new_orchestration(sequence, input=["Oslo"])
    await _completed(client, instance_id)
    events = await client.get_orchestration_history(instance_id)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "OrchestratorStartedEvent" and "ExecutionStartedEvent" in kinds
    assert "TaskScheduledEvent" in kinds and "TaskCompletedEvent" in kinds
    assert kinds[-1] in ("ExecutionCompletedEvent", "OrchestratorCompletedEvent")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await client.get_orchestration_history("no-such-instance")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def child_activity(ctx: task.ActivityContext, key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise RuntimeError("child failure")
    return f"child:{key}"


def child(ctx: task.OrchestrationContext, key: str) -> Any:
    return (yield ctx.call_activity(child_activity, input=key))


def purged_parent(ctx: task.OrchestrationContext, key: str) -> Any:
    result = yield ctx.call_sub_orchestrator(child, input=key, instance_id=f"{key}-child")
    return f"parent:{result}"


async def test_rewinding_a_parent_reruns_its_purged_sub_orchestration_once(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    """The purged child's session must not outlive the purge: its new execution's first
    checkpoint failed on the purged history, and its activity was sent twice (3 runs)."""
    worker.add_orchestrator(child)
    worker.add_orchestrator(purged_parent)
    worker.add_activity(child_activity)
    register(worker)
    key = "purged"
    _attempts.pop(key, None)
    instance_id = await client.schedule_new_orchestration(purged_parent, input=key)
    state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
    await client.purge_orchestration(f"{key}-child")
    await client.rewind_orchestration(instance_id, reason="purge and retry")
    assert await _completed(client, instance_id) == f"parent:child:{key}"
    assert _attempts[key] == 2
