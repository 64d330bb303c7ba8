"""The readable failure a test gets when an orchestration does not reach the expected status."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime

from durable_host.errors import DurableHostError
from durable_host.taskhub.events import FailureDetails, HistoryEvent, OrchestrationInstance

__all__ = ["OrchestrationAssertionError", "describe_event", "unexpected_status_message"]

# Enough to see what the orchestration did last without drowning the assertion.
LAST_EVENTS = 10
_MAX_VALUE = 200
# Fields every event has, or that only add noise to a one-line summary.
_SKIPPED_FIELDS = {"timestamp", "event_id", "is_played", "tags", "parent_trace_context"}


class OrchestrationAssertionError(DurableHostError, AssertionError):
    """An orchestration did not reach the status a test expected (or not in time).

    An AssertionError, so pytest reports it as a test failure; the message shows the
    instance's status, output, custom status and its last history events.
    """

    def __init__(
        self, message: str, *, instance_id: str, runtime_status: str | None, output: object
    ) -> None:
        super().__init__(message)
        self.instance_id = instance_id
        self.runtime_status = runtime_status
        self.output = output


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def _value(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, FailureDetails):
        return _short(f"{value.error_type}: {value.error_message}")
    if isinstance(value, OrchestrationInstance):
        return value.instance_id
    if hasattr(value, "name") and isinstance(getattr(value, "name", None), str):
        return str(value.name)  # enums
    return _short(str(value))


def describe_event(event: HistoryEvent) -> str:
    """One line: `TaskScheduled #3 name='charge_payment' input='{...}'`, empty fields left out."""
    parts = [type(event).__name__]
    if event.event_id >= 0:
        parts[0] += f" #{event.event_id}"
    for item in dataclasses.fields(event):
        if item.name in _SKIPPED_FIELDS:
            continue
        value = getattr(event, item.name)
        if value is None or value == "" or (item.name == "generation" and value == 0):
            continue
        parts.append(f"{item.name}={_value(value)}")
    return " ".join(parts)


def _json_text(value: object, *, raw_strings: bool = False) -> str:
    # A failed orchestration's output is an error message: shown as text, not as JSON.
    if raw_strings and isinstance(value, str):
        return _short(value)
    try:
        return _short(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return _short(repr(value))


def unexpected_status_message(
    *,
    instance_id: str,
    name: str | None,
    runtime_status: str | None,
    expected: Sequence[str],
    waited: float,
    timed_out: bool,
    output: object,
    custom_status: object,
    history: Sequence[HistoryEvent],
) -> str:
    who = (
        f"Orchestration {name!r} (instance {instance_id!r})"
        if name
        else f"Instance {instance_id!r}"
    )
    wanted = " or ".join(expected)
    if runtime_status is None:
        lines = [f"{who} does not exist in the task hub (expected {wanted})."]
    elif timed_out:
        lines = [
            f"{who} is still {runtime_status} after {waited:.1f} s of wall time; expected "
            f"{wanted}. Raise the timeout, or check what it waits for in the events below."
        ]
    else:
        lines = [f"{who} is {runtime_status}, expected {wanted}."]
    if runtime_status is not None:
        lines.append(f"  output: {_json_text(output, raw_strings=True)}")
        if custom_status is not None:
            lines.append(f"  custom status: {_json_text(custom_status)}")
    if history:
        shown = history[-LAST_EVENTS:]
        lines.append(f"  last {len(shown)} of {len(history)} history events:")
        first = len(history) - len(shown)
        lines.extend(f"    [{first + i}] {describe_event(e)}" for i, e in enumerate(shown))
    return "\n".join(lines)
