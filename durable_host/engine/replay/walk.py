"""Pure orchestration replay: the host side of one episode, with no I/O.

The SDK returns its actions (schema V2/V3: one append-only list, docs/protocol.md §1.3)
but not their DTFx sequence ids. The real extension assigns those by replaying
the actions through a DTFx context: it schedules each action, awaits it, and
stops at the first pending one; retries (DTFx RetryInterceptor) schedule a timer
after each failed attempt and a new attempt when that timer fires. `replay`
does the same walk over the history, so it can

* give every action the sequence id the SDK gave its task,
* check each stored scheduling event against the action now at that id
  (the determinism check of DTFx `TaskOrchestrationContext`), and
* return the scheduling events and outbound messages for what is new.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from durable_host.engine.replay.actions import (
    CALL_ACTIVITY,
    CALL_ACTIVITY_WITH_RETRY,
    CALL_ENTITY,
    CALL_HTTP,
    CALL_SUB_ORCHESTRATOR,
    CALL_SUB_ORCHESTRATOR_WITH_RETRY,
    CONTINUE_AS_NEW,
    CREATE_TIMER,
    HTTP_ACTIVITY_NAME,
    SCHEDULED_SIGNAL_ENTITY,
    SIGNAL_ENTITY,
    WAIT_FOR_EXTERNAL_EVENT,
    WHEN_ALL,
    WHEN_ANY,
    action_type,
    flatten_actions,
    parse_sdk_datetime,
)
from durable_host.engine.replay.entity_requests import read_stored_request, request_message
from durable_host.engine.replay.entity_sorter import SendClock
from durable_host.engine.replay.tasks import Compound, HostTask, Instant, Leaf, Retry, Wait
from durable_host.errors import NonDeterminismError
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorStarted,
    ParentInstance,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)

# Deterministic ids (sub-orchestration instance ids, entity request ids) are name-based UUIDs.
_ID_NAMESPACE = uuid.UUID("9e952958-5e33-4daf-827f-2fa12937b875")

# Queue messages can be invisible for at most 7 days; the SDK already splits longer timers.
MAX_RETRY_INTERVAL = timedelta(days=6)


# --------------------------------------------------------------------------- results


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


@dataclass(frozen=True)
class EpisodeContext:
    """What `replay` needs to know about the instance besides its history."""

    instance_id: str
    execution_id: str
    orchestrator_name: str
    now: datetime


# --------------------------------------------------------------------------- the replayer


_SCHEDULING = (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated, EventSent)
_KIND_TEXT = {
    TaskScheduled: "an activity task",
    TimerCreated: "a durable timer",
    SubOrchestrationInstanceCreated: "a sub-orchestration",
    EventSent: "an event or entity operation",
}


def deterministic_id(execution_id: str, seq: int, salt: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{execution_id}:{seq}:{salt}"))


def encode_string(text: str | None) -> str | None:
    """The SDK's JSON text is a .NET string to the host: Newtonsoft writes it as a string."""
    if text is None:
        return None
    return json.dumps(text, ensure_ascii=False)


class HistoryWalker:
    def __init__(self, ctx: EpisodeContext, history: Sequence[HistoryEvent], actions: list[dict]):
        self.ctx = ctx
        self.history = history
        self.actions = actions
        self.cursor = 0
        self.seq = 0
        self.current: HostTask | None = None
        self.now: datetime = ctx.now
        self.by_seq: dict[int, HostTask] = {}
        self.expected: dict[int, tuple[type[HistoryEvent], str | None]] = {}
        self.stored: dict[int, HistoryEvent] = {
            e.event_id: e for e in history if isinstance(e, _SCHEDULING)
        }
        self.entity_waits: dict[str, Leaf] = {}
        self.event_waits: dict[str, deque[Wait]] = defaultdict(deque)
        self.event_buffer: dict[str, deque[EventRaised]] = defaultdict(deque)
        self.decision = Decision()
        # Ordering labels of the requests this execution sends to entities (entity_sorter.py).
        self.send_clock = SendClock()
        self.continued_as_new = False
        self.started = False

    # -- the walk ---------------------------------------------------------------------------

    def run(self) -> Decision:
        self.feed(self.history)
        return self.finish()

    def feed(self, events: Sequence[HistoryEvent]) -> None:
        """Walk `events`, the next part of the history (all of it, or what followed the last
        walk when a walk is continued: see blocked_episodes.py)."""
        for event in events:
            if isinstance(event, OrchestratorStarted):
                self.now = event.timestamp
            elif isinstance(event, ExecutionStarted):
                self.started = True
                self.advance()
            elif isinstance(event, _SCHEDULING):
                self.check_stored(event)
            elif isinstance(event, (TaskCompleted, SubOrchestrationInstanceCompleted)):
                self.complete(event.task_scheduled_id, failed=False)
            elif isinstance(event, (TaskFailed, SubOrchestrationInstanceFailed)):
                self.complete(event.task_scheduled_id, failed=True)
            elif isinstance(event, TimerFired):
                self.complete(event.timer_id, failed=False)
            elif isinstance(event, EventRaised):
                self.raise_event(event)

    def finish(self) -> Decision:
        """The decision once the walk has reached the end of the history."""
        if self.started:
            self.advance()
        self.now = self.ctx.now
        self.decision.unconsumed_events = [e for q in self.event_buffer.values() for e in q]
        return self.decision

    @property
    def blocked(self) -> bool:
        """Every action was reached and the one the orchestrator stopped at is unfinished:
        running it again would return the same OrchestratorState."""
        return (
            self.cursor == len(self.actions)
            and self.current is not None
            and not self.current.done
            and not self.continued_as_new
        )

    def advance(self) -> None:
        while self.current is None or self.current.done:
            if self.cursor >= len(self.actions) or self.continued_as_new:
                return
            action = self.actions[self.cursor]
            self.cursor += 1
            self.current = self.build(action, parent=None)

    # -- building tasks from actions --------------------------------------------------------

    def build(self, action: dict[str, Any], parent: HostTask | None) -> HostTask:
        kind = action_type(action)
        if kind in (WHEN_ALL, WHEN_ANY):
            compound = Compound(any_of=kind == WHEN_ANY, parent=parent)
            for child in action.get("compoundActions") or []:
                compound.children.append(self.build(child, parent=compound))
            compound.settle()
            return compound
        if kind == CALL_ACTIVITY:
            return self.schedule_activity(action, parent)
        if kind == CALL_SUB_ORCHESTRATOR:
            return self.schedule_sub_orchestration(action, parent)
        if kind in (CALL_ACTIVITY_WITH_RETRY, CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            retry = Retry(
                action=action,
                options=action.get("retryOptions") or {},
                first_attempt=self.now,
                parent=parent,
            )
            self.start_attempt(retry)
            return retry
        if kind == CREATE_TIMER:
            return self.schedule_timer(parse_sdk_datetime(action["fireAt"]), parent)
        if kind == WAIT_FOR_EXTERNAL_EVENT:
            wait = Wait(name=action["externalEventName"], parent=parent)
            buffered = self.event_buffer.get(wait.name)
            if buffered:
                buffered.popleft()
                wait.done = True
            else:
                self.event_waits[wait.name].append(wait)
            return wait
        if kind == CALL_ENTITY:
            return self.send_entity_operation(action, parent, signal=False)
        if kind in (SIGNAL_ENTITY, SCHEDULED_SIGNAL_ENTITY):
            self.send_entity_operation(action, parent, signal=True)
            return Instant()
        if kind == CONTINUE_AS_NEW:
            self.continued_as_new = True
            self.decision.continue_as_new_input = encode_string(action.get("input"))
            return Instant()
        if kind == CALL_HTTP:
            # The extension schedules its built-in HTTP activity with the request as input.
            http_call = {"functionName": HTTP_ACTIVITY_NAME, "input": action.get("httpRequest")}
            return self.schedule_activity(http_call, parent)
        raise UnsupportedActionError(f"Unknown orchestrator action type {kind}.")

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
                Outbound(
                    target=OrchestrationInstance(self.ctx.instance_id, self.ctx.execution_id),
                    event=event,
                    to_work_items=True,
                )
            )
        return leaf

    def schedule_sub_orchestration(self, action: dict[str, Any], parent: HostTask | None) -> Leaf:
        name = action["functionName"]
        seq = self.next_seq()
        stored = self.stored.get(seq)
        if action.get("instanceId"):
            child_id = str(action["instanceId"])
        elif isinstance(stored, SubOrchestrationInstanceCreated):
            child_id = stored.instance_id
        else:
            child_id = f"{self.ctx.execution_id}:{seq}"
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
                    orchestration_instance=OrchestrationInstance(
                        self.ctx.instance_id, self.ctx.execution_id
                    ),
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
                    target=OrchestrationInstance(self.ctx.instance_id, self.ctx.execution_id),
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
                sender=OrchestrationInstance(self.ctx.instance_id, self.ctx.execution_id),
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

    # -- retries --------------------------------------------------------------------------------

    def start_attempt(self, retry: Retry) -> None:
        retry.attempts += 1
        kind = action_type(retry.action)
        if kind == CALL_ACTIVITY_WITH_RETRY:
            leaf = self.schedule_activity(retry.action, parent=None)
        else:
            leaf = self.schedule_sub_orchestration(retry.action, parent=None)
        leaf.parent = _RetryLink(self, retry)
        retry.current = leaf

    def on_attempt_done(self, retry: Retry, leaf: Leaf) -> None:
        if leaf is retry.waiting_timer:
            retry.waiting_timer = None
            if retry.attempts >= int(retry.options.get("maxNumberOfAttempts", 1)):
                retry.finish(failed=True)
            else:
                self.start_attempt(retry)
            return
        if not leaf.failed:
            retry.finish(failed=False)
            return
        delay = self.retry_delay(retry)
        if delay is None:
            retry.finish(failed=True)
            return
        timer = self.schedule_timer(self.now + delay, parent=None)
        timer.parent = _RetryLink(self, retry)
        retry.waiting_timer = timer

    def retry_delay(self, retry: Retry) -> timedelta | None:
        options = retry.options
        timeout_ms = options.get("retryTimeoutInMilliseconds")
        if timeout_ms and self.now >= retry.first_attempt + timedelta(milliseconds=timeout_ms):
            return None
        first = float(options.get("firstRetryIntervalInMilliseconds", 0))
        backoff = float(options.get("backoffCoefficient", 1) or 1)
        delay_ms = first * backoff ** (retry.attempts - 1)
        cap = options.get("maxRetryIntervalInMilliseconds")
        delay = timedelta(milliseconds=min(delay_ms, float(cap) if cap else delay_ms))
        if delay <= timedelta(0):
            return None
        return min(delay, MAX_RETRY_INTERVAL)

    # -- history events ---------------------------------------------------------------------------

    def complete(self, seq: int, *, failed: bool) -> None:
        task = self.by_seq.get(seq)
        if isinstance(task, Leaf) and not task.done:
            task.finish(failed)
            self.advance()

    def raise_event(self, event: EventRaised) -> None:
        entity_leaf = self.entity_waits.pop(event.name, None)
        if entity_leaf is not None:
            entity_leaf.finish(failed=_is_entity_error(event.input))
            self.advance()
            return
        waiters = self.event_waits.get(event.name)
        if waiters:
            waiters.popleft().finish()
            self.advance()
        else:
            self.event_buffer[event.name].append(event)

    def check_stored(self, event: HistoryEvent) -> None:
        if event.event_id not in self.expected:
            kind_text = _KIND_TEXT.get(type(event), "a task")
            name = getattr(event, "name", None)
            raise NonDeterminismError(
                f"A previous execution of orchestration '{self.ctx.orchestrator_name}' "
                f"(instance '{self.ctx.instance_id}') scheduled {kind_text} with sequence ID "
                f"{event.event_id}{_name_text(name)}, but the current replay execution hasn't "
                "(yet?) scheduled this task. Was a change made to the orchestrator code after "
                "this instance had already started running?"
            )

    def verify(self, seq: int, stored: HistoryEvent) -> None:
        kind, name = self.expected[seq]
        stored_name = getattr(stored, "name", None)
        same_kind = isinstance(stored, kind)
        same_name = name is None or (stored_name or "").lower() == name.lower()
        if same_kind and same_name:
            return
        raise NonDeterminismError(
            f"Non-deterministic workflow detected in orchestration "
            f"'{self.ctx.orchestrator_name}' (instance '{self.ctx.instance_id}'): "
            f"history has {_KIND_TEXT.get(type(stored), 'a task')}{_name_text(stored_name)} "
            f"with sequence ID {seq}, but the orchestrator code now schedules "
            f"{_KIND_TEXT.get(kind, 'a task')}{_name_text(name)} at that point. "
            "Orchestrator code must be deterministic; deploy code changes under a new "
            "orchestrator name or wait for running instances to finish."
        )

    def emit(self, event: HistoryEvent) -> None:
        self.decision.new_events.append(event)


class UnsupportedActionError(Exception):
    """The SDK asked for something durable_host cannot do (fails the orchestration)."""


@dataclass(eq=False)
class _RetryLink(HostTask):
    """Parent of a retry's attempts and timers: routes their completion to the replayer."""

    replayer: HistoryWalker
    retry: Retry

    def on_child_done(self, child: HostTask) -> None:
        assert isinstance(child, Leaf)
        self.replayer.on_attempt_done(self.retry, child)


def _is_entity_error(payload: str | None) -> bool:
    if not payload:
        return False
    try:
        body = json.loads(payload)
    except ValueError:
        return False
    return isinstance(body, dict) and "exceptionType" in body


def _name_text(name: str | None) -> str:
    return f" and name '{name}'" if name else ""


# --------------------------------------------------------------------------- entry point


def replay(
    ctx: EpisodeContext,
    history: Sequence[HistoryEvent],
    state: dict[str, Any] | None,
    error: str | None,
) -> Decision:
    """Decide what one episode produced.

    `history` is the whole execution including this episode's OrchestratorStarted and new
    events; `state` is the SDK's OrchestratorState (None if the SDK produced none) and
    `error` the orchestrator's failure message, if it raised.
    """
    actions = flatten_actions((state or {}).get("actions"))
    try:
        decision = HistoryWalker(ctx, history, actions).run()
    except (NonDeterminismError, UnsupportedActionError) as exc:
        return _failed(ctx, str(exc), type(exc).__name__)
    return settle(ctx, decision, state, error, actions)


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
        failed = _failed(ctx, error, "Exception")
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


def _has_continue_as_new(actions: list[dict[str, Any]]) -> bool:
    return any(action_type(a) == CONTINUE_AS_NEW for a in actions)


def _failed(ctx: EpisodeContext, message: str, error_type: str) -> Decision:
    text = f"Orchestrator function '{ctx.orchestrator_name}' failed: {message}"
    return Decision(
        completion=Completion(
            OrchestrationStatus.Failed,
            result=text,
            failure_details=FailureDetails(error_type=error_type, error_message=message),
        )
    )
