"""Which instance an engine log line is about: a context variable and a logging filter.

The dispatchers run each instance's work in a task of its own (an orchestration's or
entity's instance worker, an activity's work item), and name the instance there with
`about_instance` at the start of that task. asyncio copies the context into every task
when it is created, and the function invoker copies it into its thread pool, so the lines
logged below (the checkpoint's background writes, the function's own records) carry the
instance too. Because a task's own `set` never reaches the task that created it, nor a
sibling, an instance worker started by another instance's episode (a message delivered
locally) names its own instance before logging anything, and no line carries another
instance's ids.

`InstanceLogFilter`, attached to a handler, stamps every record with
`durable_instance_id` and `durable_execution_id` (None outside any instance); the
console formatter prints them as `[instance_id execution_id]` after the timestamp.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceLogScope:
    instance_id: str
    execution_id: str | None = None  # None until the instance's history names one


_current: contextvars.ContextVar[InstanceLogScope | None] = contextvars.ContextVar(
    "durable_host_instance", default=None
)


def about_instance(instance_id: str, execution_id: str | None = None) -> None:
    """Attribute the current task's log lines (and those of tasks it starts later) to
    this instance's execution. Call it at the start of a task that works for one instance."""
    _current.set(InstanceLogScope(instance_id, execution_id or None))


def current_instance() -> InstanceLogScope | None:
    return _current.get()


class InstanceLogFilter(logging.Filter):
    """Stamps records with `durable_instance_id` and `durable_execution_id`; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _current.get()
        record.durable_instance_id = scope.instance_id if scope else None
        record.durable_execution_id = scope.execution_id if scope else None
        return True


__all__ = ["InstanceLogFilter", "InstanceLogScope", "about_instance", "current_instance"]
