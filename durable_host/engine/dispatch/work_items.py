"""Running one work item of an orchestration instance: the episode, then its checkpoint.

The dispatcher (orchestrations.py) decides which messages form a work item; this runs it:
builds the new events, runs the orchestrator (or skips it when it cannot change), handles
termination, suspension, rewind and continue-as-new, and hands the episode's effects to the
work item's Checkpoint (checkpoint.py), which writes them in the provider's order.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.checkpoint import Checkpoint
from durable_host.engine.dispatch.effects import EpisodeEffects, HistoryWrite
from durable_host.engine.dispatch.episode import EpisodeRunner, close_episode
from durable_host.engine.dispatch.executors import OrchestrationExecutor
from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.sessions import Session, find_started, suspended_after
from durable_host.engine.replay.decision import Completion, Decision, Outbound
from durable_host.engine.time.clock import Clock
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionTerminated,
    HistoryEvent,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorStarted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskFailed,
    TaskScheduled,
)
from durable_host.taskhub.storage import TaskHubStorage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer, EpisodeTrace

log = logging.getLogger("durable_host.orchestrations")


class WorkItemRunner:
    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        executor_for: Callable[[str], OrchestrationExecutor],
        clock: Clock,
        rows: InstanceRowWriter,
        known_activity: Callable[[str], bool] | None,
        tracer: DurableTracer | None = None,
    ) -> None:
        self._storage = storage
        self._episodes = EpisodeRunner(executor_for, known_activity, storage.names.hub)
        self._clock = clock
        self.rows = rows
        # When host.json turns tracing on; None costs one test per episode.
        self.tracer = tracer

    @property
    def episodes_run(self) -> int:
        return self._episodes.episodes_run

    @property
    def episodes_skipped(self) -> int:
        """Episodes decided without running the orchestrator (see replay_while_blocked)."""
        return self._episodes.episodes_skipped

    async def repair_row(self, session: Session, now: datetime) -> None:
        """Bring the row up to the history, with the custom status its last episode set."""
        await self.rows.repair(
            session, now, lambda: self._episodes.last_custom_status(session, now)
        )

    async def run(
        self,
        session: Session,
        events: list[HistoryEvent],
        restart: ExecutionStarted | None,
        checkpoint: Checkpoint,
    ) -> None:
        """Run the work item and commit its checkpoint (or, with no execution to run, only
        consume its messages)."""
        if restart is not None:
            session.restart()
        now = self._clock.now()
        new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now)]
        for event in events:
            if isinstance(event, ExecutionStarted):
                session.begin_execution(event.orchestration_instance.execution_id)
            new_events.append(event)
        # Before finding the start: tracing stores its span on the ExecutionStarted it replaces.
        traced = (
            self.tracer.episode(session.instance_id, session.history, new_events, now)
            if self.tracer is not None
            else None
        )
        started = find_started(session.history + new_events)
        if started is None:
            log.warning("Instance %s has no ExecutionStarted; dropping", session.instance_id)
            await checkpoint.drop()
            return
        rewound = next((e for e in events if isinstance(e, ExecutionRewound)), None)
        if rewound is not None:
            await self._rewind(session, rewound, now, checkpoint)
            return
        terminated = next((e for e in events if isinstance(e, ExecutionTerminated)), None)
        await self._play(session, started, new_events, terminated, now, traced, checkpoint)

    async def _play(
        self,
        session: Session,
        started: ExecutionStarted,
        new_events: list[HistoryEvent],
        terminated: ExecutionTerminated | None,
        now: datetime,
        traced: EpisodeTrace | None,
        checkpoint: Checkpoint,
    ) -> None:
        """An episode of the current execution: terminated, suspended, or run."""
        suspended_now = suspended_after(session.history + new_events)
        outbound: list[Outbound] = []
        completion: Completion | None = None
        custom_status: str | None = None
        if terminated is not None:
            completion = Completion(OrchestrationStatus.Terminated, result=terminated.input)
        elif not suspended_now:
            decision = await self._episodes.decide(session, started, new_events, now)
            if traced is not None:
                traced.stamp(decision.new_events, decision.outbound, now)
            completion = decision.completion
            custom_status = decision.custom_status
            outbound = decision.outbound
            new_events.extend(decision.new_events)
            if completion is not None and completion.status == OrchestrationStatus.ContinuedAsNew:
                if traced is not None:
                    traced.finish(session.history, new_events, None, now)
                await self._continue_as_new(session, started, decision, now, traced, checkpoint)
                return
        episode = session.episode_count() + 1
        close_episode(started, completion, new_events, outbound, now)
        if traced is not None:
            traced.finish(session.history, new_events, completion, now)
        suspended = suspended_now and completion is None
        fields = self.rows.episode_fields(
            session, started, new_events, completion, custom_status, now, suspended=suspended
        )
        effects = EpisodeEffects(
            outbound=outbound,
            events=new_events,
            history_write=HistoryWrite.APPEND,
            episode=episode,
            row_fields=fields,
            terminal=completion is not None,
        )
        await checkpoint.commit(session, effects)

    async def _continue_as_new(
        self,
        session: Session,
        started: ExecutionStarted,
        decision: Decision,
        now: datetime,
        traced: EpisodeTrace | None,
        checkpoint: Checkpoint,
    ) -> None:
        """Send the old generation's messages, then run the next generation in this work item
        (as DTFx does); only the newest generation's history is written, from row 0."""
        while True:
            sender = OrchestrationInstance(session.instance_id, session.execution_id)
            await checkpoint.send(decision.outbound, sender, session.episode_count() + 1)
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
            session.begin_generation(new_execution)
            new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now), started, *carried]
            decision = await self._episodes.decide(session, started, new_events, now)
            if traced is not None:
                traced.stamp(decision.new_events, decision.outbound, now)
            new_events.extend(decision.new_events)
            completion = decision.completion
            if completion is None or completion.status != OrchestrationStatus.ContinuedAsNew:
                break
            await asyncio.sleep(0)
        outbound = list(decision.outbound)
        close_episode(started, completion, new_events, outbound, now)
        if traced is not None:
            traced.finish([], new_events, completion, now)
        await checkpoint.commit(
            session,
            self._last_write(
                session, started, decision, new_events, outbound, now, HistoryWrite.NEW_GENERATION
            ),
        )

    async def _rewind(
        self, session: Session, rewound: ExecutionRewound, now: datetime, checkpoint: Checkpoint
    ) -> None:
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
        session.rewind(kept)
        new_events: list[HistoryEvent] = [OrchestratorStarted(timestamp=now), rewound]
        decision = await self._episodes.decide(session, started, new_events, now)
        if traced is not None:
            traced.stamp(decision.new_events, decision.outbound, now)
        new_events.extend(decision.new_events)
        outbound = list(decision.outbound)
        close_episode(started, decision.completion, new_events, outbound, now)
        if traced is not None:
            traced.finish(kept, new_events, decision.completion, now)
        # The rewritten history replaces the old rows from index 0.
        await checkpoint.commit(
            session,
            self._last_write(
                session, started, decision, kept + new_events, outbound, now, HistoryWrite.REWRITE
            ),
        )

    def _last_write(
        self,
        session: Session,
        started: ExecutionStarted,
        decision: Decision,
        events: list[HistoryEvent],
        outbound: list[Outbound],
        now: datetime,
        history_write: HistoryWrite,
    ) -> EpisodeEffects:
        """The effects of a work item that rewrites the history from row 0 (a continue-as-new's
        last generation, a rewind): never suspended, one episode more than `session` has."""
        completion = decision.completion
        return EpisodeEffects(
            outbound=outbound,
            events=events,
            history_write=history_write,
            episode=session.episode_count() + 1,
            row_fields=self.rows.episode_fields(
                session, started, events, completion, decision.custom_status, now, suspended=False
            ),
            terminal=completion is not None,
        )
