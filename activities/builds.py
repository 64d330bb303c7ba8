"""Activity of the monitor pattern: ask a (simulated) CI system how a build is doing.

The simulation is deterministic: a build id always needs the same number of polls, ids
containing "fail" end in failure, ids starting with "stuck-" never finish (to show expiry).
"""

from __future__ import annotations

import hashlib
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import require_int, require_mapping, require_str

bp = df.Blueprint()

FINISHED_STATES = frozenset({"succeeded", "failed"})


def polls_until_done(build_id: str) -> int:
    """How many status checks the simulated build takes: 2 to 5."""
    return 2 + hashlib.sha256(build_id.encode()).digest()[0] % 4


@bp.activity_trigger(input_name="check")
def check_build_status(check: Any) -> dict[str, Any]:
    """Status of build `buildId` at status check number `poll` (0-based)."""
    data = require_mapping(check, "Build status check")
    build_id = require_str(data, "buildId", "Build status check")
    poll = require_int(data, "poll", "Build status check", minimum=0)
    if build_id.startswith("stuck-") or poll + 1 < polls_until_done(build_id):
        state = "queued" if poll == 0 else "running"
    else:
        state = "failed" if "fail" in build_id else "succeeded"
    return {"buildId": build_id, "state": state, "poll": poll}
