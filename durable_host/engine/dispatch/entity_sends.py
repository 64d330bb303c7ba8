"""What an entity batch sends once it ran: the callers' replies, what its operations asked
for (signals to entities, orchestration starts: a protobuf entity's actions), a granted lock's
next step (entity_queue.py), and the batch's trace span.

The sends are one list of `Outbound` messages, which the checkpoint sends (checkpoint.py) or,
on a host whose lease is lapsing, holds back as a whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.entity_queue import Schedule, grant_lock
from durable_host.engine.dispatch.entity_state import (
    OPERATION_EVENT,
    EntityResult,
    OperationRequest,
    request_json,
    response_json,
    scheduled_operation_name,
)
from durable_host.engine.dispatch.executors import EntitySend
from durable_host.engine.replay.decision import Outbound
from durable_host.taskhub.events import EventRaised, ExecutionStarted, OrchestrationInstance
from durable_host.taskhub.storage import ReceivedMessage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

__all__ = ["batch_sends", "trace_batch"]


def trace_batch(
    tracer: DurableTracer,
    instance_id: str,
    operations: list[tuple[ReceivedMessage | None, OperationRequest]],
    result: EntityResult,
    began: datetime,
    now: datetime,
) -> None:
    # Requests held back by an earlier batch have no message (nor trace context) here.
    traced = [
        (m, r, o) for (m, r), o in zip(operations, result.outcomes, strict=True) if m is not None
    ]
    tracer.entity_batch(
        instance_id, [(m, r) for m, r, _ in traced], [o for _, _, o in traced], began, now
    )


def batch_sends(
    me: OrchestrationInstance,
    requests: list[OperationRequest],
    result: EntityResult,
    plan: Schedule,
    now: datetime,
    operation_sends: Sequence[EntitySend] = (),
) -> tuple[list[Outbound], str | None]:
    """The batch's sends (the callers' replies, what the operations sent, then a granted
    lock's next step) and who holds the entity's lock after it."""
    sends = [
        Outbound(
            OrchestrationInstance(request.parent or "", request.parent_execution),
            EventRaised(timestamp=now, name=request.request_id, input=response_json(outcome)),
        )
        for request, outcome in zip(requests, result.outcomes, strict=True)
        if request.expects_response
    ]
    sends += [_operation_send(me, send, now) for send in operation_sends]
    if plan.lock_request is None:
        return sends, plan.state.locked_by
    grant = grant_lock(plan.lock_request)
    sends.append(
        Outbound(
            OrchestrationInstance(grant.target, grant.target_execution),
            EventRaised(timestamp=now, name=grant.event_name, input=grant.event_input),
        )
    )
    return sends, grant.locked_by


def _operation_send(me: OrchestrationInstance, send: EntitySend, now: datetime) -> Outbound:
    """A signal as the client sends one (a RequestMessage whose parent is this entity, not
    labelled for ordering), or an orchestration start: an ExecutionStarted to a new
    execution, as DTFx's TaskEntityDispatcher sends it (no parent instance)."""
    if send.start_orchestration:
        started = ExecutionStarted(
            timestamp=now,
            orchestration_instance=OrchestrationInstance(send.target, uuid.uuid4().hex),
            name=send.name,
            input=send.input,
            scheduled_start_time=send.scheduled_time,
        )
        return Outbound(started.orchestration_instance, started, visible_at=send.scheduled_time)
    payload = request_json(
        request_id=str(uuid.uuid4()),
        operation=send.name,
        input_json=send.input,
        signal=True,
        now=now,
        parent=me.instance_id,
    )
    due = send.scheduled_time
    name = scheduled_operation_name(due) if due is not None else OPERATION_EVENT
    return Outbound(
        OrchestrationInstance(send.target, None),
        EventRaised(timestamp=now, name=name, input=payload),
        visible_at=due,
    )
