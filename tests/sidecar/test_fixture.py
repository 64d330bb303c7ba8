"""The pytest fixture for durabletask users (`durabletask_sidecar`): a sidecar on a fresh hub
on its own thread, durabletask's sync worker and client, virtual time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from durabletask import task
from durabletask.client import OrchestrationStatus

from durable_host.testing.sidecar import DurableTaskSidecar

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


def week_long(ctx: task.OrchestrationContext, _: Any) -> Any:
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(days=7))
    return ctx.current_utc_datetime.isoformat()


def reminder(ctx: task.OrchestrationContext, _: Any) -> Any:
    event = ctx.wait_for_external_event("done")
    timeout = ctx.create_timer(timedelta(hours=48))
    winner = yield task.when_any([event, timeout])
    return "answered" if winner == event else "reminded"


@pytest.mark.durable_host(start_time=START)
def test_a_week_long_timer_completes_within_the_wait(
    durabletask_sidecar: DurableTaskSidecar,
) -> None:
    worker = durabletask_sidecar.worker()
    worker.add_orchestrator(week_long)
    worker.start()
    client = durabletask_sidecar.client()
    instance_id = client.schedule_new_orchestration(week_long)
    # A 30 s wall-clock deadline for a 7-day timer: only a virtual-time skip can meet it.
    state = client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    fired = datetime.fromisoformat(state.get_output()).replace(tzinfo=timezone.utc)
    assert fired >= START + timedelta(days=7)


@pytest.mark.durable_host(start_time=START)
async def test_advance_time_fires_a_timer_an_async_client_waits_on(
    durabletask_sidecar: DurableTaskSidecar,
) -> None:
    worker = durabletask_sidecar.worker()
    worker.add_orchestrator(reminder)
    worker.start()
    client = durabletask_sidecar.async_client()
    try:
        instance_id = await client.schedule_new_orchestration(reminder)
        await client.wait_for_orchestration_start(instance_id, timeout=30)
        durabletask_sidecar.advance_time(timedelta(hours=49))
        state = await client.wait_for_orchestration_completion(instance_id, timeout=30)
    finally:
        await client.close()
    assert state is not None and state.get_output() == "reminded"
