"""The wall-time budget of virtual time: long waits of the app's patterns in well under a second.

Correctness of the same runs is checked in the pattern modules; these only time them.
"""

from __future__ import annotations

import time

import pytest

from durable_host.testing import DurableTestEnvironment

BUDGET = 1.0
HOUR = 3600
DAY = 24 * HOUR
EXPENSE = {
    "expenseId": "EXP-1",
    "amount": 10.0,
    "submitter": "sam@contoso.example",
    "approver": "lena@contoso.example",
}


async def timed(env: DurableTestEnvironment, name: str, request: dict[str, object]) -> float:
    instance_id = await env.start_orchestration(name, request)
    began = time.monotonic()
    await env.wait_for_completion(instance_id, timeout=30)
    return time.monotonic() - began


async def test_a_72_hour_approval_timeout(durable_env: DurableTestEnvironment) -> None:
    wall = await timed(durable_env, "expense_approval", EXPENSE)
    assert wall < BUDGET, f"the 72-hour timeout took {wall:.2f} s"


@pytest.mark.xfail(
    strict=True,
    reason="engine: ~2 s for 25 poll cycles on Azurite (two checkpoints of ~40 ms per cycle)",
)
async def test_hourly_polls_for_a_day(durable_env: DurableTestEnvironment) -> None:
    request = {"buildId": "stuck-1", "pollIntervalSeconds": HOUR, "expirySeconds": DAY}
    wall = await timed(durable_env, "monitor_build", request)
    assert wall < BUDGET, f"a day of hourly polls took {wall:.2f} s"


@pytest.mark.xfail(
    strict=True,
    reason="engine: ~5 s for 30 cycles (entity call, activity, timer, continue-as-new)",
)
async def test_a_30_day_eternal_orchestration(durable_env: DurableTestEnvironment) -> None:
    request = {"key": "cpu", "intervalSeconds": DAY, "maxCycles": 30}
    wall = await timed(durable_env, "metrics_rollup", request)
    assert wall < BUDGET, f"30 daily cycles took {wall:.2f} s"
