"""The executor seam: what runs an orchestration episode, an entity batch, an activity.

The dispatchers own queues, sessions, triage, ordering and checkpoints; an executor only
turns one work item into its outcome, in whatever protocol the function speaks:

* the 1.x out-of-process JSON protocol, in process (engine/executors/json_protocol.py);
* the Durable Task protobuf protocol (engine/executors/proto_protocol.py), over a
  `ProtoChannel`: in process for 2.x Functions apps (engine/executors/in_process.py), or a
  remote durabletask worker over gRPC (the sidecar), which answers later on a stream.

Every method is async and nothing assumes the code runs in this process. An orchestration
executor returns the same `Decision` whatever the protocol, so what is checkpointed (history
rows, messages, the Instances row) is the same DTFx layout for both generations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from durable_host.engine.dispatch.entity_state import (
    EntityResult,
    OperationRequest,
    SchedulerState,
    error_outcome,
)
from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.replay.decision import Decision, EpisodeContext
from durable_host.taskhub.events import (
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    TaskScheduled,
)

__all__ = [
    "ActivityExecutor",
    "ActivityResult",
    "ActivityWorkItem",
    "EntityBatch",
    "EntityExecutor",
    "EntityOutcome",
    "EntitySend",
    "Episode",
    "Executors",
    "OrchestrationExecutor",
    "ProtoChannel",
    "failed_batch",
]

log = logging.getLogger("durable_host.entities")


@dataclass(frozen=True)
class Episode:
    """One orchestration episode: the stored history (`session.history`, the past events),
    the new events (OrchestratorStarted first), and the episode's time.

    `session` is the instance's in-memory session; an executor may keep what it needs
    between episodes there (the JSON executor keeps the SDK's last state)."""

    session: Session
    started: ExecutionStarted
    new_events: Sequence[HistoryEvent]
    now: datetime

    @property
    def context(self) -> EpisodeContext:
        assert self.session.execution_id is not None
        return EpisodeContext(
            instance_id=self.session.instance_id,
            execution_id=self.session.execution_id,
            orchestrator_name=self.started.name,
            now=self.now,
        )

    @property
    def past_events(self) -> list[HistoryEvent]:
        return self.session.history


class OrchestrationExecutor(Protocol):
    async def run_episode(self, episode: Episode) -> Decision:
        """The episode's Decision; FunctionNotFoundError when the orchestrator is unknown."""
        ...


@dataclass(frozen=True)
class EntityBatch:
    """The operations of one batch for `@name@key`, in the order they run."""

    instance_id: str
    name: str
    key: str
    state: SchedulerState
    requests: list[OperationRequest]


@dataclass(frozen=True)
class EntitySend:
    """A signal or an orchestration start an entity operation asked for."""

    target: str  # an entity '@name@key' (signal) or a new orchestration's instance id
    name: str  # the operation, or the orchestrator's name
    input: str | None = None
    scheduled_time: datetime | None = None
    start_orchestration: bool = False


@dataclass(frozen=True)
class EntityOutcome:
    """A batch's result: the new state and one outcome per request, plus what it sends."""

    result: EntityResult
    sends: list[EntitySend] = field(default_factory=list)


class EntityExecutor(Protocol):
    async def run_entity_batch(self, batch: EntityBatch) -> EntityOutcome:
        """Operation errors are inside the outcome; raising fails the whole batch."""
        ...


def failed_batch(batch: EntityBatch, exc: Exception) -> EntityResult:
    """The operations fail, the state stays as it was, and every caller hears why."""
    message = f"Entity '{batch.instance_id}' failed to run its batch: {exc}"
    log.error("%s", message)
    return EntityResult(
        state=batch.state, outcomes=[error_outcome(message) for _ in batch.requests]
    )


@dataclass(frozen=True)
class ActivityResult:
    """What running one activity produced: a JSON result, or an error."""

    result_json: str | None = None
    error_message: str | None = None
    error_type: str | None = None
    stack_trace: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_message is not None


@dataclass(frozen=True)
class ActivityWorkItem:
    """A TaskScheduled taken from the work-item queue, and the instance that scheduled it."""

    event: TaskScheduled
    instance: OrchestrationInstance


class ActivityExecutor(Protocol):
    def activity_input(self, event: TaskScheduled) -> str | None:
        """The input JSON text the activity sees (1.x stores it in a one-element array)."""
        ...

    async def run_activity(self, item: ActivityWorkItem) -> ActivityResult: ...


class Executors(Protocol):
    """Which executor runs each durable function (by its name)."""

    def orchestration(self, name: str) -> OrchestrationExecutor: ...

    def entity(self, name: str) -> EntityExecutor: ...

    def activity(self, name: str) -> ActivityExecutor: ...


class ProtoChannel(Protocol):
    """Carries protobuf work items to whatever runs the code, and their answers back.

    Requests and answers are durabletask's generated messages (durable_host.protobuf):
    OrchestratorRequest -> OrchestratorResponse, EntityBatchRequest -> EntityBatchResult,
    ActivityRequest -> ActivityResponse. `name` is the function's durable name. An episode's
    OrchestratorRequest comes already serialized (`protobuf.request_bytes.EncodedRequest`:
    its bytes, and `message()` for a channel that needs the message)."""

    async def orchestrate(self, name: str, request: Any) -> Any: ...

    async def run_entity_batch(self, name: str, request: Any) -> Any: ...

    async def run_activity(self, name: str, request: Any) -> Any: ...
