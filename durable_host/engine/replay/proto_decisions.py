"""A protobuf worker's actions turned into an episode's Decision (pure, no I/O).

A worker of the Durable Task protobuf protocol (azure-functions-durable 2.x, durabletask)
replays the orchestration itself, checks determinism itself, and answers with the NEW
actions only, each with its sequence id. As DTFx's TaskOrchestrationDispatcher does with
OrchestratorActions, each becomes its scheduling history event (EventId = the action's id)
and the message it implies; the completion action ends the execution. The events and
messages are the ones a 1.x episode produces for the same work (scheduling.py), so the
history in storage keeps the DTFx layout whichever SDK generation wrote it.

Entity calls and signals are written in the extension's message format (an EventSent of a
RequestMessage to `@name@key`, the answer an EventRaised named by the request id), which is
what the 2.x SDKs read back on replay.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from durable_host.engine.replay.decision import Completion, Decision, EpisodeContext, Outbound
from durable_host.engine.replay.entity_requests import read_stored_request
from durable_host.engine.replay.entity_sorter import (
    Label,
    SendClock,
    format_ticks,
    label_outgoing,
    ticks_of,
)
from durable_host.protobuf.actions import (
    CompleteOrchestration,
    CreateSubOrchestration,
    CreateTimer,
    EntityMessage,
    EntityMessageKind,
    OrchestratorResult,
    ScheduleTask,
    SendEvent,
)
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    ParentInstance,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from durable_host.taskhub.timestamps import format_timestamp

__all__ = ["proto_decision"]

_OPERATION_EVENT = "op"
_RELEASE_EVENT = "release"


class UnsupportedProtoAction(Exception):
    """The worker asked for something durable_host does not do yet (fails the instance)."""


def proto_decision(
    ctx: EpisodeContext, history: Sequence[HistoryEvent], result: OrchestratorResult
) -> Decision:
    """The Decision of one episode from the worker's new actions.

    `history` is the execution's stored history plus this episode's new events (read for
    the entity send labels already used)."""
    builder = _Builder(ctx, history)
    try:
        for action in result.actions:
            if builder.decision.completion is not None:
                break
            builder.apply(action)
    except UnsupportedProtoAction as exc:
        return _failed(ctx, FailureDetails("NotSupportedException", str(exc)), result.custom_status)
    builder.decision.custom_status = result.custom_status
    return builder.decision


class _Builder:
    def __init__(self, ctx: EpisodeContext, history: Sequence[HistoryEvent]) -> None:
        self.ctx = ctx
        self.now = ctx.now
        self.decision = Decision()
        self.this = OrchestrationInstance(ctx.instance_id, ctx.execution_id)
        self.clock = SendClock()
        for event in history:
            if isinstance(event, EventSent) and event.input and _is_operation(event.name):
                _, self.clock = read_stored_request(event.input, event.instance_id, self.clock)

    def emit(self, event: HistoryEvent, outbound: Outbound) -> None:
        self.decision.new_events.append(event)
        self.decision.outbound.append(outbound)

    def apply(self, action: object) -> None:
        if isinstance(action, ScheduleTask):
            event = TaskScheduled(
                event_id=action.id,
                timestamp=self.now,
                name=action.name,
                version=action.version,
                input=action.input,
                tags=action.tags,
            )
            self.emit(event, Outbound(target=self.this, event=event, to_work_items=True))
        elif isinstance(action, CreateSubOrchestration):
            self.sub_orchestration(action)
        elif isinstance(action, CreateTimer):
            self.emit(
                TimerCreated(event_id=action.id, timestamp=self.now, fire_at=action.fire_at),
                Outbound(
                    target=self.this,
                    event=TimerFired(
                        timestamp=self.now, timer_id=action.id, fire_at=action.fire_at
                    ),
                    visible_at=action.fire_at,
                ),
            )
        elif isinstance(action, SendEvent):
            self.emit(
                EventSent(
                    event_id=action.id,
                    timestamp=self.now,
                    instance_id=action.instance_id,
                    name=action.name,
                    input=action.data,
                ),
                Outbound(
                    target=OrchestrationInstance(action.instance_id, None),
                    event=EventRaised(timestamp=self.now, name=action.name, input=action.data),
                ),
            )
        elif isinstance(action, EntityMessage):
            self.entity_message(action)
        elif isinstance(action, CompleteOrchestration):
            self.complete(action)
        else:
            raise UnsupportedProtoAction(
                f"The orchestrator asked for {type(action).__name__}, which durable_host does "
                "not support for Durable Functions apps (the extension does not either)."
            )

    def sub_orchestration(self, action: CreateSubOrchestration) -> None:
        child_id = action.instance_id or f"{self.ctx.execution_id}:{action.id}"
        created = SubOrchestrationInstanceCreated(
            event_id=action.id,
            timestamp=self.now,
            name=action.name,
            version=action.version,
            instance_id=child_id,
            input=action.input,
            tags=action.tags,
        )
        start = ExecutionStarted(
            timestamp=self.now,
            orchestration_instance=OrchestrationInstance(child_id, uuid.uuid4().hex),
            name=action.name,
            version=action.version or "",
            input=action.input,
            tags=action.tags,
            parent_instance=ParentInstance(
                name=self.ctx.orchestrator_name,
                version="",
                orchestration_instance=self.this,
                task_schedule_id=action.id,
            ),
        )
        self.emit(created, Outbound(target=start.orchestration_instance, event=start))

    def entity_message(self, action: EntityMessage) -> None:
        if action.kind is EntityMessageKind.UNLOCK:
            self.release(action)
            return
        request: dict[str, object]
        if action.kind is EntityMessageKind.LOCK:
            # DTFx's RequestMessage of a lock: no operation, the sorted lock set as EntityIds
            # and the position of the entity it goes to (the first; each passes it on).
            request = {
                "id": action.request_id,
                "parent": self.this.instance_id,
                "parentExecution": self.this.execution_id,
                "lockset": [_entity_id_object(e) for e in action.lock_set],
                "pos": action.position,
            }
        else:
            request = {
                "op": action.operation,
                "signal": action.kind is EntityMessageKind.SIGNAL,
                "input": action.input,
                "id": action.request_id,
                "parent": self.this.instance_id,
                "parentExecution": self.this.execution_id,
            }
        due = action.scheduled_time
        if due is not None:
            request["due"] = format_ticks(ticks_of(due))
            label = Label(timestamp=0, predecessor=0)
        else:
            self.clock, label = label_outgoing(self.clock, action.target, ticks_of(self.now))
        request["Timestamp"] = format_ticks(label.timestamp)
        request["Predecessor"] = format_ticks(label.predecessor)
        name = _OPERATION_EVENT if due is None else f"{_OPERATION_EVENT}@{format_timestamp(due)}"
        self.send_to_entity(action, name, request, due)

    def release(self, action: EntityMessage) -> None:
        """The end of a critical section: a ReleaseMessage to each locked entity."""
        request: dict[str, object] = {"parent": self.this.instance_id, "id": action.request_id}
        self.send_to_entity(action, _RELEASE_EVENT, request, None)

    def send_to_entity(
        self, action: EntityMessage, name: str, request: dict[str, object], due: datetime | None
    ) -> None:
        payload = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        self.emit(
            EventSent(
                event_id=action.id,
                timestamp=self.now,
                instance_id=action.target,
                name=name,
                input=payload,
            ),
            Outbound(
                target=OrchestrationInstance(action.target, None),
                event=EventRaised(timestamp=self.now, name=name, input=payload),
                visible_at=due,
            ),
        )

    def complete(self, action: CompleteOrchestration) -> None:
        status = action.status
        if status is OrchestrationStatus.Failed:
            failure = action.failure or FailureDetails("Exception", action.details or "")
            failed = _failed(self.ctx, failure, None, action.result)
            self.decision.completion = failed.completion
            return
        if status is OrchestrationStatus.ContinuedAsNew:
            self.decision.continue_as_new_input = action.result
            self.decision.unconsumed_events = [
                EventRaised(timestamp=self.now, name=e.name, input=e.input)
                for e in action.carryover_events
                if isinstance(e, EventRaised)
            ]
        self.decision.completion = Completion(status, result=action.result)


def _failed(
    ctx: EpisodeContext,
    failure: FailureDetails,
    custom_status: str | None,
    output: str | None = None,
) -> Decision:
    """The instance fails with `failure`; without an output of the worker's own, the Output
    reads as a 1.x failure's does ("Orchestrator function '<name>' failed: <Type>: <message>")."""
    message = failure.error_message
    if failure.error_type:
        message = f"{failure.error_type}: {message}"
    text = output or f"Orchestrator function '{ctx.orchestrator_name}' failed: {message}"
    decision = Decision(
        completion=Completion(OrchestrationStatus.Failed, result=text, failure_details=failure)
    )
    decision.custom_status = custom_status
    return decision


def _entity_id_object(instance_id: str) -> dict[str, str]:
    """`@name@key` as DTFx's EntityId serializes it in a lock set."""
    name, _, key = instance_id.removeprefix("@").partition("@")
    return {"name": name, "key": key}


def _is_operation(name: str) -> bool:
    return name == _OPERATION_EVENT or name.startswith(_OPERATION_EVENT + "@")
