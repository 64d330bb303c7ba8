"""The Durable Task protobuf protocol: our history events and work items as durabletask's
messages (`orchestrator_service.proto`), both ways. Pure: no I/O, no engine.

The generated messages come from the `durabletask` package (PyPI), imported only when a
conversion runs (`messages()`), so durable_host imports cleanly without it.
Modules: messages (the generated module, wrappers), failures, history (events), requests
(OrchestratorRequest, ActivityRequest, base64), actions (OrchestratorResponse read),
entities (EntityBatchRequest/Result).
"""

from __future__ import annotations

from durable_host.protobuf.messages import messages

__all__ = ["messages"]
