"""Retries as DTFx's RetryInterceptor runs them (replay/retries.py and the walk's retry loop)."""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any, TypeAlias

import azure.durable_functions as df

from durable_host.engine.replay.retries import MAX_RETRY_INTERVAL, retry_delay
from durable_host.engine.replay.tasks import Retry
from durable_host.taskhub.events import (
    OrchestrationStatus,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskScheduled,
    TimerCreated,
)
from tests.engine.replay._histories import (
    T0,
    closed,
    completed,
    decide,
    episode,
    failed,
    later,
    started,
    timer_fired,
)

Gen: TypeAlias = Generator[Any, Any, Any]


def retry_after(attempts: int, **options: Any) -> Retry:
    return Retry(action={}, options=options, first_attempt=T0, attempts=attempts)


def test_the_delay_grows_by_the_backoff_coefficient_up_to_the_maximum() -> None:
    options = {
        "firstRetryIntervalInMilliseconds": 1000,
        "backoffCoefficient": 2,
        "maxRetryIntervalInMilliseconds": 5000,
    }
    delays = [retry_delay(retry_after(n, **options), T0) for n in (1, 2, 3, 4)]
    assert delays == [timedelta(seconds=s) for s in (1, 2, 4, 5)]


def test_no_delay_once_the_retry_timeout_has_passed() -> None:
    retry = retry_after(1, firstRetryIntervalInMilliseconds=1000, retryTimeoutInMilliseconds=10_000)
    assert retry_delay(retry, T0 + timedelta(seconds=9)) == timedelta(seconds=1)
    assert retry_delay(retry, T0 + timedelta(seconds=10)) is None


def test_no_first_interval_means_no_retry() -> None:
    assert retry_delay(retry_after(1), T0) is None


def test_a_delay_is_never_longer_than_a_queue_message_can_hide() -> None:
    retry = retry_after(1, firstRetryIntervalInMilliseconds=30 * 24 * 3600 * 1000)
    assert retry_delay(retry, T0) == MAX_RETRY_INTERVAL


def flaky_caller(context: df.DurableOrchestrationContext) -> Gen:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=2)
    return (yield context.call_activity_with_retry("flaky", options, "x"))


def test_a_failed_attempt_waits_on_a_timer_then_tries_again_under_a_new_id() -> None:
    first = decide(flaky_caller, [], started())
    [attempt] = first.new_events
    assert isinstance(attempt, TaskScheduled) and attempt.event_id == 0

    past = closed(started(), first)
    after_failure = decide(flaky_caller, past, episode(later(1), failed(0, "boom")))
    [timer] = after_failure.new_events
    assert isinstance(timer, TimerCreated) and timer.event_id == 1
    assert timer.fire_at == later(1) + timedelta(seconds=2)
    assert after_failure.completion is None

    past = closed([*past, *episode(later(1), failed(0, "boom"))], after_failure)
    retried = decide(flaky_caller, past, episode(later(3), timer_fired(1, later(3))))
    [second] = retried.new_events
    assert isinstance(second, TaskScheduled) and (second.event_id, second.name) == (2, "flaky")

    past = closed([*past, *episode(later(3), timer_fired(1, later(3)))], retried)
    done = decide(flaky_caller, past, episode(later(4), completed(2, "ok")))
    assert done.completion is not None and done.completion.result == json.dumps("ok")


def test_the_last_attempts_failure_waits_out_its_delay_then_fails_the_task() -> None:
    # DTFx's RetryInterceptor computes the delay and awaits its timer after every failed
    # attempt, the last one too, and only then gives up.
    history = [
        *started(),
        TaskScheduled(event_id=0, timestamp=T0, name="flaky", input='["x"]'),
        *episode(later(1), failed(0, "boom")),
        TimerCreated(event_id=1, timestamp=later(1), fire_at=later(3)),
        *episode(later(3), timer_fired(1, later(3))),
        TaskScheduled(event_id=2, timestamp=later(3), name="flaky", input='["x"]'),
    ]
    last_failure = episode(later(4), failed(2, "boom again"))
    waiting = decide(flaky_caller, history, last_failure)
    [timer] = waiting.new_events
    assert isinstance(timer, TimerCreated) and timer.event_id == 3
    assert waiting.completion is None

    history = closed([*history, *last_failure], waiting)
    decision = decide(flaky_caller, history, episode(later(6), timer_fired(3, later(6))))
    assert decision.new_events == [], "no third attempt: maxNumberOfAttempts is 2"
    assert decision.completion is not None
    assert decision.completion.status is OrchestrationStatus.Failed
    assert "boom again" in (decision.completion.result or "")


def test_a_sub_orchestration_is_retried_as_a_new_child_under_a_new_id() -> None:
    def parent(context: df.DurableOrchestrationContext) -> Gen:
        options = df.RetryOptions(
            first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2
        )
        return (yield context.call_sub_orchestrator_with_retry("child", options, "in"))

    first = decide(parent, [], started())
    [created] = first.new_events
    assert isinstance(created, SubOrchestrationInstanceCreated) and created.event_id == 0

    failure = SubOrchestrationInstanceFailed(timestamp=later(1), task_scheduled_id=0, reason="boom")
    past = closed(started(), first)
    after_failure = decide(parent, past, episode(later(1), failure))
    [timer] = after_failure.new_events
    assert isinstance(timer, TimerCreated) and timer.fire_at == later(2)

    past = closed([*past, *episode(later(1), failure)], after_failure)
    retried = decide(parent, past, episode(later(2), timer_fired(1, later(2))))
    [again] = retried.new_events
    assert isinstance(again, SubOrchestrationInstanceCreated) and again.event_id == 2
    assert again.instance_id != created.instance_id, "each attempt is its own instance"
    [start] = retried.outbound
    assert start.target.instance_id == again.instance_id
