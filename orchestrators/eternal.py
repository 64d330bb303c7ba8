"""Eternal orchestration: roll a metric's window up on a fixed period, forever.

Each cycle closes the `metric` entity's window (the `reset` operation returns it), stores
the rollup, sleeps on a durable timer and restarts itself with `continue_as_new`, so the
history never grows past one cycle. `maxCycles` (optional) stops it, e.g. in tests.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from entities.metric import ENTITY_NAME
from entities.metric_api import KEY_PATTERN
from orchestrators._validation import InvalidInputError, require_int, require_mapping, require_str

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def metrics_rollup(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    what = "Metrics rollup"
    state = require_mapping(context.get_input(), what)
    key = require_str(state, "key", what)
    if not KEY_PATTERN.match(key):
        raise InvalidInputError(f"{what}: {key!r} is not a valid metric key.")
    interval = require_int(state, "intervalSeconds", what, minimum=1, maximum=7 * 86400)
    cycle = require_int(state, "cycle", what, minimum=0, default=0)
    max_cycles = state.get("maxCycles")
    if max_cycles is not None:
        max_cycles = require_int(state, "maxCycles", what, minimum=1)

    window = yield context.call_entity(df.EntityId(ENTITY_NAME, key), "reset")
    rollup = yield context.call_activity(
        "store_rollup",
        {
            "key": key,
            "cycle": cycle,
            "closedAt": context.current_utc_datetime.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "summary": window,
        },
    )
    if max_cycles is not None and cycle + 1 >= max_cycles:
        return {"key": key, "cycles": cycle + 1, "lastRollup": rollup}

    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=interval))
    context.continue_as_new(
        {
            "key": key,
            "intervalSeconds": interval,
            "cycle": cycle + 1,
            "maxCycles": max_cycles,
            "lastRollup": rollup,
        }
    )
    return None
