"""Retries as DTFx's RetryInterceptor does them: a durable timer after each failed attempt.

The delay follows the SDK's RetryOptions (first interval, backoff coefficient, maximum
interval, retry timeout); no delay means no further attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from durable_host.engine.replay.tasks import HostTask, Leaf, Retry

__all__ = ["MAX_RETRY_INTERVAL", "RetryLink", "retry_delay"]

# Queue messages can be invisible for at most 7 days; the SDK already splits longer timers.
MAX_RETRY_INTERVAL = timedelta(days=6)


def retry_delay(retry: Retry, now: datetime) -> timedelta | None:
    """How long to wait before the next attempt; None when the retry has run out."""
    options = retry.options
    timeout_ms = options.get("retryTimeoutInMilliseconds")
    if timeout_ms and now >= retry.first_attempt + timedelta(milliseconds=timeout_ms):
        return None
    first = float(options.get("firstRetryIntervalInMilliseconds", 0))
    backoff = float(options.get("backoffCoefficient", 1) or 1)
    delay_ms = first * backoff ** (retry.attempts - 1)
    cap = options.get("maxRetryIntervalInMilliseconds")
    delay = timedelta(milliseconds=min(delay_ms, float(cap) if cap else delay_ms))
    if delay <= timedelta(0):
        return None
    return min(delay, MAX_RETRY_INTERVAL)


class AttemptListener(Protocol):
    def on_attempt_done(self, retry: Retry, leaf: Leaf) -> None: ...


@dataclass(eq=False)
class RetryLink(HostTask):
    """Parent of a retry's attempts and timers: routes their completion to the walker."""

    listener: AttemptListener
    retry: Retry

    def on_child_done(self, child: HostTask) -> None:
        assert isinstance(child, Leaf)
        self.listener.on_attempt_done(self.retry, child)
