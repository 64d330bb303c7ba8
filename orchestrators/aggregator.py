"""Aggregator, orchestration side: read several metric entities in one report.

Samples reach the `metric` entity through HTTP (entities/metric_api.py, signal_entity);
here an orchestration calls the entities (`call_entity`) and waits for their answers.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from entities.metric import ENTITY_NAME
from entities.metric_api import KEY_PATTERN
from orchestrators._validation import InvalidInputError, require_list, require_mapping

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def metrics_report(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    what = "Metrics report request"
    request = require_mapping(context.get_input(), what)
    keys = require_list(request, "keys", what, min_items=1)
    for key in keys:
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise InvalidInputError(f"{what}: {key!r} is not a valid metric key.")
    if len(set(keys)) != len(keys):
        raise InvalidInputError(f"{what}: metric keys must be unique.")

    calls = [context.call_entity(df.EntityId(ENTITY_NAME, key), "get") for key in keys]
    summaries: list[dict[str, Any]] = yield context.task_all(calls)

    recorded = [summary for summary in summaries if summary["count"]]
    busiest = max(recorded, key=lambda s: (s["count"], s["key"]), default=None)
    return {
        "metrics": {summary["key"]: summary for summary in summaries},
        "samples": sum(summary["count"] for summary in summaries),
        "busiest": busiest["key"] if busiest else None,
        "empty": [summary["key"] for summary in summaries if not summary["count"]],
    }
