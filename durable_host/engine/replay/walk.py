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
from collections import defaultdict, deque
from collections.abc import Sequence
from datetime import datetime
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
from durable_host.engine.replay.decision import (
    Decision,
    EpisodeContext,
    encode_string,
    failed_decision,
    settle,
)
from durable_host.engine.replay.determinism import SCHEDULING_EVENTS, unscheduled_task_error
from durable_host.engine.replay.entity_sorter import SendClock
from durable_host.engine.replay.retries import RetryLink, retry_delay
from durable_host.engine.replay.scheduling import ActionScheduling
from durable_host.engine.replay.tasks import Compound, HostTask, Instant, Leaf, Retry, Wait
from durable_host.errors import NonDeterminismError
from durable_host.taskhub.events import (
    EventRaised,
    ExecutionStarted,
    HistoryEvent,
    OrchestratorStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    TaskCompleted,
    TaskFailed,
    TimerFired,
)

__all__ = ["HistoryWalker", "UnsupportedActionError", "replay"]


class HistoryWalker(ActionScheduling):
    """One walk over an execution's history with the orchestrator's actions."""

    def __init__(
        self, ctx: EpisodeContext, history: Sequence[HistoryEvent], actions: list[dict[str, Any]]
    ):
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
            e.event_id: e for e in history if isinstance(e, SCHEDULING_EVENTS)
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
            elif isinstance(event, SCHEDULING_EVENTS):
                self.check_stored(event)
            elif isinstance(event, (TaskCompleted, SubOrchestrationInstanceCompleted)):
                self.complete(event.task_scheduled_id, failed=False)
            elif isinstance(event, (TaskFailed, SubOrchestrationInstanceFailed)):
                self.complete(event.task_scheduled_id, failed=True)
            elif isinstance(event, TimerFired):
                self.complete(event.timer_id, failed=False)
            elif isinstance(event, EventRaised):
                self.raise_event(event)

    def continue_with(self, ctx: EpisodeContext, events: Sequence[HistoryEvent]) -> None:
        """Go on with this walk in a later episode (`ctx`), with a fresh decision, through
        the events the history gained since (blocked_episodes.py)."""
        self.ctx = ctx
        self.decision = Decision()
        self.feed(events)

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

    # -- retries --------------------------------------------------------------------------------

    def start_attempt(self, retry: Retry) -> None:
        retry.attempts += 1
        kind = action_type(retry.action)
        if kind == CALL_ACTIVITY_WITH_RETRY:
            leaf = self.schedule_activity(retry.action, parent=None)
        else:
            leaf = self.schedule_sub_orchestration(retry.action, parent=None)
        leaf.parent = RetryLink(self, retry)
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
        delay = retry_delay(retry, self.now)
        if delay is None:
            retry.finish(failed=True)
            return
        timer = self.schedule_timer(self.now + delay, parent=None)
        timer.parent = RetryLink(self, retry)
        retry.waiting_timer = timer

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
            raise unscheduled_task_error(self.ctx, event)


class UnsupportedActionError(Exception):
    """The SDK asked for something durable_host cannot do (fails the orchestration)."""


def _is_entity_error(payload: str | None) -> bool:
    if not payload:
        return False
    try:
        body = json.loads(payload)
    except ValueError:
        return False
    return isinstance(body, dict) and "exceptionType" in body


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
        return failed_decision(ctx, str(exc), type(exc).__name__)
    return settle(ctx, decision, state, error, actions)
