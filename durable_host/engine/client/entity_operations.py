"""A client's view of entities: signal one, read its state, list them."""

from __future__ import annotations

import uuid
from datetime import datetime

from durable_host.engine.client.api import EntityPage, EntityState, EntityStatus
from durable_host.engine.client.base import ClientBase
from durable_host.engine.dispatch.entity_state import (
    OPERATION_EVENT,
    SchedulerState,
    entity_instance_id,
    request_json,
    scheduled_operation_name,
    split_entity_id,
)
from durable_host.taskhub.events import EventRaised
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.odata import instances_filter


class EntityOperations(ClientBase):
    async def signal_entity(
        self,
        name: str,
        key: str,
        operation: str,
        input_json: str | None = None,
        *,
        scheduled_time: datetime | None = None,
    ) -> None:
        """`input_json` is the JSON text of the operation input, as the extension stores it
        (for the SDK's `get_input`, a JSON string holding JSON: `json.dumps(json.dumps(v))`)."""
        instance_id = entity_instance_id(name, key)
        if self.resolve_entity is not None:
            self.resolve_entity(name)
        now = self.clock.now()
        payload = request_json(
            request_id=str(uuid.uuid4()),
            operation=operation,
            input_json=input_json,
            signal=True,
            now=now,
        )
        event_name = scheduled_operation_name(scheduled_time) if scheduled_time else OPERATION_EVENT
        await self._send_event(
            instance_id,
            EventRaised(timestamp=now, name=event_name, input=payload),
            visible_at=scheduled_time,
        )

    async def read_entity(self, name: str, key: str) -> EntityState | None:
        record = await self.storage.get_instance(entity_instance_id(name, key))
        if record is None:
            return None
        state = SchedulerState.from_json(record.input)
        if not state.exists:
            return None
        return EntityState(state=state.state, last_operation_time=record.last_updated_time)

    async def list_entities(
        self,
        name: str | None = None,
        *,
        fetch_state: bool = False,
        top: int = 100,
        continuation_token: str | None = None,
        last_operation_from: datetime | None = None,
        last_operation_to: datetime | None = None,
        instance_id_prefix: str | None = None,
        include_empty: bool = False,
    ) -> EntityPage:
        # Entity ids are '@name@key' (the name in lower case): all of them start with '@'.
        prefix = f"@{name.lower()}@" if name else "@"
        if instance_id_prefix is not None and instance_id_prefix.startswith(prefix):
            prefix = instance_id_prefix
        filter_text = instances_filter(
            instance_id_prefix=prefix,
            updated_from=last_operation_from,
            updated_to=last_operation_to,
        )
        records, token = await self.storage.query_instances(
            filter_text, top=top, continuation_token=continuation_token
        )
        entities = [_listed(r, fetch_state, include_empty) for r in records]
        return EntityPage(entities=[e for e in entities if e is not None], continuation_token=token)


def _listed(record: InstanceRecord, fetch_state: bool, include_empty: bool) -> EntityStatus | None:
    state = SchedulerState.from_json(record.input)
    if not state.exists and not include_empty:
        return None
    entity_name, key = split_entity_id(record.instance_id)
    updated = record.last_updated_time or record.created_time
    assert updated is not None
    return EntityStatus(
        name=entity_name,
        key=key,
        last_operation_time=updated,
        state=state.state if fetch_state else None,
        exists=state.exists,
    )
