"""What an invocation of a durable function produced, and errors in the worker's words.

The worker reports a user error as "<ExceptionType>: <message>"; the SDK appends an
orchestrator's state to its error message after OUT_OF_PROC_DATA_LABEL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

OUT_OF_PROC_DATA_LABEL = "\n\n$OutOfProcData$:"


@dataclass(frozen=True)
class OrchestratorOutcome:
    """One orchestrator episode: the SDK's OrchestratorState, and the error if user code raised.

    On a user error the SDK still reports the state (with `error` set, and the
    actions scheduled so far); `state` is None only if the SDK itself failed.
    """

    invocation_id: str
    state: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class ActivityError:
    message: str  # "<ExceptionType>: <message>", as the worker reports it
    error_type: str
    stack_trace: str


@dataclass(frozen=True)
class ActivityOutcome:
    """`result_json` is TaskCompleted.Result (None for a None return); `error` means TaskFailed."""

    invocation_id: str
    result_json: str | None = None
    error: ActivityError | None = None


def worker_message_text(type_name: str, message: str) -> str:
    return f"{type_name}: {message}"


def worker_message(exc: BaseException) -> str:
    """The worker's RpcException message: "<ExceptionType>: <message>"."""
    return worker_message_text(type(exc).__name__, str(exc))


def split_out_of_proc_error(exc: Exception) -> tuple[dict[str, Any] | None, str]:
    """Split the SDK's "<msg>\\n\\n$OutOfProcData$:<state JSON>" (docs/protocol.md §1.6)."""
    text = str(exc)
    # The last label is the SDK's: inside the JSON a newline is always escaped.
    head, label, tail = text.rpartition(OUT_OF_PROC_DATA_LABEL)
    if not label:
        return None, text
    try:
        state = json.loads(tail)
    except ValueError:
        return None, text
    return (state if isinstance(state, dict) else None), head
