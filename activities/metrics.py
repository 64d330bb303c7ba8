"""Activity of the eternal orchestration: persist one rollup of a metric window."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

bp = df.Blueprint()


@bp.activity_trigger(input_name="window")
def store_rollup(window: dict[str, Any]) -> dict[str, Any]:
    """Turn one closed metric window into the record a time-series store would keep."""
    summary = window["summary"]
    return {
        "key": window["key"],
        "cycle": window["cycle"],
        "closedAt": window["closedAt"],
        "count": summary["count"],
        "mean": summary["mean"],
        "min": summary["min"],
        "max": summary["max"],
    }
