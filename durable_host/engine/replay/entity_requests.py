"""The request messages an orchestration sends to entities, labelled for ordering.

The replay walk calls these for each call or signal it reaches: a send already in the
history gives back its request id and its label (so the next send to the same entity names
it as its predecessor, whatever this code would label it today); a new one gets its
RequestMessage JSON as the extension writes it (docs/task-hub-layout.md §6).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from durable_host.engine.replay.actions import parse_sdk_datetime
from durable_host.engine.replay.entity_sorter import (
    Label,
    SendClock,
    format_ticks,
    label_outgoing,
    parse_ticks,
    ticks_of,
)
from durable_host.taskhub.events import OrchestrationInstance

__all__ = ["read_stored_request", "request_message"]


def read_stored_request(
    stored_input: str, target: str, clock: SendClock
) -> tuple[str | None, SendClock]:
    """The request id of a stored EventSent's RequestMessage (None if unreadable), and the
    send clock with its label taken into account."""
    try:
        body = json.loads(stored_input)
        request_id = str(body["id"])
    except (ValueError, KeyError, TypeError):
        return None, clock
    stamp = body.get("Timestamp")
    if body.get("parent") and not body.get("due") and isinstance(stamp, str) and stamp:
        try:
            clock = clock.observe(target, parse_ticks(stamp))
        except ValueError:
            pass  # an unreadable label orders nothing; the request id still matches
    return request_id, clock


def request_message(
    action: dict[str, Any],
    target: str,
    request_id: str,
    *,
    sender: OrchestrationInstance,
    signal: bool,
    now: datetime,
    clock: SendClock,
) -> tuple[SendClock, str]:
    """A new call's or signal's RequestMessage JSON, and the send clock after it.

    Every send but a scheduled signal (which the entity does not sort) gets the next
    Timestamp for its destination and the previous one as its Predecessor. Signals name
    their sender too, as the extension's do: that is what the entity sorts them by."""
    request: dict[str, Any] = {
        "op": action.get("operation"),
        "signal": signal,
        # The extension serializes the action's input text again (a JSON string
        # holding JSON), which is what the SDK's entity get_input decodes.
        "input": None
        if action.get("input") is None
        else json.dumps(action["input"], ensure_ascii=False),
        "id": request_id,
        "parent": sender.instance_id,
        "parentExecution": sender.execution_id,
    }
    fire_at = action.get("fireAt")
    if fire_at:
        request["due"] = format_ticks(ticks_of(parse_sdk_datetime(fire_at)))
        label = Label(timestamp=0, predecessor=0)
    else:
        clock, label = label_outgoing(clock, target, ticks_of(now))
    request["Timestamp"] = format_ticks(label.timestamp)
    request["Predecessor"] = format_ticks(label.predecessor)
    return clock, json.dumps(request, ensure_ascii=False, separators=(",", ":"))
