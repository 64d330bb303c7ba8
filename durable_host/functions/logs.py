"""Per-invocation log capture, and the console lines `func start` prints around invocations.

The invoker runs each invocation inside `invocation_scope(...)`, which sets a
context variable (copied into the thread pool with `contextvars.copy_context`,
so sync functions see it too). `InvocationLogFilter`, attached to a handler,
stamps every record with `function_name` and `invocation_id` (None outside an
invocation). Threads that user code starts itself do not inherit context
variables; as with the Python worker, they can set
`context.thread_local_storage.invocation_id = context.invocation_id` to be
attributed.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

HTTP_REASON = "This function was programmatically called via the host APIs."
DURABLE_REASON = "(null)"  # what the host prints for orchestration/activity/entity triggers


@dataclass(frozen=True)
class InvocationScope:
    kind: str  # "orchestrator", "activity", "entity" or "http"
    function_name: str
    invocation_id: str


@dataclass(frozen=True)
class InvocationEvent:
    """Reported to the invoker's hook when an invocation starts and when it ends."""

    phase: Literal["start", "end"]
    kind: str
    function_name: str
    invocation_id: str
    timestamp: datetime
    reason: str
    duration: float | None = None  # seconds, on "end"
    success: bool | None = None  # on "end"
    error: str | None = None  # "<Type>: <message>" when it failed


InvocationHook = Callable[[InvocationEvent], None]

_current: contextvars.ContextVar[InvocationScope | None] = contextvars.ContextVar(
    "durable_host_invocation", default=None
)
# func.Context.thread_local_storage; user threads set `.invocation_id` on it.
thread_local_storage = threading.local()
_active: dict[str, InvocationScope] = {}
_active_lock = threading.Lock()


def current_invocation() -> InvocationScope | None:
    """The invocation the calling code runs in, if any."""
    scope = _current.get()
    if scope is not None:
        return scope
    invocation_id = getattr(thread_local_storage, "invocation_id", None)
    if invocation_id is None:
        return None
    with _active_lock:
        return _active.get(invocation_id)


@contextmanager
def invocation_scope(scope: InvocationScope) -> Iterator[None]:
    token = _current.set(scope)
    with _active_lock:
        _active[scope.invocation_id] = scope
    try:
        yield
    finally:
        with _active_lock:
            _active.pop(scope.invocation_id, None)
        _current.reset(token)


class InvocationLogFilter(logging.Filter):
    """Stamps records with `function_name` and `invocation_id`; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = current_invocation()
        record.function_name = scope.function_name if scope else None
        record.invocation_id = scope.invocation_id if scope else None
        return True


def format_timestamp(moment: datetime) -> str:
    """`2026-11-27T21:00:00.123Z`, the timestamp format of the host console."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_event(event: InvocationEvent) -> str:
    """The host's console line for an invocation event."""
    stamp = format_timestamp(event.timestamp)
    name = f"Functions.{event.function_name}"
    if event.phase == "start":
        return f"[{stamp}] Executing '{name}' (Reason='{event.reason}', Id={event.invocation_id})"
    outcome = "Succeeded" if event.success else "Failed"
    millis = round((event.duration or 0.0) * 1000)
    return f"[{stamp}] Executed '{name}' ({outcome}, Id={event.invocation_id}, Duration={millis}ms)"


class ConsoleFormatter(logging.Formatter):
    """Formats user log records like the host console: `[timestamp] message`.

    durable_host's own records about an instance (stamped by the engine's
    InstanceLogFilter) read `[timestamp] [instance_id execution_id] message`, so one
    instance's story can be grepped out of several hosts' logs; user records keep the
    host console's format.
    """

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, tz=timezone.utc)
        text = f"[{format_timestamp(moment)}] {_instance_label(record)}{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _instance_label(record: logging.LogRecord) -> str:
    instance_id = getattr(record, "durable_instance_id", None)
    if instance_id is None or not record.name.startswith("durable_host"):
        return ""
    execution_id = getattr(record, "durable_execution_id", None)
    return f"[{instance_id} {execution_id}] " if execution_id else f"[{instance_id}] "
