"""Monitor (monitor_build): poll a build on a durable timer until it finishes or expires."""

from __future__ import annotations

from datetime import timedelta

from activities.builds import polls_until_done
from durable_host.taskhub.events import TimerFired
from durable_host.testing import DurableTestEnvironment

HOUR = 3600


def build_needing(polls: int) -> str:
    return next(f"build-{n}" for n in range(1000) if polls_until_done(f"build-{n}") == polls)


async def test_the_monitor_stops_when_the_build_succeeds(
    durable_env: DurableTestEnvironment,
) -> None:
    build_id = build_needing(3)
    request = {"buildId": build_id, "pollIntervalSeconds": HOUR, "expirySeconds": 24 * HOUR}
    output = await durable_env.run("monitor_build", request)

    assert output == {"buildId": build_id, "state": "succeeded", "polls": 3}


async def test_hourly_polls_for_a_day_expire_in_virtual_time(
    durable_env: DurableTestEnvironment,
) -> None:
    request = {"buildId": "stuck-9", "pollIntervalSeconds": HOUR, "expirySeconds": 24 * HOUR}
    started_at = durable_env.now()
    instance_id = await durable_env.start_orchestration("monitor_build", request)
    # Real time would take a day; the wait's wall-clock deadline fails a run that waits.
    status = await durable_env.wait_for_completion(instance_id, timeout=60)

    # Checks at 0 h, 1 h, ..., 24 h; the 25th would come after the expiry.
    assert status.output == {
        "buildId": "stuck-9",
        "state": "expired",
        "lastSeenState": "running",
        "polls": 25,
    }
    history = await durable_env.history(instance_id)
    fired = [e.fire_at for e in history if isinstance(e, TimerFired)]
    assert len(fired) == 24
    assert fired[-1] - started_at >= timedelta(hours=24)


async def test_time_moves_only_when_asked(durable_env: DurableTestEnvironment) -> None:
    build_id = build_needing(3)
    request = {"buildId": build_id, "pollIntervalSeconds": HOUR, "expirySeconds": 24 * HOUR}
    instance_id = await durable_env.start_orchestration("monitor_build", request)

    first = await durable_env.wait_for_custom_status(instance_id, lambda s: s and s["polls"] == 1)
    assert first.custom_status["lastSeenState"] == "queued"
    await durable_env.advance_time(timedelta(minutes=59))
    still = await durable_env.client.get_status(instance_id)
    assert still.custom_status["polls"] == 1
    await durable_env.advance_time(timedelta(minutes=1))
    second = await durable_env.wait_for_custom_status(instance_id, lambda s: s["polls"] == 2)
    assert second.custom_status["lastSeenState"] == "running"
