"""A SIGKILL between an entity batch's replies and its state write (docs/reliability.md).

The entity answers its caller before it stores its new state (the provider's order). If the
host dies in between, the caller already has the answer and sends its next request, while the
request just answered is still hidden in the queue (the dead host had received it). Without
per-sender ordering the next request runs first, on the state before the answered one: the
caller sees `[1, 3, 6, 3]` from `add 1, add 2, add 3, get`. With it, the next request names the
answered one as its predecessor and waits for it, and the caller sees `[1, 3, 6, 6]`.

Two real host processes share the hub: B owns the entity's partition and talks to Azurite
through fault proxies, A owns the caller's partition and talks to Azurite directly. B's
history write of the entity's state 6 is held at the proxy (and B's queue traffic paused at
that moment, so B does not receive the caller's next request); once the caller has the reply
and has sent `get`, B is SIGKILLed and a fresh host takes over.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from azure.storage.queue.aio import QueueClient

from durable_host.engine.dispatch.entity_state import SchedulerState
from durable_host.taskhub.events import EventSent, ExecutionStarted, OrchestrationStatus
from durable_host.taskhub.names import partition_index
from durable_host.taskhub.queue_messages import decode_message
from tests.fault_proxy import ProxiedStorage
from tests.reliability._crash_harness import (
    LEDGER_SETTING,
    PARTITIONS,
    HubClient,
    WorkloadHost,
    wait_until,
)

pytestmark = pytest.mark.azurite

# The history write that stores the counter's state 6: ExecutionStarted.Input is the
# SchedulerState JSON, itself a string inside the table entity's JSON.
STATE_SIX = b'\\"state\\":\\"6\\"'


async def test_a_caller_never_sees_a_state_the_entity_did_not_keep(
    azurite: str, hub_name: str, tmp_path: Path
) -> None:
    env = {LEDGER_SETTING: str(tmp_path / "ledger.txt")}
    proxied = await ProxiedStorage(azurite).start()
    hosts: list[WorkloadHost] = []

    async def start_host(storage: str) -> WorkloadHost:
        host = WorkloadHost(storage=storage, hub_name=hub_name, env=env)
        hosts.append(host)
        # In a thread: host B reaches storage through the proxies, which run on this loop.
        await asyncio.to_thread(host.start)
        return host

    async with HubClient(azurite, hub_name) as hub:
        try:
            b = await start_host(proxied.connection_string)
            await wait_until(
                lambda: _owners(hub, {b.pid}), timeout=60, what="host B to own every partition"
            )
            a = await start_host(azurite)
            await wait_until(
                lambda: _owners(hub, {a.pid, b.pid}, every_host=True),
                timeout=60,
                what="hosts A and B to share the partitions",
            )
            owners = await hub.live_owner_pids()
            caller = _caller_id(owners, caller_host=a.pid, entity_host=b.pid)
            entity = f"@counter@{caller}"

            held = proxied.proxies["Table"].hold_request_containing(
                STATE_SIX, then=proxied.proxies["Queue"].pause
            )
            await hub.start("counting", caller, 3)
            # B answers `add 3` with 6, then writes its state 6: held here.
            await asyncio.wait_for(held.wait(), timeout=60)

            async def caller_sent_get() -> bool:
                loaded = await hub.storage.load_history(caller)
                sent = [e for e in loaded.events if isinstance(e, EventSent)]
                return any(json.loads(e.input or "{}").get("op") == "get" for e in sent)

            # The caller has the reply 6 (it went on to `get`), the entity's state 6 is not
            # stored: the window.
            await wait_until(caller_sent_get, timeout=60, what="the caller to send 'get'")
            b.kill()
            visible = await _visible_operations(hub, entity)
            # What makes the window bite: `get` is there to be received, `add 3` is not (the
            # dead host received it; it reappears when its visibility timeout ends).
            assert "get" in visible and "add" not in visible, visible

            await start_host(azurite)

            async def caller_done() -> OrchestrationStatus | None:
                record = await hub.storage.get_instance(caller)
                status = record.runtime_status if record else None
                return status if status and status.is_terminal else None

            await wait_until(caller_done, timeout=120, what="the caller to finish")
            record = await hub.storage.get_instance(caller)
            assert record is not None and record.runtime_status == OrchestrationStatus.Completed
            assert json.loads(record.output or "null") == [1, 3, 6, 6], _logs(hosts, tmp_path)
            stored = await hub.storage.load_history(entity)
            started = next(e for e in stored.events if isinstance(e, ExecutionStarted))
            state = SchedulerState.from_json(started.input)
            assert state.state == "6" and state.sorter.buffered_count == 0
        finally:
            for host in hosts:
                if host.alive():
                    host.kill()
            await proxied.close()


async def _owners(hub: HubClient, pids: set[int], *, every_host: bool = False) -> bool:
    owners = await hub.live_owner_pids()
    if any(owner not in pids for owner in owners):
        return False
    return not every_host or set(owners) == pids


def _caller_id(owners: list[int | None], *, caller_host: int, entity_host: int) -> str:
    """An instance id on a partition of `caller_host` whose counter is on one of
    `entity_host`, so the entity's batches run on B and the caller's episodes on A."""
    for n in range(10_000):
        caller = f"window-{n}"
        if (
            owners[partition_index(caller, PARTITIONS)] == caller_host
            and owners[partition_index(f"@counter@{caller}", PARTITIONS)] == entity_host
        ):
            return caller
    raise AssertionError(f"no instance id splits the partitions {owners} as needed")


async def _visible_operations(hub: HubClient, entity: str) -> list[str]:
    """The operations of the entity's control queue that a receiver would get now."""
    queue = hub.names.control_queue(partition_index(entity, PARTITIONS))
    async with QueueClient.from_connection_string(hub.connection_string, queue) as client:
        peeked = await client.peek_messages(max_messages=32)
    operations = []
    for message in peeked:
        data = decode_message(message.content)
        event = data.task_message.event if data.task_message else None
        if data.task_message and data.task_message.orchestration_instance.instance_id == entity:
            operations.append(json.loads(getattr(event, "input", None) or "{}").get("op"))
    return operations


def _logs(hosts: list[WorkloadHost], tmp_path: Path) -> str:
    path = tmp_path / "hosts.log"
    path.write_text(
        "\n\n".join(f"--- host pid {h.pid} ---\n{h.output}" for h in hosts), encoding="utf-8"
    )
    return f"host logs: {path}"
