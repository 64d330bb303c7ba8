"""Checkpoint wake-ups for clients waiting on an instance (pure asyncio, no storage)."""

from __future__ import annotations

from durable_host.engine.dispatch.notifier import InstanceNotifier


async def test_a_start_wakes_plain_waiters_but_not_those_waiting_for_the_end() -> None:
    notifier = InstanceNotifier()
    any_checkpoint = notifier.register("i")
    end = notifier.register("i", end_only=True)
    other = notifier.register("j", end_only=True)
    notifier.notify("i", terminal=False)
    assert any_checkpoint.done()
    assert not end.done()
    notifier.notify("i")
    assert end.done()
    assert not other.done()


async def test_a_waiter_that_timed_out_is_forgotten() -> None:
    notifier = InstanceNotifier()
    end = notifier.register("i", end_only=True)
    await notifier.wait("i", end, 0)
    later = notifier.register("i", end_only=True)
    notifier.notify("i")
    assert later.done()
    assert not end.done()  # removed at its timeout: nothing resolves it any more
    assert notifier._waiters == {} and notifier._end_waiters == {}
