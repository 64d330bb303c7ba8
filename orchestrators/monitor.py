"""Monitor: poll a CI build on a durable timer until it finishes or the watch expires.

Interval and expiry come from the input. Unlike a cron job, the monitor stops itself and
each instance watches one build; it holds no thread while waiting between polls.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.builds import FINISHED_STATES
from orchestrators._validation import InvalidInputError, require_int, require_mapping, require_str

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def monitor_build(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    what = "Build monitor request"
    request = require_mapping(context.get_input(), what)
    build_id = require_str(request, "buildId", what)
    interval = require_int(request, "pollIntervalSeconds", what, minimum=1, maximum=86400)
    expiry_seconds = require_int(request, "expirySeconds", what, minimum=1, maximum=30 * 86400)
    if interval > expiry_seconds:
        raise InvalidInputError(
            f"{what}: pollIntervalSeconds ({interval}) must not exceed expirySeconds "
            f"({expiry_seconds}), or the build would be checked only once."
        )

    # current_utc_datetime is replay-safe: it is the time of the episode, not of the replay.
    expires_at = context.current_utc_datetime + timedelta(seconds=expiry_seconds)
    poll = 0
    while True:
        status = yield context.call_activity(
            "check_build_status", {"buildId": build_id, "poll": poll}
        )
        poll += 1
        if status["state"] in FINISHED_STATES:
            return {"buildId": build_id, "state": status["state"], "polls": poll}
        next_check = context.current_utc_datetime + timedelta(seconds=interval)
        if next_check > expires_at:
            return {
                "buildId": build_id,
                "state": "expired",
                "lastSeenState": status["state"],
                "polls": poll,
            }
        context.set_custom_status(
            {"lastSeenState": status["state"], "polls": poll, "nextCheck": next_check.isoformat()}
        )
        yield context.create_timer(next_check)
