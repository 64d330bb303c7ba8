"""Waiting in a test for what the engine does asynchronously: an instance's custom status, an
entity's state, and the readable OrchestrationAssertionError when an instance ends otherwise.

Each wait registers with the engine's checkpoint notifier before it reads, so a checkpoint in
between wakes it at once; the 0.5 s cap covers work checkpointed by other hosts.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, NoReturn, TypeAlias

from durable_host.engine.client.api import InstanceStatus
from durable_host.engine.replay.context import parse_json_or_text
from durable_host.engine.runtime import Engine
from durable_host.errors import InstanceNotFoundError
from durable_host.taskhub.events import HistoryEvent
from durable_host.testing._failures import OrchestrationAssertionError, unexpected_status_message

__all__ = [
    "DEFAULT_TIMEOUT",
    "Expected",
    "fail_unexpected",
    "read_history",
    "status_names",
    "wait_for_custom_status",
    "wait_for_entity_state",
]

_TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
DEFAULT_TIMEOUT = 10.0

# A status name ("Completed"), or the SDK's enum: 1.x's OrchestrationRuntimeStatus, durabletask's
# OrchestrationStatus (2.x).
Expected: TypeAlias = str | enum.Enum | Collection[str | enum.Enum]


def status_names(expected: Expected | None) -> tuple[str, ...]:
    if expected is None:
        return _TERMINAL
    if isinstance(expected, (str, enum.Enum)):
        expected = [expected]
    return tuple(_status_name(item) for item in expected)


def _status_name(status: str | enum.Enum) -> str:
    if isinstance(status, str):
        return status
    if isinstance(status.value, str):  # 1.x: the name is the value
        return status.value
    # durabletask's members are named as its protobuf enum: CONTINUED_AS_NEW -> ContinuedAsNew
    return "".join(part.title() for part in status.name.split("_"))


async def read_history(engine: Engine, instance_id: str) -> list[HistoryEvent]:
    status = await engine.client.get_status(instance_id, show_history=True)
    if status is None:
        raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
    return list(status.history or [])


async def wait_for_custom_status(
    engine: Engine, instance_id: str, expected: Any | Callable[[Any], bool], timeout: float
) -> None:
    """Return once the custom status matches; raise OrchestrationAssertionError otherwise."""
    matches = expected if callable(expected) else (lambda value: value == expected)
    began = time.monotonic()
    deadline = began + timeout
    notifier = engine.notifier
    while True:
        waiter = notifier.register(instance_id)
        status = await engine.client.get_status(instance_id, show_input=False)
        if status is not None and matches(parse_json_or_text(status.custom_status)):
            await notifier.wait(instance_id, waiter, 0)
            return
        remaining = deadline - time.monotonic()
        finished = status is not None and status.runtime_status.is_terminal
        if status is None or finished or remaining <= 0:
            await notifier.wait(instance_id, waiter, 0)
            what = f"custom status {expected!r}" if not callable(expected) else "custom status"
            await fail_unexpected(
                engine,
                instance_id,
                status,
                (f"Running with the {what}",),
                began,
                timed_out=not finished,
            )
        await notifier.wait(instance_id, waiter, min(remaining, 0.5))


async def wait_for_entity_state(
    engine: Engine,
    instance_id: str,
    label: str,
    read: Callable[[], Awaitable[Any]],
    expected: Any | Callable[[Any], bool],
    timeout: float,
) -> Any:
    """The state of entity `label` (as `read` returns it) once it matches; AssertionError
    otherwise."""
    matches = expected if callable(expected) else (lambda value: value == expected)
    notifier = engine.notifier
    deadline = time.monotonic() + timeout
    while True:
        waiter = notifier.register(instance_id)
        state = await read()
        remaining = deadline - time.monotonic()
        if matches(state) or remaining <= 0:
            await notifier.wait(instance_id, waiter, 0)
            if matches(state):
                return state
            raise AssertionError(
                f"Entity {label} did not reach the expected state within {timeout} s; "
                f"its state is {state!r}."
            )
        await notifier.wait(instance_id, waiter, min(remaining, 0.5))


async def fail_unexpected(
    engine: Engine,
    instance_id: str,
    status: InstanceStatus | None,
    wanted: tuple[str, ...],
    began: float,
    *,
    timed_out: bool,
) -> NoReturn:
    history: list[HistoryEvent] = []
    if status is not None:
        with contextlib.suppress(Exception):
            history = await read_history(engine, instance_id)
    runtime = status.runtime_status.name if status is not None else None
    output = parse_json_or_text(status.output) if status is not None else None
    message = unexpected_status_message(
        instance_id=instance_id,
        name=status.name if status is not None else None,
        runtime_status=runtime,
        expected=wanted,
        waited=time.monotonic() - began,
        timed_out=timed_out,
        output=output,
        custom_status=parse_json_or_text(status.custom_status) if status is not None else None,
        history=history,
    )
    raise OrchestrationAssertionError(
        message, instance_id=instance_id, runtime_status=runtime, output=output
    )
