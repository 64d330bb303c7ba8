"""One episode: the orchestrator's Decision on a history, and the events that close it.

The orchestrator runs through its executor (executors.py: the 1.x JSON protocol or the
protobuf protocol); what is common to both is here: an unknown orchestrator or activity
fails the instance, and the closing events and the parent's notification are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from durable_host.engine.dispatch.executors import Episode, OrchestrationExecutor
from durable_host.engine.dispatch.sessions import Session, find_started, suspended_after
from durable_host.engine.replay.decision import (
    Completion,
    Decision,
    EpisodeContext,
    Outbound,
    failed_decision,
)
from durable_host.errors import FunctionNotFoundError
from durable_host.taskhub.events import (
    ContinueAsNew,
    EventSent,
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionTerminated,
    HistoryEvent,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskScheduled,
    TimerCreated,
)

log = logging.getLogger("durable_host.orchestrations")

# What an episode's decision and its close append after the events it was run on.
_DECIDED = (
    TaskScheduled,
    SubOrchestrationInstanceCreated,
    TimerCreated,
    EventSent,
    ContinueAsNew,
    ExecutionCompleted,
    OrchestratorCompleted,
)


def _shared_hub_hint(hub: str) -> str:
    # Two apps on one task hub (the same hub name on one storage account, e.g. both left at
    # the default 'TestHubName') take each other's messages, on Azure as here: the instance
    # then fails in the app that lacks its function. Saying so saves a long hunt.
    if not hub:
        return ""
    return (
        f", and that no other app uses the task hub '{hub}' on this storage account (apps "
        "sharing a task hub take each other's work: give each its own hubName in host.json)"
    )


class EpisodeRunner:
    """Decides episodes through the executor of each orchestrator (executors.py); counts
    those that ran the orchestrator and those decided without it."""

    def __init__(
        self,
        executor_for: Callable[[str], OrchestrationExecutor],
        known_activity: Callable[[str], bool] | None,
        hub: str = "",
    ) -> None:
        self._executor_for = executor_for
        self._known_activity = known_activity
        self._hub = hub
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
        episode = Episode(session=session, started=started, new_events=new_events, now=now)
        ctx = episode.context
        try:
            decision = await self._executor_for(started.name).run_episode(episode)
        except FunctionNotFoundError:
            # Retrying cannot help: fail the instance, as the extension does for a start
            # (or a sub-orchestration call) naming an orchestrator the app does not have.
            session.forget_state()
            decision = failed_decision(
                ctx,
                f"The function '{started.name}' doesn't exist, is disabled, or is not an "
                "orchestrator function. Additional info: check the name passed to start_new or "
                "call_sub_orchestrator against the app's @app.orchestration_trigger functions"
                f"{_shared_hub_hint(self._hub)}.",
                "Exception",
            )
        if decision.skipped:
            self.episodes_skipped += 1
            return decision
        self.episodes_run += 1
        unknown = self._unknown_activities(decision)
        if unknown and decision.completion is None:
            message = (
                f"The function '{unknown}' doesn't exist, is disabled, or is not an activity "
                "function. Additional info: check the name passed to context.call_activity "
                f"against the app's @app.activity_trigger functions{_shared_hub_hint(self._hub)}."
            )
            failed = failed_decision(ctx, message, "Exception")
            failed.custom_status = decision.custom_status
            log_host_failure(ctx, failed)
            return failed
        return decision

    async def last_custom_status(self, session: Session, now: datetime) -> str | None:
        """The custom status the last stored episode of `session` gave its row, found by
        deciding that episode again on the events it was run on.

        Only the row holds a custom status, not the history: when an episode's row write is
        lost (a crash, a storage outage after the history write), the row repair needs it, or
        a finished instance keeps the custom status of the episode before its last. Works on
        a copy, so the session's own executor state stays as its episodes left it.
        """
        history = session.history
        begun = max(
            (i for i, e in enumerate(history) if isinstance(e, OrchestratorStarted)), default=None
        )
        started = find_started(history)
        if begun is None or started is None:
            return None
        past = history[:begun]
        ran_on = [e for e in history[begun:] if not isinstance(e, _DECIDED)]
        if any(isinstance(e, ExecutionTerminated) for e in ran_on) or suspended_after(
            past + ran_on
        ):
            return None  # the orchestrator did not run: WorkItemRunner._play writes none
        copy = Session(session.instance_id, session.execution_id, past)
        decision = await self.decide(copy, started, ran_on, now)
        return decision.custom_status

    def _unknown_activities(self, decision: Decision) -> str | None:
        if self._known_activity is None:
            return None
        for event in decision.new_events:
            if isinstance(event, TaskScheduled) and not self._known_activity(event.name):
                return event.name
        return None


def log_host_failure(ctx: EpisodeContext, decision: Decision) -> None:
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
