"""Purging instances: the history rows, their large payloads and the Instances row."""

from __future__ import annotations

from durable_host.engine.client.api import InstanceQuery
from durable_host.engine.client.base import ClientBase
from durable_host.engine.client.queries import query_filter


class Purges(ClientBase):
    async def purge(self, instance_id: str) -> int:
        record = await self.storage.get_instance(instance_id)
        if record is None:
            return 0
        await self.storage.delete_history(instance_id)
        await self.storage.delete_instance(instance_id)
        self.forget_session(instance_id)
        self.rows.known.forget(instance_id)
        if self.notifier is not None:
            self.notifier.notify(instance_id)  # a waiter reads it gone now, not at its next poll
        return 1

    async def purge_by(self, query: InstanceQuery) -> int:
        deleted = 0
        token: str | None = None
        while True:
            records, token = await self.storage.query_instances(
                query_filter(query), top=100, continuation_token=token
            )
            for record in records:
                deleted += await self.purge(record.instance_id)
            if not token:
                return deleted
