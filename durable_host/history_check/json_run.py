"""Replay one recorded history through the 1.x SDK (the JSON protocol) against the app's code.

Nothing is written and nothing runs but the orchestrator: the walk's scheduling events
and outbound messages are only compared with the history, never sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from durable_host.engine.replay.actions import flatten_actions
from durable_host.engine.replay.context import build_context_json, event_json_text
from durable_host.engine.replay.decision import EpisodeContext, settle
from durable_host.engine.replay.walk import UnsupportedActionError
from durable_host.errors import FunctionNotFoundError
from durable_host.functions.invoker import FunctionInvoker
from durable_host.history_check.checking_walker import ActionSources, CheckingWalker, Diverged
from durable_host.history_check.ending import judge_ending
from durable_host.history_check.recorded import RecordedHistory
from durable_host.history_check.verdicts import ReplayReport, Verdict
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    OrchestrationStatus,
    OrchestratorStarted,
)


async def replay_json(
    invoker: FunctionInvoker, app_dir: Path, recorded: RecordedHistory
) -> ReplayReport:
    """`recorded` replayed against a 1.x-protocol orchestrator of `invoker`'s app."""
    events = [e for e in recorded.events if not isinstance(e, ExecutionCompleted)]
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    ctx = EpisodeContext(
        instance_id=recorded.instance_id,
        execution_id=recorded.execution_id or started.orchestration_instance.execution_id or "",
        orchestrator_name=started.name,
        now=events[-1].timestamp,
    )
    history_texts = [event_json_text(_played(event_to_json(e, with_type=False), e)) for e in events]
    context_json = build_context_json(
        recorded.instance_id, history_texts, started, is_replaying=True
    )

    def failed(error: str) -> ReplayReport:
        return ReplayReport(recorded.instance_id, started.name, Verdict.FAILED, error=error)

    try:
        with ActionSources(app_dir) as sources:
            outcome = await invoker.invoke_orchestrator(started.name, context_json)
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
    if outcome.error is not None and recorded.status is not OrchestrationStatus.Failed:
        return failed(f"The orchestrator raised: {outcome.error}")
    settled = settle(ctx, decision, outcome.state, outcome.error, actions)
    got_status = settled.completion.status if settled.completion is not None else None
    return judge_ending(recorded, decision.new_events, got_status, walker.source_by_seq)


def _played(data: dict[str, Any], event: Any) -> dict[str, Any]:
    # As the engine hands a replayed history over: every event IsPlayed but OrchestratorStarted.
    if not isinstance(event, OrchestratorStarted):
        data["IsPlayed"] = True
    return data
