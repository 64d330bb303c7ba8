"""The determinism check of DTFx's TaskOrchestrationContext, with its messages.

Each scheduling event stored in the history must be met, at its sequence id, by an action
of the same kind and name that the orchestrator schedules now.
"""

from __future__ import annotations

from durable_host.engine.replay.decision import EpisodeContext
from durable_host.errors import NonDeterminismError
from durable_host.taskhub.events import (
    EventSent,
    HistoryEvent,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
)

__all__ = ["SCHEDULING_EVENTS", "check_same_task", "unscheduled_task_error"]

SCHEDULING_EVENTS = (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated, EventSent)

_KIND_TEXT = {
    TaskScheduled: "an activity task",
    TimerCreated: "a durable timer",
    SubOrchestrationInstanceCreated: "a sub-orchestration",
    EventSent: "an event or entity operation",
}


def unscheduled_task_error(ctx: EpisodeContext, event: HistoryEvent) -> NonDeterminismError:
    """The history holds a task at an id the orchestrator has not (yet) scheduled now."""
    kind_text = _KIND_TEXT.get(type(event), "a task")
    name = getattr(event, "name", None)
    return NonDeterminismError(
        f"A previous execution of orchestration '{ctx.orchestrator_name}' "
        f"(instance '{ctx.instance_id}') scheduled {kind_text} with sequence ID "
        f"{event.event_id}{_name_text(name)}, but the current replay execution hasn't "
        "(yet?) scheduled this task. Was a change made to the orchestrator code after "
        "this instance had already started running?"
    )


def check_same_task(
    ctx: EpisodeContext,
    seq: int,
    expected: tuple[type[HistoryEvent], str | None],
    stored: HistoryEvent,
) -> None:
    """Raise NonDeterminismError unless `stored` is the kind and name scheduled now."""
    kind, name = expected
    stored_name = getattr(stored, "name", None)
    same_kind = isinstance(stored, kind)
    same_name = name is None or (stored_name or "").lower() == name.lower()
    if same_kind and same_name:
        return
    raise NonDeterminismError(
        f"Non-deterministic workflow detected in orchestration "
        f"'{ctx.orchestrator_name}' (instance '{ctx.instance_id}'): "
        f"history has {_KIND_TEXT.get(type(stored), 'a task')}{_name_text(stored_name)} "
        f"with sequence ID {seq}, but the orchestrator code now schedules "
        f"{_KIND_TEXT.get(kind, 'a task')}{_name_text(name)} at that point. "
        "Orchestrator code must be deterministic; deploy code changes under a new "
        "orchestrator name or wait for running instances to finish."
    )


def _name_text(name: str | None) -> str:
    return f" and name '{name}'" if name else ""
