"""The orchestration trigger payload the SDK receives (docs/protocol.md §1.1)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from durable_host.taskhub.events import ExecutionStarted


def event_json_text(event_json: dict[str, Any]) -> str:
    """One history event's text inside the trigger payload (encoded once per event)."""
    return json.dumps(event_json, ensure_ascii=False)


def build_context_json(
    instance_id: str,
    history_texts: Sequence[str],
    started: ExecutionStarted,
    *,
    is_replaying: bool,
) -> str:
    """The orchestration trigger payload (docs/protocol.md §1.1).

    `history_texts`: each event's `event_json_text`. The payload is the text
    `json.dumps(payload, ensure_ascii=False)` gives with the events as objects, put together
    from those texts: a long history is not encoded again for every episode.
    """
    rest = payload_members(instance_id, started, is_replaying=is_replaying)
    # json.dumps writes a list as "[" + ", ".join(items) + "]" and an object's members
    # joined by ", "; `rest` without its "{" is the payload's remaining members.
    history = "[" + ", ".join(history_texts) + "]"
    return '{"history": ' + history + ", " + json.dumps(rest, ensure_ascii=False)[1:]


def payload_members(
    instance_id: str, started: ExecutionStarted, *, is_replaying: bool
) -> dict[str, Any]:
    """The trigger payload's members after `history`, in the payload's order."""
    parent = started.parent_instance
    return {
        "input": parse_json_or_text(started.input),
        "instanceId": instance_id,
        "isReplaying": is_replaying,
        "parentInstanceId": parent.orchestration_instance.instance_id if parent else None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        "longRunningTimerIntervalDuration": "3.00:00:00",
        "maximumShortTimerDuration": "6.00:00:00",
        "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
    }


def parse_json_or_text(text: str | None) -> Any:
    """The value of stored JSON text; text that is not JSON is returned as it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
