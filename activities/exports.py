"""Activity of the async HTTP API pattern: one step of a simulated data export."""

from __future__ import annotations

import hashlib
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import InvalidInputError, require_int, require_mapping, require_str

bp = df.Blueprint()

EXPORT_STEPS = ("extract", "transform", "publish")
# Rows dropped by the transform step as invalid: one in every this many (simulated data quality).
REJECT_EVERY = 97


@bp.activity_trigger(input_name="request")
def run_export_step(request: Any) -> dict[str, Any]:
    """Run one export step; each step's result is the next step's `previous`."""
    data = require_mapping(request, "Export step")
    step = require_str(data, "step", "Export step")
    dataset = require_str(data, "dataset", "Export step")
    if step == "extract":
        rows = require_int(data, "rows", "Export step", minimum=1)
        return {"step": step, "rows": rows, "batches": (rows + 499) // 500}
    previous = require_mapping(data.get("previous"), f"Export step '{step}': field 'previous'")
    if step == "transform":
        rows = int(previous["rows"])
        valid = rows - rows // REJECT_EVERY
        return {"step": step, "rows": valid, "rejectedRows": rows - valid}
    if step == "publish":
        rows = int(previous["rows"])
        checksum = hashlib.sha256(f"{dataset}:{rows}".encode()).hexdigest()[:16]
        return {
            "step": step,
            "rows": rows,
            "checksum": checksum,
            "location": f"exports/{dataset}/{checksum}.csv",
        }
    known = ", ".join(EXPORT_STEPS)
    raise InvalidInputError(f"Export step '{step}' is unknown; steps are {known}.")
