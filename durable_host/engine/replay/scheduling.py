"""Turning the orchestrator's actions into scheduling events and outbound messages.

Each action gets the next sequence id. When the history already holds an event at that id,
it must be the same task (determinism.py) and nothing is sent again; otherwise the new
history event and the message it implies are added to the episode's Decision.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from durable_host.engine.replay.actions import parse_sdk_datetime
from durable_host.engine.replay.decision import (
    Decision,
    EpisodeContext,
    Outbound,
    deterministic_id,
    encode_string,
)
from durable_host.engine.replay.determinism import check_same_task
from durable_host.engine.replay.entity_requests import read_stored_request, request_message
from durable_host.engine.replay.entity_sorter import SendClock
from durable_host.engine.replay.tasks import HostTask, Leaf
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationInstance,
    ParentInstance,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)

__all__ = ["ActionScheduling"]


class ActionScheduling:
    """The scheduling half of HistoryWalker (walk.py), which sets these attributes."""

    ctx: EpisodeContext
    now: datetime
    seq: int
    by_seq: dict[int, HostTask]
    expected: dict[int, tuple[type[HistoryEvent], str | None]]
    stored: dict[int, HistoryEvent]
    decision: Decision
    send_clock: SendClock
    entity_waits: dict[str, Leaf]

    def next_seq(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    def register(self, leaf: Leaf, kind: type[HistoryEvent], name: str | None) -> bool:
        """Record the expectation for this id; returns True when the event is new."""
        self.by_seq[leaf.seq] = leaf
        self.expected[leaf.seq] = (kind, name)
        stored = self.stored.get(leaf.seq)
        if stored is None:
            return True
        self.verify(leaf.seq, stored)
        return False

    def verify(self, seq: int, stored: HistoryEvent) -> None:
        check_same_task(self.ctx, seq, self.expected[seq], stored)

    def emit(self, event: HistoryEvent) -> None:
        self.decision.new_events.append(event)

    @property
    def this_instance(self) -> OrchestrationInstance:
        return OrchestrationInstance(self.ctx.instance_id, self.ctx.execution_id)

    def schedule_activity(self, action: dict[str, Any], parent: HostTask | None) -> Leaf:
        name = action["functionName"]
        leaf = Leaf(kind=TaskScheduled, name=name, seq=self.next_seq(), parent=parent)
        if self.register(leaf, TaskScheduled, name):
            event = TaskScheduled(
                event_id=leaf.seq,
                timestamp=self.now,
                name=name,
                version="",
                input=json.dumps([action.get("input")], ensure_ascii=False),
            )
            self.emit(event)
            self.decision.outbound.append(
                Outbound(target=self.this_instance, event=event, to_work_items=True)
            )
        return leaf

    def schedule_sub_orchestration(self, action: dict[str, Any], parent: HostTask | None) -> Leaf:
        name = action["functionName"]
        seq = self.next_seq()
        # A stored child keeps the id it was created with: only a new one is sent.
        child_id = str(action.get("instanceId") or f"{self.ctx.execution_id}:{seq}")
        leaf = Leaf(kind=SubOrchestrationInstanceCreated, name=name, seq=seq, parent=parent)
        if self.register(leaf, SubOrchestrationInstanceCreated, name):
            child_input = encode_string(action.get("input"))
            self.emit(
                SubOrchestrationInstanceCreated(
                    event_id=seq,
                    timestamp=self.now,
                    name=name,
                    version="",
                    instance_id=child_id,
                    input=child_input,
                )
            )
            child = OrchestrationInstance(child_id, uuid.uuid4().hex)
            start = ExecutionStarted(
                timestamp=self.now,
                orchestration_instance=child,
                name=name,
                version="",
                input=child_input,
                parent_instance=ParentInstance(
                    name=self.ctx.orchestrator_name,
                    version="",
                    orchestration_instance=self.this_instance,
                    task_schedule_id=seq,
                ),
            )
            self.decision.outbound.append(Outbound(target=child, event=start))
        return leaf

    def schedule_timer(self, fire_at: datetime, parent: HostTask | None) -> Leaf:
        leaf = Leaf(kind=TimerCreated, name=None, seq=self.next_seq(), parent=parent)
        if self.register(leaf, TimerCreated, None):
            self.emit(TimerCreated(event_id=leaf.seq, timestamp=self.now, fire_at=fire_at))
            self.decision.outbound.append(
                Outbound(
                    target=self.this_instance,
                    event=TimerFired(timestamp=self.now, timer_id=leaf.seq, fire_at=fire_at),
                    visible_at=fire_at,
                )
            )
        return leaf

    def send_entity_operation(
        self, action: dict[str, Any], parent: HostTask | None, *, signal: bool
    ) -> Leaf:
        target = str(action["instanceId"])
        seq = self.next_seq()
        stored = self.stored.get(seq)
        fire_at = action.get("fireAt")
        event_name = "op" if not fire_at else f"op@{fire_at}"
        leaf = Leaf(kind=EventSent, name=event_name, seq=seq, parent=None if signal else parent)
        if isinstance(stored, EventSent) and stored.input:
            leaf.request_id, self.send_clock = read_stored_request(
                stored.input, target, self.send_clock
            )
        if leaf.request_id is None:
            leaf.request_id = deterministic_id(self.ctx.execution_id, seq, target)
        if not signal:
            self.entity_waits[leaf.request_id] = leaf
        if self.register(leaf, EventSent, event_name):
            self.send_clock, payload = request_message(
                action,
                target,
                leaf.request_id,
                sender=self.this_instance,
                signal=signal,
                now=self.now,
                clock=self.send_clock,
            )
            self.emit(
                EventSent(
                    event_id=seq,
                    timestamp=self.now,
                    instance_id=target,
                    name=event_name,
                    input=payload,
                )
            )
            self.decision.outbound.append(
                Outbound(
                    target=OrchestrationInstance(target, None),
                    event=EventRaised(timestamp=self.now, name=event_name, input=payload),
                    visible_at=parse_sdk_datetime(fire_at) if fire_at else None,
                )
            )
        return leaf
