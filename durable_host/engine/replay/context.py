"""The orchestration trigger payload the SDK receives (docs/protocol.md §1.1)."""

from __future__ import annotations

import json
from typing import Any

from durable_host.taskhub.events import ExecutionStarted


def build_context_json(
    instance_id: str,
    history_json: list[dict[str, Any]],
    started: ExecutionStarted,
    *,
    is_replaying: bool,
) -> str:
    """The orchestration trigger payload (docs/protocol.md §1.1)."""
    parent = started.parent_instance
    payload = {
        "history": history_json,
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
    return json.dumps(payload, ensure_ascii=False)


def parse_json_or_text(text: str | None) -> Any:
    """The value of stored JSON text; text that is not JSON is returned as it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
