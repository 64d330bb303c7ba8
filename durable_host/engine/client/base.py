"""ClientBase: what every part of EngineClient shares, and the checks before an operation.

EngineClient (engine_client.py) is assembled from one class per idea (starts, queries,
instance actions, entity operations, purges), each a subclass of this one, so they share
the task hub's storage, the router, the clock and the Instances row writer.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.notifier import InstanceNotifier
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.time.clock import Clock
from durable_host.errors import InstanceFinishedError, InstanceNotFoundError
from durable_host.taskhub.events import EventRaised, OrchestrationInstance
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.storage import TaskHubStorage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer


def _keeps_none(instance_id: str) -> None:
    """A client without dispatchers (`durable-host durable`) keeps no sessions."""


@dataclass(kw_only=True, eq=False, repr=False)
class ClientBase:
    storage: TaskHubStorage
    router: MessageRouter
    clock: Clock
    hub_name: str
    resolve_orchestrator: Callable[[str], str]
    # The Instances row writer, shared with the engine's work items: a start's first episode
    # merges into the Pending row the client wrote.
    rows: InstanceRowWriter
    notifier: InstanceNotifier | None = None
    resolve_entity: Callable[[str], str] | None = None
    # Under a virtual clock: time jumps to the next timer while we wait.
    time_skipping: Callable[[], AbstractContextManager[None]] = nullcontext
    tracer: DurableTracer | None = None  # when tracing is on
    # A purged instance's session kept in memory between episodes is dropped, so an instance
    # started again under that id (a rewound parent's sub-orchestration) is not checkpointed
    # over the purged history's ETag (a failed first write whose messages were already sent:
    # its activities ran twice).
    forget_session: Callable[[str], None] = _keeps_none
    # A start under an id made here has no history: the dispatcher's first episode of it
    # reads none (SessionCache.expect_new).
    expect_new: Callable[[str], None] = _keeps_none

    async def _existing(self, instance_id: str) -> InstanceRecord:
        record = await self.storage.get_instance(instance_id)
        if record is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
        return record

    async def _running(self, instance_id: str, what: str) -> InstanceRecord:
        record = await self._existing(instance_id)
        if record.runtime_status.is_terminal:
            raise InstanceFinishedError(
                f"Cannot {what} instance '{instance_id}': it is already "
                f"{record.runtime_status.name}."
            )
        return record

    async def _send_event(
        self, instance_id: str, event: EventRaised, *, visible_at: datetime | None = None
    ) -> None:
        with (
            self.tracer.raising_event(instance_id, event) if self.tracer else nullcontext(event)
        ) as event:
            await self.router.send_to_instance(
                OrchestrationInstance(instance_id, None), event, visible_at=visible_at
            )
