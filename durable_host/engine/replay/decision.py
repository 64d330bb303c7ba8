"""What one episode produced, and how the SDK's OrchestratorState completes it.

The walk (walk.py) fills a `Decision` with the new history events and outbound
messages; `settle` then adds what only the OrchestratorState says: the custom status,
and whether the orchestration completed, failed or continued as new.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_host.engine.replay.actions import CONTINUE_AS_NEW, action_type
from durable_host.taskhub.events import (
    EventRaised,
    FailureDetails,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
)

__all__ = [
    "Completion",
    "Decision",
    "EpisodeContext",
    "Outbound",
    "deterministic_id",
    "encode_string",
    "failed_decision",
    "settle",
]

# Deterministic ids (sub-orchestration instance ids, entity request ids) are name-based UUIDs.
_ID_NAMESPACE = uuid.UUID("9e952958-5e33-4daf-827f-2fa12937b875")


@dataclass(frozen=True)
class Outbound:
    """A message the checkpoint must send before it writes history."""

    target: OrchestrationInstance
    event: HistoryEvent
    to_work_items: bool = False
    visible_at: datetime | None = None


@dataclass(frozen=True)
class Completion:
    status: OrchestrationStatus
    result: str | None = None
    failure_details: FailureDetails | None = None


@dataclass
class Decision:
    """What one episode produced, to be checkpointed in the provider's order."""

    new_events: list[HistoryEvent] = field(default_factory=list)
    outbound: list[Outbound] = field(default_factory=list)
    completion: Completion | None = None
    continue_as_new_input: str | None = None
    custom_status: str | None = None
    unconsumed_events: list[EventRaised] = field(default_factory=list)
    # Decided without running the orchestrator (an episode that could not change anything).
    skipped: bool = False


@dataclass(frozen=True)
class EpisodeContext:
    """What `replay` needs to know about the instance besides its history."""

    instance_id: str
    execution_id: str
    orchestrator_name: str
    now: datetime


def deterministic_id(execution_id: str, seq: int, salt: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{execution_id}:{seq}:{salt}"))


def encode_string(text: str | None) -> str | None:
    """The SDK's JSON text is a .NET string to the host: Newtonsoft writes it as a string."""
    if text is None:
        return None
    return json.dumps(text, ensure_ascii=False)


def settle(
    ctx: EpisodeContext,
    decision: Decision,
    state: dict[str, Any] | None,
    error: str | None,
    actions: list[dict[str, Any]],
) -> Decision:
    """Complete a walk's decision with what the OrchestratorState says: custom status,
    completion, failure."""
    if state is not None and "customStatus" in state:
        decision.custom_status = json.dumps(state["customStatus"], ensure_ascii=False)
    if error is not None:
        failed = failed_decision(ctx, error, "Exception")
        failed.custom_status = decision.custom_status
        return failed
    if decision.continue_as_new_input is not None or (
        state is not None and state.get("isDone") and _has_continue_as_new(actions)
    ):
        decision.completion = Completion(
            OrchestrationStatus.ContinuedAsNew, result=decision.continue_as_new_input
        )
    elif state is not None and state.get("isDone"):
        output = state.get("output")
        decision.completion = Completion(
            OrchestrationStatus.Completed,
            result=json.dumps(output, ensure_ascii=False, separators=(",", ":")),
        )
    return decision


def failed_decision(ctx: EpisodeContext, message: str, error_type: str) -> Decision:
    """The episode fails the orchestration with `message`."""
    text = f"Orchestrator function '{ctx.orchestrator_name}' failed: {message}"
    return Decision(
        completion=Completion(
            OrchestrationStatus.Failed,
            result=text,
            failure_details=FailureDetails(error_type=error_type, error_message=message),
        )
    )


def _has_continue_as_new(actions: list[dict[str, Any]]) -> bool:
    return any(action_type(a) == CONTINUE_AS_NEW for a in actions)
