"""Workers come and go: a worker killed in the middle of a work item loses nothing (the work
item runs again on the next worker), and two sidecars share one task hub."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from durabletask import task
from durabletask.client import AsyncTaskHubGrpcClient, OrchestrationStatus
from durabletask.worker import TaskHubGrpcWorker

from durable_host.server.settings import DurableTaskSettings
from durable_host.server.sidecar import Sidecar, SidecarOptions
from tests.engine._helpers import drop_hub, eventually

STUCK_WORKER = Path(__file__).with_name("stuck_worker.py")


def slow(ctx: task.ActivityContext, value: str) -> str:
    return f"done {value}"


def one_step(ctx: task.OrchestrationContext, value: str) -> Any:
    return (yield ctx.call_activity(slow, input=value))


async def test_a_killed_workers_activity_runs_on_the_next_worker(
    sidecar: Sidecar, client: AsyncTaskHubGrpcClient, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    assert sidecar.address is not None
    stuck = subprocess.Popen([sys.executable, str(STUCK_WORKER), sidecar.address, str(marker)])
    try:
        instance_id = await client.schedule_new_orchestration(one_step, input="x")

        async def running() -> bool:
            return marker.exists()

        await eventually(running, timeout=60, what="the stuck worker to start the activity")
    finally:
        stuck.kill()
        stuck.wait(timeout=30)
    with TaskHubGrpcWorker(host_address=sidecar.address) as replacement:
        replacement.add_orchestrator(one_step)
        replacement.add_activity(slow)
        replacement.start()
        state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == "done x"


def fan(ctx: task.OrchestrationContext, count: int) -> Any:
    results = yield task.when_all([ctx.call_activity(slow, input=str(n)) for n in range(count)])
    return len(results)


FAST = DurableTaskSettings(
    max_queue_polling_interval=timedelta(seconds=1),
    partition_lease_duration=timedelta(seconds=3),
    partition_renew_interval=timedelta(seconds=0.5),
)


async def test_two_sidecars_share_one_hub(azurite: str, hub_name: str, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        stack.push_async_callback(drop_hub, azurite, hub_name)
        sidecars = []
        for name in ("a", "b"):
            options = SidecarOptions(
                port=0,
                hub=hub_name,
                connection=azurite,
                work_dir=tmp_path,
                durable_task=FAST,
                worker_id=f"sidecar-{name}",
            )
            sidecar = await stack.enter_async_context(Sidecar(options, echo=lambda line: None))
            worker = stack.enter_context(TaskHubGrpcWorker(host_address=sidecar.address))
            worker.add_orchestrator(fan)
            worker.add_activity(slow)
            worker.start()
            sidecars.append(sidecar)

        async def split() -> bool:
            return all(
                s.engine is not None and s.engine.orchestrations.owned_partitions for s in sidecars
            )

        await eventually(split, timeout=60, what="both sidecars to own partitions")
        client = AsyncTaskHubGrpcClient(host_address=sidecars[0].address)
        stack.push_async_callback(client.close)
        ids = [
            await client.schedule_new_orchestration(fan, input=3, instance_id=instance_id)
            for instance_id in _ids_on_each_sidecar(sidecars, per_sidecar=6)
        ]
        for instance_id in ids:
            state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
            assert state is not None and state.get_output() == 3
        episodes = [s.engine.orchestrations.episodes_run for s in sidecars if s.engine]
        assert len(episodes) == 2 and all(count > 0 for count in episodes)


def _ids_on_each_sidecar(sidecars: list[Sidecar], per_sidecar: int) -> list[str]:
    """Instance ids, `per_sidecar` on the partitions each sidecar owns now: random ids all
    landed on one sidecar's partitions about once in thirty runs when it held three of four."""
    engines = [s.engine for s in sidecars]
    assert all(engines)
    wanted = {i: per_sidecar for i in range(len(engines))}
    ids: list[str] = []
    for _ in range(10_000):  # a partition of four takes one id in four
        if not any(wanted.values()):
            return ids
        candidate = uuid.uuid4().hex
        for i, engine in enumerate(engines):
            assert engine is not None
            partition = engine.router.partition_of(candidate)
            if wanted[i] and partition in engine.orchestrations.owned_partitions:
                wanted[i] -= 1
                ids.append(candidate)
                break
    raise AssertionError(f"no ids found for every sidecar's partitions (still wanted: {wanted})")


def only_here(ctx: task.ActivityContext, value: str) -> str:
    return f"ran where registered: {value}"


def calls_elsewhere(ctx: task.OrchestrationContext, value: str) -> Any:
    return (yield ctx.call_activity(only_here, input=value))


async def test_work_item_filters_send_each_item_to_a_worker_that_has_it(
    sidecar: Sidecar, client: AsyncTaskHubGrpcClient
) -> None:
    """The orchestrator's worker lacks the activity: without filters it could take the
    activity and fail it; with them, only the other worker is offered it."""
    assert sidecar.address is not None
    with (
        TaskHubGrpcWorker(host_address=sidecar.address) as orchestrations,
        TaskHubGrpcWorker(host_address=sidecar.address) as activities,
    ):
        orchestrations.add_orchestrator(calls_elsewhere)
        orchestrations.use_work_item_filters()
        activities.add_activity(only_here)
        activities.use_work_item_filters()
        orchestrations.start()
        activities.start()
        ids = [
            await client.schedule_new_orchestration(calls_elsewhere, input=str(n)) for n in range(6)
        ]
        for n, instance_id in enumerate(ids):
            state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
            assert state is not None
            assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
            assert state.get_output() == f"ran where registered: {n}"


async def test_work_without_a_worker_waits_and_says_so(
    sidecar: Sidecar,
    client: AsyncTaskHubGrpcClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="durable_host.grpc")
    instance_id = await client.schedule_new_orchestration(one_step, input="later")

    async def told() -> bool:
        return "no durabletask worker is connected" in caplog.text

    await eventually(told, timeout=60, what="the sidecar to say no worker is connected")
    assert "one_step" in caplog.text
    assert sidecar.address is not None
    with TaskHubGrpcWorker(host_address=sidecar.address) as worker:
        worker.add_orchestrator(one_step)
        worker.add_activity(slow)
        worker.start()
        state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None and state.get_output() == "done later"
