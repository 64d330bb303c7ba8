"""Running one work item of an orchestration instance: the episode, then its checkpoint.

The dispatcher (orchestrations.py) decides which messages form a work item; this runs it:
builds the new events, runs the orchestrator (or skips it when it cannot change), handles
termination, suspension, rewind and continue-as-new, and checkpoints in the provider's
order: outbound messages, then history rows + sentinel (ETag-guarded), then the Instances
row (instance_row.py), then the consumed messages are deleted (the last two in the
background, in order per instance, so the instance's next episode starts once its history
is written).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.notifier import InstanceNotifier
from durable_host.engine.dispatch.router import MessageRouter, stored_message
from durable_host.engine.dispatch.sessions import Session, find_started, suspended_after
from durable_host.engine.replay.blocked_episodes import replay_while_blocked
from durable_host.engine.replay.context import build_context_json
from durable_host.engine.replay.walk import (
    Completion,
    Decision,
    EpisodeContext,
    Outbound,
    replay,
)
from durable_host.engine.time.clock import Clock
from durable_host.errors import FunctionNotFoundError, StorageError
from durable_host.taskhub.codec import event_to_json
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionTerminated,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorCompleted,
    OrchestratorStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskFailed,
    TaskScheduled,
)
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer, EpisodeTrace

log = logging.getLogger("durable_host.orchestrations")

OrchestratorRunner = Callable[[str, str], Awaitable[tuple[dict[str, Any] | None, str | None]]]
"""(orchestrator name, context JSON) -> (SDK OrchestratorState or None, error text or None)."""


class WorkItemRunner:
    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        router: MessageRouter,
        run_orchestrator: OrchestratorRunner,
        clock: Clock,
        rows: InstanceRowWriter,
        known_activity: Callable[[str], bool] | None,
        notifier: InstanceNotifier,
    ) -> None:
        self._storage = storage
        self._router = router
        self._run = run_orchestrator
        self._clock = clock
        self.rows = rows
        self._known_activity = known_activity
        self.notifier = notifier
        self.finishing: set[asyncio.Task[None]] = set()
        self.episodes_run = 0
        self.episodes_skipped = 0
        # Set by the Engine when host.json turns tracing on; None costs one test per episode.
        self.tracer: DurableTracer | None = None

    async def run(
        self, session: Session, events: list[HistoryEvent], restart: ExecutionStarted | None
    ) -> None:
        if restart is not None:
            session.history = []
            session.execution_id = None
            session.last_state = None
            session.row_etag = None
            session.blocked_walk = None
        start_index = len(session.history)
        now = self._clock.now()
        new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now)]
        outbound: list[Outbound] = []
        completion: Completion | None = None
        custom_status: str | None = None
        for event in events:
            if isinstance(event, ExecutionStarted):
                session.execution_id = event.orchestration_instance.execution_id
            new_events.append(event)
        traced = (
            self.tracer.episode(session.instance_id, session.history, new_events, now)
            if self.tracer is not None
            else None
        )
        terminated = next((e for e in events if isinstance(e, ExecutionTerminated)), None)
        rewound = next((e for e in events if isinstance(e, ExecutionRewound)), None)
        suspended_now = suspended_after(session.history + new_events)
        started = find_started(session.history + new_events)
        if started is None:
            log.warning("Instance %s has no ExecutionStarted; dropping", session.instance_id)
            return
        if rewound is not None:
            await self._rewind(session, rewound, now)
            return
        if terminated is not None:
            completion = Completion(OrchestrationStatus.Terminated, result=terminated.input)
        elif not suspended_now:
            decision = await self._episode(session, started, new_events, now)
            if traced is not None:
                traced.stamp(decision.new_events, decision.outbound, now)
            completion = decision.completion
            custom_status = decision.custom_status
            outbound = decision.outbound
            new_events.extend(decision.new_events)
            if completion is not None and completion.status == OrchestrationStatus.ContinuedAsNew:
                if traced is not None:
                    traced.finish(session.history, new_events, None, now)
                await self._continue_as_new(
                    session, started, new_events, decision, start_index, now, traced
                )
                return
        episode = session.episode_count() + 1
        self._close_episode(session, started, completion, new_events, outbound, now)
        if traced is not None:
            traced.finish(session.history, new_events, completion, now)
        await self._checkpoint(
            session,
            started,
            outbound,
            new_events,
            start_index,
            completion,
            custom_status,
            now,
            episode,
            suspended=suspended_now and completion is None,
        )

    async def _episode(
        self,
        session: Session,
        started: ExecutionStarted,
        new_events: list[HistoryEvent],
        now: datetime,
    ) -> Decision:
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
            return failed
        return decision

    def _unknown_activities(self, decision: Decision) -> str | None:
        if self._known_activity is None:
            return None
        for event in decision.new_events:
            if isinstance(event, TaskScheduled) and not self._known_activity(event.name):
                return event.name
        return None

    async def _continue_as_new(
        self,
        session: Session,
        started: ExecutionStarted,
        old_new_events: list[HistoryEvent],
        decision: Decision,
        start_index: int,
        now: datetime,
        traced: EpisodeTrace | None = None,
    ) -> None:
        """Send the old generation's messages, then run the next generation in this work item
        (as DTFx does); only the newest generation's history is written, from row 0."""
        while True:
            sender = OrchestrationInstance(session.instance_id, session.execution_id)
            await self._send_all(decision.outbound, sender, session.episode_count() + 1)
            new_execution = uuid.uuid4().hex
            started = ExecutionStarted(
                timestamp=now,
                orchestration_instance=OrchestrationInstance(session.instance_id, new_execution),
                name=started.name,
                version=started.version,
                input=decision.continue_as_new_input,
                parent_instance=started.parent_instance,
                tags=started.tags,
                # As DTFx: the next generation continues the same trace (and span).
                parent_trace_context=started.parent_trace_context,
                generation=started.generation + 1,
            )
            carried: list[HistoryEvent] = list(decision.unconsumed_events)
            session.history = []
            session.execution_id = new_execution
            new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now), started, *carried]
            decision = await self._episode(session, started, new_events, now)
            if traced is not None:
                traced.stamp(decision.new_events, decision.outbound, now)
            new_events.extend(decision.new_events)
            completion = decision.completion
            if completion is None or completion.status != OrchestrationStatus.ContinuedAsNew:
                break
            await asyncio.sleep(0)
        outbound = list(decision.outbound)
        self._close_episode(session, started, completion, new_events, outbound, now)
        if traced is not None:
            traced.finish([], new_events, completion, now)
        await self._checkpoint(
            session,
            started,
            outbound,
            new_events,
            0,
            completion,
            decision.custom_status,
            now,
            1,
            suspended=False,
            new_generation=True,
        )

    def _close_episode(
        self,
        session: Session,
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
            outbound.extend(self._parent_notification(session, started, completion, now))
        new_events.append(OrchestratorCompleted(timestamp=now))

    def _parent_notification(
        self,
        session: Session,
        started: ExecutionStarted,
        completion: Completion,
        now: datetime,
    ) -> list[Outbound]:
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

    async def _rewind(self, session: Session, rewound: ExecutionRewound, now: datetime) -> None:
        """Drop the failures from the history so the failed tasks run again, then resume."""
        failed_ids = {
            e.task_scheduled_id
            for e in session.history
            if isinstance(e, (TaskFailed, SubOrchestrationInstanceFailed))
        }
        kept = [
            e
            for e in session.history
            if not isinstance(e, (TaskFailed, SubOrchestrationInstanceFailed, ExecutionCompleted))
            and not (
                isinstance(e, (TaskScheduled, SubOrchestrationInstanceCreated))
                and e.event_id in failed_ids
            )
        ]
        traced = self.tracer.rewound(session.instance_id, kept, now) if self.tracer else None
        started = find_started(kept)
        assert started is not None and session.execution_id is not None
        session.history = kept
        session.last_state = None
        session.blocked_walk = None
        new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now), rewound]
        decision = await self._episode(session, started, new_events, now)
        if traced is not None:
            traced.stamp(decision.new_events, decision.outbound, now)
        new_events.extend(decision.new_events)
        outbound = list(decision.outbound)
        self._close_episode(session, started, decision.completion, new_events, outbound, now)
        if traced is not None:
            traced.finish(kept, new_events, decision.completion, now)
        # The rewritten history replaces the old rows from index 0.
        await self._checkpoint(
            session,
            started,
            outbound,
            kept + new_events,
            0,
            decision.completion,
            decision.custom_status,
            now,
            session.episode_count() + 1,
            suspended=False,
            replace_history=True,
        )

    # -- checkpoint -------------------------------------------------------------------------------

    async def _send_all(
        self, outbound: list[Outbound], sender: OrchestrationInstance, episode: int
    ) -> None:
        sends: list[Awaitable[object]] = []
        for item in outbound:
            if item.to_work_items:
                sends.append(
                    self._router.send_work_item(
                        item.target, item.event, sender=sender, episode=episode
                    )
                )
            else:
                sends.append(
                    self._router.send_to_instance(
                        item.target,
                        item.event,
                        visible_at=item.visible_at,
                        sender=sender,
                        episode=episode,
                    )
                )
        if sends:
            await asyncio.gather(*sends)

    async def _checkpoint(
        self,
        session: Session,
        started: ExecutionStarted,
        outbound: list[Outbound],
        new_events: list[HistoryEvent],
        start_index: int,
        completion: Completion | None,
        custom_status: str | None,
        now: datetime,
        episode: int,
        *,
        suspended: bool,
        new_generation: bool = False,
        replace_history: bool = False,
    ) -> None:
        assert session.execution_id is not None
        sender = OrchestrationInstance(session.instance_id, session.execution_id)
        await self._send_all(outbound, sender, episode)
        session.etag = await self._storage.append_history(
            session.instance_id,
            session.execution_id,
            start_index=start_index,
            events=new_events,
            etag=session.etag,
        )
        if new_generation or replace_history:
            session.history = list(new_events)
        else:
            session.history.extend(new_events)
        fields = self.rows.episode_fields(
            session, started, new_events, completion, custom_status, now, suspended=suspended
        )
        consumed, session.consumed = session.consumed, []
        # The rest of the checkpoint (Instances row, then nothing depends on it, and the
        # consumed messages) runs in the background, so the instance's next episode can start
        # as soon as its history is written. Row writes stay in order: each waits for the one
        # before; a crash before they finish replays the episode's messages as duplicates.
        finishing = asyncio.create_task(
            self._finish_checkpoint(
                session.finishing, session, fields, consumed, completion is not None
            )
        )
        session.finishing = finishing
        self.finishing.add(finishing)
        finishing.add_done_callback(self.finishing.discard)

    async def _finish_checkpoint(
        self,
        previous: asyncio.Task[None] | None,
        session: Session,
        fields: dict[str, Any],
        consumed: list[ReceivedMessage],
        terminal: bool,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        instance_id = session.instance_id
        try:
            await self.rows.write_owned(session, fields)
            # Only once the row is written: a crash in between then replays the messages,
            # which bring the row up to date (see InstanceRowWriter.repair).
            await self.delete_all(consumed)
        except StorageError as exc:
            if exc.pop_receipt_mismatch:
                # The message became visible again (a stall past its visibility timeout, or
                # a crash) and was received anew; that copy is dropped as a duplicate.
                log.warning(
                    "Instance %s: a consumed message was already back in its queue (%s)",
                    instance_id,
                    exc,
                )
            else:
                _log_unfinished(instance_id)
        except Exception:
            _log_unfinished(instance_id)
        if terminal:
            self.notifier.notify(instance_id)

    async def delete_all(self, messages: list[ReceivedMessage]) -> None:
        if messages:
            await asyncio.gather(*(self._delete(m) for m in messages))

    async def _delete(self, msg: ReceivedMessage) -> None:
        await self._storage.delete_message(await stored_message(msg))


def _log_unfinished(instance_id: str) -> None:
    log.exception(
        "Finishing a checkpoint of instance %s failed; the next checkpoint rewrites its "
        "status and its messages will be dropped as duplicates",
        instance_id,
    )
