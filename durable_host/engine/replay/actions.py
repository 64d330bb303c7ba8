"""The SDK's orchestrator actions (docs/protocol.md §1.3-§1.4): types and parsing."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

# SDK ActionType numbers (docs/protocol.md §1.4)
CALL_ACTIVITY = 0
CALL_ACTIVITY_WITH_RETRY = 1
CALL_SUB_ORCHESTRATOR = 2
CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
CONTINUE_AS_NEW = 4
CREATE_TIMER = 5
WAIT_FOR_EXTERNAL_EVENT = 6
CALL_ENTITY = 7
CALL_HTTP = 8
SIGNAL_ENTITY = 9
SCHEDULED_SIGNAL_ENTITY = 10
WHEN_ANY = 11
WHEN_ALL = 12

# The activity the extension runs a CallHttp action as (HttpOptions.HttpTaskActivityReservedName).
HTTP_ACTIVITY_NAME = "BuiltIn::HttpActivity"

_ACTION_NAMES = {
    "CallActivity": CALL_ACTIVITY,
    "CallActivityWithRetry": CALL_ACTIVITY_WITH_RETRY,
    "CallSubOrchestrator": CALL_SUB_ORCHESTRATOR,
    "CallSubOrchestratorWithRetry": CALL_SUB_ORCHESTRATOR_WITH_RETRY,
    "ContinueAsNew": CONTINUE_AS_NEW,
    "CreateTimer": CREATE_TIMER,
    "WaitForExternalEvent": WAIT_FOR_EXTERNAL_EVENT,
    "CallEntity": CALL_ENTITY,
    "CallHttp": CALL_HTTP,
    "SignalEntity": SIGNAL_ENTITY,
    "ScheduledSignalEntity": SCHEDULED_SIGNAL_ENTITY,
    "WhenAny": WHEN_ANY,
    "WhenAll": WHEN_ALL,
}


def action_type(action: dict[str, Any]) -> int:
    raw = action.get("actionType")
    if isinstance(raw, str):
        if raw in _ACTION_NAMES:
            return _ACTION_NAMES[raw]
        raise ValueError(f"unknown actionType {raw!r}")
    return int(raw)  # type: ignore[arg-type]


def flatten_actions(actions: Any) -> list[dict[str, Any]]:
    """The SDK's V2/V3 `actions` is `[[a1, a2, ...]]`; V1 is one inner list per yield."""
    flat: list[dict[str, Any]] = []
    for group in actions or []:
        if isinstance(group, list):
            flat.extend(group)
        else:
            flat.append(group)
    return flat


def parse_sdk_datetime(text: str) -> datetime:
    """The SDK writes `%Y-%m-%dT%H:%M:%S.%fZ`; accept a few neighbouring forms too."""
    value = text.rstrip("Z")
    if "+" in value[10:]:
        value = value[: value.rindex("+")]
    if "." in value:
        head, frac = value.split(".", 1)
        value = f"{head}.{frac[:6].ljust(6, '0')}"
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f")
    else:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    return parsed.replace(tzinfo=timezone.utc)
