"""The entity client calls through durabletask's client: signal, get, query, clean storage
(tests/apps/entities' counter, run by the engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from durabletask.client import AsyncTaskHubGrpcClient, EntityQuery
from durabletask.entities import EntityInstanceId
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as pb_grpc

from durable_host.grpc_api.listener import GrpcListener
from tests.engine._helpers import ENTITY_APP_DIR, eventually, running_engine
from tests.grpc_api.conftest import async_client, serving


@pytest.fixture
async def served(azurite: str, hub_name: str) -> AsyncIterator[GrpcListener]:
    async with running_engine(azurite, hub_name, ENTITY_APP_DIR) as engine, serving(engine) as at:
        yield at


@pytest.fixture
async def eclient(served: GrpcListener) -> AsyncIterator[AsyncTaskHubGrpcClient]:
    async with async_client(served) as client:
        yield client


async def _state(client: AsyncTaskHubGrpcClient, entity: EntityInstanceId) -> object:
    metadata = await client.get_entity(entity, include_state=True)
    return None if metadata is None else metadata.get_typed_state()


async def test_signal_get_query_and_clean(eclient: AsyncTaskHubGrpcClient) -> None:
    one, two = EntityInstanceId("counter", "one"), EntityInstanceId("counter", "two")
    assert await eclient.get_entity(one) is None
    for entity in (one, two):
        await eclient.signal_entity(entity, "reset")

    async def both_exist() -> bool:
        return await _state(eclient, one) == 0 and await _state(eclient, two) == 0

    await eventually(both_exist, what="both counters to exist")

    # One entity per page: the client follows the continuation tokens.
    listed = await eclient.get_all_entities(
        EntityQuery(instance_id_starts_with="@counter@", include_state=True, page_size=1)
    )
    assert sorted(str(e.id) for e in listed) == ["@counter@one", "@counter@two"]
    assert [e.get_typed_state() for e in listed] == [0, 0]

    # A deleted entity leaves an empty row: clean storage removes it, the other stays.
    await eclient.signal_entity(one, "delete")

    async def deleted() -> bool:
        return await eclient.get_entity(one) is None

    await eventually(deleted, what="counter one to be deleted")
    transient = await eclient.get_all_entities(EntityQuery(include_transient=True))
    assert sorted(str(e.id) for e in transient) == ["@counter@one", "@counter@two"]
    cleaned = await eclient.clean_entity_storage(
        remove_empty_entities=True, release_orphaned_locks=True
    )
    assert cleaned.empty_entities_removed == 1
    assert await _state(eclient, two) == 0


async def test_a_signal_to_a_non_entity_id_is_invalid_argument(served: GrpcListener) -> None:
    # durabletask's EntityInstanceId refuses a malformed id itself: the raw call is checked.
    async with grpc.aio.insecure_channel(served.address.removeprefix("http://")) as channel:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SignalEntity(
                pb.SignalEntityRequest(instanceId="not-an-entity", name="reset")
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "@name@key" in (refused.value.details() or "")
