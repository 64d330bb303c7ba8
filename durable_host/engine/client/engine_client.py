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

__all__ = ["EngineClient"]


class EngineClient(Starts, Queries, InstanceActions, EntityOperations, Purges):
    """Implements durable_host.engine.client.api.ManagementApi over the task hub.

    Built with keywords: storage, router, clock, hub_name, resolve_orchestrator, and
    optionally notifier (wakes waiters at this host's checkpoints) and resolve_entity.
    """
