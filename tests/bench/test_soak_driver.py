"""bench/soak_driver.py's suspend flow, against a real Azurite and no hosts: the test plays
the instance by writing its Instances row, as a host would.

A soak timer instance with the suspend action can end before the suspend reaches it, or go
from Pending to Completed between two polls. The driver saw it end only at its deadline,
because it waited for Running, or repeated the resume that storage refused with "already
Completed": soak seed 3, 60 min, seven plans "open" for the last 160 s of the run while
their rows said Completed. Each test here gives the driver a deadline far beyond what the
flow needs, so a driver that waits on the wrong thing ends the plan unfinished.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.soak_driver import Driver
from bench.soak_workload import Plan
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from tests.reliability._crash_harness import HubClient

DEADLINE_SECONDS = 90.0


class Hosts:
    """The part of bench/soak_cluster.Cluster the suspend flow uses: storage is up."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.storage_up = asyncio.Event()
        self.storage_up.set()

    def now(self) -> float:
        return round(time.monotonic() - self.began, 1)

    def live_urls(self) -> list[str]:
        return []


@pytest.fixture
async def hub(azurite: str, hub_name: str) -> AsyncIterator[HubClient]:
    async with HubClient(azurite, hub_name) as client:
        yield client


@pytest.fixture
async def driver(hub: HubClient, tmp_path: Path) -> AsyncIterator[Driver]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    async with Driver(Hosts(), hub, tmp_path, deadline, http_timeout=10.0) as running:  # type: ignore[arg-type]
        yield running


def _timer_plan(instance_id: str) -> Plan:
    plan = Plan(instance_id, "soak_timer", {"seconds": 1}, "client", action="suspend")
    plan.expected_output = 2
    return plan


async def _row(hub: HubClient, instance_id: str, status: OrchestrationStatus) -> None:
    record = InstanceRecord(
        instance_id=instance_id, name="soak_timer", runtime_status=status, execution_id="e1"
    )
    await hub.storage.insert_or_replace_instance(record)


async def test_an_instance_that_ends_before_the_resume_is_seen_finished(
    hub: HubClient, driver: Driver
) -> None:
    """The suspend is sent while the instance runs; the instance completes before it takes
    the suspend, so the resume is refused: the plan ends there, seen finished."""
    plan = _timer_plan("ends-before-resume")
    await _row(hub, plan.instance_id, OrchestrationStatus.Running)
    suspend = hub.client.suspend

    async def suspend_then_complete(instance_id: str, reason: str | None) -> None:
        await suspend(instance_id, reason)
        await _row(hub, instance_id, OrchestrationStatus.Completed)

    hub.client.suspend = suspend_then_complete  # type: ignore[method-assign]
    await driver.follow(plan)
    assert plan.finished_at is not None, (plan.waiting_on, plan.notes)
    assert any(note.startswith("resume refused") for note in plan.notes), plan.notes


async def test_an_instance_never_seen_running_is_seen_finished(
    hub: HubClient, driver: Driver
) -> None:
    """Pending, then Completed between two polls: nothing to suspend, and the plan ends."""
    plan = _timer_plan("never-seen-running")
    await _row(hub, plan.instance_id, OrchestrationStatus.Completed)
    await driver.follow(plan)
    assert plan.finished_at is not None, (plan.waiting_on, plan.notes)
    assert plan.notes == ["ended before the suspend"]
