"""The sequential hop of bench/app in the 2.x style (durabletask-azurefunctions; the protobuf
protocol), for bench/protocol_ab.py. Python 3.13 (the 2.x SDK's floor)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from durabletask import task
from durabletask.azurefunctions.decorators.durable_app import DFApp

# The test app's fix for the published dev5 package on today's durabletask.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "apps" / "v2"))
import dev5_compat

dev5_compat.install()
app = DFApp()


@app.activity_trigger(input_name="value")
def noop(value: Any) -> Any:
    return value


@app.orchestration_trigger(context_name="context")
def sequence(ctx: task.OrchestrationContext, hops: int) -> Any:
    for i in range(hops):
        yield ctx.call_activity("noop", input=i)
    return hops
