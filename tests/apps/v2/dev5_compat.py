"""durabletask-azurefunctions 0.0.0.dev5 with the durabletask of today.

dev5's `DurableFunctionsWorker.__init__` skips its base class's and sets only the attributes
durabletask 1.3 read. durabletask 1.3.0 itself fails every entity batch the extension sends
(`_execute_entity_batch` reads `operation_infos`, bound only for an `EntityRequest`: an
UnboundLocalError), and 1.4 and later read attributes dev5 never sets (`_payload_store`,
`_emit_trace_spans`, `_maximum_timer_interval`, ...). An app on these published packages
therefore takes durabletask 1.12 and lets the worker initialise as its base class does; the
2.x SDK (azure-functions-durable 2.0.0b2) does not need this.
"""

from __future__ import annotations

from durabletask.azurefunctions.worker import DurableFunctionsWorker
from durabletask.worker import TaskHubGrpcWorker


def _init(self: DurableFunctionsWorker) -> None:
    # The worker never connects anywhere: the trigger hands it each request.
    TaskHubGrpcWorker.__init__(self, host_address="in-process")


def install() -> None:
    # unused-ignore: the lint venv (Python < 3.13) lacks durabletask-azurefunctions, so the
    # class is Any there.
    DurableFunctionsWorker.__init__ = _init  # type: ignore[method-assign, unused-ignore]
