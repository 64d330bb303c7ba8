"""The 2.x app managed through the durable client's gRPC endpoint, as its own code would: an
HTTP function starts an orchestration with the 2.x client binding (DurableFunctionsClient), and
durabletask's client suspends, resumes, raises events, terminates, restarts, rewinds, purges,
and signals and reads entities on the same host."""

from __future__ import annotations

import asyncio
import faulthandler
import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from durabletask import client as dt
from durabletask.entities import EntityInstanceId

from durable_host.server.host import DurableHost, HostOptions
from tests.engine._helpers import eventually
from tests.v2.conftest import APP_DIR

S = dt.OrchestrationStatus


@pytest.fixture
async def host(azurite: str, hub_name: str) -> AsyncIterator[DurableHost]:
    environ = {
        "AzureWebJobsStorage": azurite,
        "AzureFunctionsJobHost__extensions__durableTask__hubName": hub_name,
    }
    running = DurableHost(HostOptions(app_dir=APP_DIR, port=0), environ=environ, echo=print)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def grpc(host: DurableHost) -> dt.TaskHubGrpcClient:
    assert host.grpc_address is not None
    return dt.TaskHubGrpcClient(host_address=host.grpc_address)


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A blocking client call, off the loop the host answers it on."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def has_status(grpc: dt.TaskHubGrpcClient, instance_id: str, status: Any) -> bool:
    state = await call(grpc.get_orchestration_state, instance_id)
    return state is not None and state.runtime_status is status


async def start_over_http(host: DurableHost, name: str, value: Any) -> str:
    url = f"http://127.0.0.1:{host.port}/api/start/{name}"
    async with aiohttp.ClientSession() as http, http.post(url, json=value) as response:
        assert response.status == 202, await response.text()
        return str((await response.json())["id"])


async def test_suspend_resume_and_an_event_through_the_client(
    host: DurableHost, grpc: dt.TaskHubGrpcClient
) -> None:
    instance_id = await start_over_http(host, "approval", 60)
    await call(grpc.wait_for_orchestration_start, instance_id, timeout=30)
    await call(grpc.suspend_orchestration, instance_id)
    await eventually(lambda: has_status(grpc, instance_id, S.SUSPENDED), what="suspended")
    await call(grpc.raise_orchestration_event, instance_id, "approve", data="yes")
    await call(grpc.resume_orchestration, instance_id)
    done = await call(grpc.wait_for_orchestration_completion, instance_id, timeout=30)
    assert done.runtime_status is S.COMPLETED
    assert json.loads(done.serialized_output) == {"approved": "yes"}
    assert json.loads(done.serialized_custom_status) == {"stage": "approved"}


async def test_an_async_function_may_block_on_the_client(
    host: DurableHost, grpc: dt.TaskHubGrpcClient
) -> None:
    # On the host's own loop the blocking call waits for an answer that loop cannot give, and
    # then nothing in this process runs again: the watchdog ends the run with the stacks.
    url = f"http://127.0.0.1:{host.port}/api/start-async/hello_chain"
    faulthandler.dump_traceback_later(120, exit=True)
    try:
        async with aiohttp.ClientSession() as http, http.post(url) as response:
            assert response.status == 202, await response.text()
            instance_id = (await response.json())["id"]
    finally:
        faulthandler.cancel_dump_traceback_later()
    done = await call(grpc.wait_for_orchestration_completion, instance_id, timeout=30)
    assert done.runtime_status is S.COMPLETED


async def test_an_activity_gets_a_durable_client(grpc: dt.TaskHubGrpcClient) -> None:
    instance_id = await call(grpc.schedule_new_orchestration, "who_am_i")
    done = await call(grpc.wait_for_orchestration_completion, instance_id, timeout=30)
    assert done.runtime_status is S.COMPLETED, done.failure_details
    # The activity may run before its scheduling episode's Instances row says Running (the
    # row is written after the messages, as in the provider): either way the client answered.
    assert json.loads(done.serialized_output) in ("PENDING", "RUNNING")


async def test_terminate_restart_and_purge(grpc: dt.TaskHubGrpcClient) -> None:
    instance_id = await call(grpc.schedule_new_orchestration, "approval", input=60)
    await call(grpc.wait_for_orchestration_start, instance_id, timeout=30)
    await call(grpc.terminate_orchestration, instance_id, output="enough")
    ended = await call(grpc.wait_for_orchestration_completion, instance_id, timeout=30)
    assert ended.runtime_status is S.TERMINATED
    again = await call(grpc.restart_orchestration, instance_id)
    assert again == instance_id
    await call(grpc.raise_orchestration_event, instance_id, "approve", data="second")

    await eventually(
        lambda: has_status(grpc, instance_id, S.COMPLETED), what="the restarted one completing"
    )
    purged = await call(grpc.purge_orchestration, instance_id)
    assert purged.deleted_instance_count == 1
    assert await call(grpc.get_orchestration_state, instance_id) is None


async def test_rewind_runs_the_failed_activity_again(grpc: dt.TaskHubGrpcClient) -> None:
    app_module = sys.modules["function_app"]
    app_module.FLAKY_FAILURES["rw"] = 1
    instance_id = await call(grpc.schedule_new_orchestration, "flaky_once", input="rw")
    failed = await call(grpc.wait_for_orchestration_completion, instance_id, timeout=30)
    assert failed.runtime_status is S.FAILED
    await call(grpc.rewind_orchestration, instance_id, reason="fixed")

    await eventually(
        lambda: has_status(grpc, instance_id, S.COMPLETED), what="the rewound one completing"
    )
    state = await call(grpc.get_orchestration_state, instance_id)
    assert json.loads(state.serialized_output) == "rw ok"


async def test_entities_through_the_client(grpc: dt.TaskHubGrpcClient) -> None:
    tally = EntityInstanceId("counter", "grpc")
    await call(grpc.signal_entity, tally, "add", input=6)

    async def six() -> bool:
        entity = await call(grpc.get_entity, tally)
        return entity is not None and entity.get_state(int) == 6

    await eventually(six, what="counter grpc at 6")
