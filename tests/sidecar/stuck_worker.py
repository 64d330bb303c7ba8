"""A durabletask worker in its own process whose activity never returns (killed by the test).

Usage: python stuck_worker.py <sidecar address> <marker file>"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from durabletask import task
from durabletask.worker import TaskHubGrpcWorker

ADDRESS, MARKER = sys.argv[1], Path(sys.argv[2])
forever = threading.Event()


def slow(ctx: task.ActivityContext, value: str) -> str:
    MARKER.write_text(value)
    forever.wait()
    return "never"


def one_step(ctx: task.OrchestrationContext, value: str) -> Any:
    return (yield ctx.call_activity(slow, input=value))


worker = TaskHubGrpcWorker(host_address=ADDRESS)
worker.add_orchestrator(one_step)
worker.add_activity(slow)
worker.start()
forever.wait()
