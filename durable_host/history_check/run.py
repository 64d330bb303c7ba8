"""Replay one recorded history through the real SDK against the app's current code.

Nothing is written and nothing runs but the orchestrator: the walk's scheduling events
and outbound messages are only compared with the history, never sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from durable_host.engine.replay.actions import flatten_actions
from durable_host.engine.replay.context import build_context_json, event_json_text
from durable_host.engine.replay.decision import Decision, EpisodeContext, settle
from durable_host.engine.replay.walk import UnsupportedActionError
from durable_host.errors import FunctionNotFoundError
from durable_host.functions.function_index import DurableProtocol, FunctionIndex
from durable_host.functions.invoker import FunctionInvoker
from durable_host.functions.loader import load_app
from durable_host.functions.outcomes import OrchestratorOutcome
from durable_host.history_check.checking_walker import (
    ActionSources,
    CheckingWalker,
    Diverged,
    describe_event,
)
from durable_host.history_check.recorded import RecordedHistory
from durable_host.history_check.verdicts import Divergence, ReplayReport, Verdict
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    OrchestrationStatus,
    OrchestratorStarted,
)

JSON_PROTOCOL = DurableProtocol.JSON

# Terminated and canceled instances stopped where the host stopped them, not where the code
# did; a failed one may have failed in the host (an unknown activity), not in the code.
_NOT_COMPARED = (
    OrchestrationStatus.Terminated,
    OrchestrationStatus.Canceled,
    OrchestrationStatus.Failed,
)


class HistoryReplayer:
    """Loads the app in `app_dir` (as the host does) and replays histories against it;
    `index`: an app already loaded (a running host's), replayed with its modules as they are."""

    def __init__(self, app_dir: Path | str = ".", *, index: FunctionIndex | None = None) -> None:
        self.app_dir = Path(app_dir).resolve()
        loaded = index if index is not None else load_app(self.app_dir)
        self.invoker = FunctionInvoker(loaded, max_workers=1)

    def close(self) -> None:
        self.invoker.close()

    def __enter__(self) -> HistoryReplayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def replay(self, recorded: RecordedHistory) -> ReplayReport:
        events = [e for e in recorded.events if not isinstance(e, ExecutionCompleted)]
        started = next(e for e in events if isinstance(e, ExecutionStarted))
        ctx = EpisodeContext(
            instance_id=recorded.instance_id,
            execution_id=recorded.execution_id or started.orchestration_instance.execution_id or "",
            orchestrator_name=started.name,
            now=events[-1].timestamp,
        )
        history_texts = [
            event_json_text(_played(event_to_json(e, with_type=False), e)) for e in events
        ]
        context_json = build_context_json(
            recorded.instance_id, history_texts, started, is_replaying=True
        )

        def failed(error: str) -> ReplayReport:
            return ReplayReport(recorded.instance_id, started.name, Verdict.FAILED, error=error)

        try:
            if self.invoker.index.get_orchestrator(started.name).protocol is not JSON_PROTOCOL:
                return failed(
                    f"'{started.name}' runs on the Durable Task protobuf protocol (the 2.x "
                    "SDK); the replayer replays orchestrators of the 1.x protocol only "
                    "(azure-functions-durable 1.x)."
                )
            with ActionSources(self.app_dir) as sources:
                outcome = await self.invoker.invoke_orchestrator(started.name, context_json)
        except FunctionNotFoundError as exc:
            return failed(str(exc))
        if outcome.state is None:
            return failed(outcome.error or "the SDK returned no orchestrator state")
        actions = flatten_actions(outcome.state.get("actions"))
        walker = CheckingWalker(ctx, events, actions, sources.lines)
        try:
            decision = walker.run()
        except Diverged as diverged:
            if diverged.code_stopped and outcome.error is not None:
                # It stopped scheduling because it raised: the exception is the news.
                return failed(f"The orchestrator raised: {outcome.error}")
            return ReplayReport(
                recorded.instance_id,
                started.name,
                Verdict.NON_DETERMINISTIC,
                divergence=diverged.divergence,
            )
        except (UnsupportedActionError, KeyError, ValueError) as exc:
            return failed(f"{type(exc).__name__}: {exc}")
        return _judge_ending(recorded, ctx, walker, decision, outcome, actions)


def _played(data: dict[str, Any], event: Any) -> dict[str, Any]:
    # As the engine hands a replayed history over: every event IsPlayed but OrchestratorStarted.
    if not isinstance(event, OrchestratorStarted):
        data["IsPlayed"] = True
    return data


def _judge_ending(
    recorded: RecordedHistory,
    ctx: EpisodeContext,
    walker: CheckingWalker,
    decision: Decision,
    outcome: OrchestratorOutcome,
    actions: list[dict[str, Any]],
) -> ReplayReport:
    """Every recorded task matched; now compare how the history ended with what the code does."""
    name = ctx.orchestrator_name
    recorded_end = recorded.completion
    status = recorded.status
    if outcome.error is not None and status is not OrchestrationStatus.Failed:
        error = f"The orchestrator raised: {outcome.error}"
        return ReplayReport(recorded.instance_id, name, Verdict.FAILED, error=error)
    if recorded_end is None or status in _NOT_COMPARED:
        # In flight (the code may go on past the history), or stopped by a terminate, or
        # failed: the recorded tasks matched, which is all a resumed instance relies on.
        return ReplayReport(recorded.instance_id, name, Verdict.OK)
    end_index = recorded.events.index(recorded_end)
    expected = f"the orchestration to end as {status.name}"
    if decision.new_events:
        first = decision.new_events[0]
        return ReplayReport(
            recorded.instance_id,
            name,
            Verdict.NON_DETERMINISTIC,
            divergence=Divergence(
                expected=expected,
                got=f"a new task, {describe_event(first)}",
                event_index=end_index,
                sequence_id=first.event_id,
                source=walker.source_by_seq.get(first.event_id),
            ),
        )
    settled = settle(ctx, decision, outcome.state, outcome.error, actions)
    got_status = settled.completion.status if settled.completion is not None else None
    if got_status is not status:
        got = "it still waits for a task" if got_status is None else f"it ends as {got_status.name}"
        return ReplayReport(
            recorded.instance_id,
            name,
            Verdict.NON_DETERMINISTIC,
            divergence=Divergence(expected, got, end_index, None, None),
        )
    return ReplayReport(recorded.instance_id, name, Verdict.OK)
