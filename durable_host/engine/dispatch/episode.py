"""One episode: the orchestrator's Decision on a history, and the events that close it.

The orchestrator runs through the SDK on the history as the SDK expects it (played events
marked), unless the episode cannot change anything: an orchestrator still blocked on tasks
the new events do not complete is decided without running it (blocked_episodes.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.replay.blocked_episodes import replay_while_blocked
from durable_host.engine.replay.context import build_context_json
from durable_host.engine.replay.decision import Completion, Decision, EpisodeContext, Outbound
from durable_host.engine.replay.walk import replay
from durable_host.errors import FunctionNotFoundError
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationStatus,
    OrchestratorCompleted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    TaskScheduled,
)

log = logging.getLogger("durable_host.orchestrations")

OrchestratorRunner = Callable[[str, str], Awaitable[tuple[dict[str, Any] | None, str | None]]]
"""(orchestrator name, context JSON) -> (SDK OrchestratorState or None, error text or None)."""


class EpisodeRunner:
    """Decides episodes; counts those run through the SDK and those skipped."""

    def __init__(
        self,
        run_orchestrator: OrchestratorRunner,
        known_activity: Callable[[str], bool] | None,
    ) -> None:
        self._run = run_orchestrator
        self._known_activity = known_activity
        self.episodes_run = 0
        self.episodes_skipped = 0

    async def decide(
        self,
        session: Session,
        started: ExecutionStarted,
        new_events: list[HistoryEvent],
        now: datetime,
    ) -> Decision:
        """The orchestrator's Decision on `session`'s history plus `new_events`."""
        history = session.history + new_events
        assert session.execution_id is not None
        ctx = EpisodeContext(
            instance_id=session.instance_id,
            execution_id=session.execution_id,
            orchestrator_name=started.name,
            now=now,
        )
        if session.last_state is not None and session.history:
            unchanged, session.blocked_walk = replay_while_blocked(
                ctx, history, session.last_state, session.blocked_walk
            )
            if unchanged is not None:
                self.episodes_skipped += 1
                return unchanged
        history_json = session.played_json() + [
            event_to_json(e, with_type=False) for e in new_events
        ]
        context_json = build_context_json(
            session.instance_id, history_json, started, is_replaying=bool(session.history)
        )
        try:
            state, error = await self._run(started.name, context_json)
        except FunctionNotFoundError:
            # Retrying cannot help: fail the instance, as the extension does for a start
            # (or a sub-orchestration call) naming an orchestrator the app does not have.
            state, error = (
                None,
                f"The function '{started.name}' doesn't exist, is disabled, or is not an "
                "orchestrator function. Additional info: check the name passed to start_new or "
                "call_sub_orchestrator against the app's @app.orchestration_trigger functions.",
            )
        self.episodes_run += 1
        session.last_state = state if error is None else None
        session.blocked_walk = None
        decision = replay(ctx, history, state, error)
        unknown = self._unknown_activities(decision)
        if unknown and decision.completion is None:
            message = (
                f"The function '{unknown}' doesn't exist, is disabled, or is not an activity "
                "function. Additional info: check the name passed to context.call_activity "
                "against the app's @app.activity_trigger functions."
            )
            failed = replay(ctx, history, None, message)
            failed.custom_status = decision.custom_status
            _log_host_failure(ctx, failed)
            return failed
        if error is None:
            _log_host_failure(ctx, decision)
        return decision

    def _unknown_activities(self, decision: Decision) -> str | None:
        if self._known_activity is None:
            return None
        for event in decision.new_events:
            if isinstance(event, TaskScheduled) and not self._known_activity(event.name):
                return event.name
        return None


def _log_host_failure(ctx: EpisodeContext, decision: Decision) -> None:
    """Log a failure the host decided, not the orchestrator (a non-deterministic replay, an
    unknown activity): the invocation itself succeeded, so its `Executed` line says nothing.
    The words are the extension's FunctionFailed log."""
    completion = decision.completion
    if completion is None or completion.status is not OrchestrationStatus.Failed:
        return
    details = completion.failure_details
    log.error(
        "%s: Function '%s (Orchestrator)' failed with an error. Reason: %s",
        ctx.instance_id,
        ctx.orchestrator_name,
        details.error_message if details is not None else completion.result,
    )


def close_episode(
    started: ExecutionStarted,
    completion: Completion | None,
    new_events: list[HistoryEvent],
    outbound: list[Outbound],
    now: datetime,
) -> None:
    """Append the episode's closing events (and tell a parent that its child finished)."""
    if completion is not None:
        new_events.append(
            ExecutionCompleted(
                timestamp=now,
                orchestration_status=completion.status,
                result=completion.result,
                failure_details=completion.failure_details,
            )
        )
        outbound.extend(parent_notification(started, completion, now))
    new_events.append(OrchestratorCompleted(timestamp=now))


def parent_notification(
    started: ExecutionStarted, completion: Completion, now: datetime
) -> list[Outbound]:
    """The sub-orchestration result for the parent, when there is one and the child ended."""
    parent = started.parent_instance
    if parent is None:
        return []
    event: HistoryEvent
    if completion.status == OrchestrationStatus.Completed:
        event = SubOrchestrationInstanceCompleted(
            timestamp=now, task_scheduled_id=parent.task_schedule_id, result=completion.result
        )
    elif completion.status in (OrchestrationStatus.Failed, OrchestrationStatus.Terminated):
        details = completion.failure_details
        event = SubOrchestrationInstanceFailed(
            timestamp=now,
            task_scheduled_id=parent.task_schedule_id,
            reason=completion.result,
            details=details.error_message if details else None,
            failure_details=details,
        )
    else:
        return []
    return [Outbound(target=parent.orchestration_instance, event=event)]
