"""Activity doubles: a test's callable run in place of an activity, recording each input."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from durable_host.engine.runtime import Engine
from durable_host.errors import FunctionNotFoundError
from durable_host.functions.function_index import DurableKind
from durable_host.testing.doubles import activity_runner

__all__ = ["ActivityDouble", "install_double"]


@dataclass
class ActivityDouble:
    """A test double installed for one activity; `calls` holds each input it received."""

    name: str
    function: Callable[[Any], Any]
    calls: list[Any] = field(default_factory=list)

    async def __call__(self, value: Any) -> Any:
        self.calls.append(value)
        result = self.function(value)
        if inspect.isawaitable(result):
            result = await result
        return result


def install_double(engine: Engine, name: str, double: Callable[[Any], Any]) -> ActivityDouble:
    """Make `engine` run `double` instead of activity `name`; an unknown name is refused."""
    if not engine.index.has(DurableKind.ACTIVITY, name):
        raise FunctionNotFoundError(engine.index.not_found_message(DurableKind.ACTIVITY, name))
    recorder = ActivityDouble(name, double)
    engine.replace_activity(name, activity_runner(recorder))
    return recorder
