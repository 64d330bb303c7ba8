"""EngineClient: start, query, raise events to, terminate, suspend, resume, rewind, restart, purge.

Every operation is a message to the instance's control queue or a read of the
Instances/History tables, as the real durable client does; nothing bypasses storage.
The operations live in one module per idea; this class puts them together.
"""

from __future__ import annotations

from durable_host.engine.client.entity_operations import EntityOperations
from durable_host.engine.client.instance_actions import InstanceActions
from durable_host.engine.client.purges import Purges
from durable_host.engine.client.queries import Queries
from durable_host.engine.client.starts import Starts
from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.time.clock import RealClock
from durable_host.taskhub.storage import TaskHubStorage

__all__ = ["EngineClient"]


class EngineClient(Starts, Queries, InstanceActions, EntityOperations, Purges):
    """Implements durable_host.engine.client.api.ManagementApi over the task hub.

    The Engine builds one with keywords (ClientBase's fields) and shares its router, clock and
    row writer with the dispatchers; `standalone` builds one for a hub no engine here runs.
    """

    @classmethod
    def standalone(cls, storage: TaskHubStorage) -> EngineClient:
        """A client on `storage`'s hub with no engine in this process (the dashboard,
        `durable-host durable`): a router of its own on the real clock, no dispatchers, and no
        app loaded, so a start or restart uses the orchestrator name it is given, as Core Tools
        does. Close its router (`client.router.close()`) when done."""
        clock = RealClock()
        return cls(
            storage=storage,
            router=MessageRouter(storage, storage.names.partition_count, clock),
            clock=clock,
            hub_name=storage.names.hub,
            resolve_orchestrator=_as_given,
            rows=InstanceRowWriter(storage, storage.names.hub),
        )


def _as_given(name: str) -> str:
    return name
