"""Reporting one invocation: its log scope, its duration, and start/end events to a hook.

An invocation that handles its user error itself (an activity's TaskFailed, an
orchestrator's failed episode) records the error with `record_failure`, so the end
event says it failed even though no exception left the `with` block.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from durable_host.functions import logs
from durable_host.functions.outcomes import worker_message

_current_error: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "durable_host_invocation_error", default=None
)


def record_failure(error: str) -> None:
    """Mark the current invocation failed with `error` (the worker's message)."""
    _current_error.set(error)


class InvocationReport:
    """Times one invocation, sets the log scope, and reports start/end through `emit`."""

    def __init__(
        self,
        emit: Callable[[logs.InvocationEvent], None],
        scope: logs.InvocationScope,
        reason: str,
    ) -> None:
        self._emit = emit
        self._scope = scope
        self._reason = reason
        self._scope_cm = logs.invocation_scope(scope)
        self._started = 0.0
        self._error_token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> None:
        self._error_token = _current_error.set(None)
        self._started = time.perf_counter()
        self._emit(self._event("start"))
        self._scope_cm.__enter__()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._scope_cm.__exit__(exc_type, exc, tb)
        error = _current_error.get()
        if exc is not None and error is None:
            error = worker_message(exc)
        duration = time.perf_counter() - self._started
        self._emit(self._event("end", duration=duration, success=error is None, error=error))
        if self._error_token is not None:
            _current_error.reset(self._error_token)

    def _event(self, phase: Any, **fields: Any) -> logs.InvocationEvent:
        return logs.InvocationEvent(
            phase=phase,
            kind=self._scope.kind,
            function_name=self._scope.function_name,
            invocation_id=self._scope.invocation_id,
            timestamp=datetime.now(timezone.utc),
            reason=self._reason,
            **fields,
        )
