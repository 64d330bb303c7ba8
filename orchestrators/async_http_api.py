"""Async HTTP API: a long-running export job whose progress a client polls.

The starter answers 202 at once with `statusQueryGetUri`; the client polls it and sees
`customStatus` advance (stage, percent) until `runtimeStatus` is Completed and `output` holds
the export's location. Durable timers between steps stand in for a slow backend batch window;
they cost nothing while waiting (the orchestration is unloaded).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.exports import EXPORT_STEPS
from orchestrators._validation import require_int, require_mapping, require_str

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def export_report(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    what = "Export request"
    request = require_mapping(context.get_input(), what)
    dataset = require_str(request, "dataset", what)
    rows = require_int(request, "rows", what, minimum=1, maximum=10_000_000)
    step_delay = require_int(request, "stepDelaySeconds", what, minimum=0, maximum=3600, default=5)

    total = len(EXPORT_STEPS)
    result: dict[str, Any] = {}
    for done, step in enumerate(EXPORT_STEPS):
        context.set_custom_status(
            {
                "stage": step,
                "completedSteps": done,
                "totalSteps": total,
                "percent": done * 100 // total,
            }
        )
        result = yield context.call_activity(
            "run_export_step", {"step": step, "dataset": dataset, "rows": rows, "previous": result}
        )
        if step_delay and done + 1 < total:
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=step_delay))
    context.set_custom_status(
        {"stage": "done", "completedSteps": total, "totalSteps": total, "percent": 100}
    )
    return {"dataset": dataset, **result}
