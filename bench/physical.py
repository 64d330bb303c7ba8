"""Azurite's own round trips for the operations on a durable host's critical path.

Measured twice, with two clients:
- `minimal`: durable_host's thin REST client (`taskhub/rest_client.py`: aiohttp, SharedKey
  signing, no pipeline), the cheapest Python client there is: its figures price the floors;
- `sdk`: the Azure SDK clients (azure-storage-queue, azure-data-tables), shown beside them.
Per operation and client:
- `ms`: median of one-at-a-time calls (what a chain of dependent steps waits for);
- `cpu_ms`: client CPU per call during those calls (what the host pays for each request),
  and `user_ms`, its user-space part (the Python client's own work);
- `per_s`: calls/s with many in flight (what a wide fan-out is bound by; Azurite is one
  Node.js process, so all operation kinds share its time), and `client_cpu`, the share of a
  core the client used meanwhile (near 1.0: the Python client, not Azurite, set the pace).
The floors in `floors()` are lower bounds: the fewest round trips each workload needs for
the Durable Task Azure Storage layout, at the minimal client's measured costs.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient
from azure.storage.queue.aio import QueueServiceClient

from durable_host.taskhub.rest_client import RestClient, Service, StorageAccount
from durable_host.taskhub.rest_queues import RestQueues
from durable_host.taskhub.rest_tables import BatchOperation, BatchVerb, RestTables
from durable_host.taskhub.table_batch import submit_batch

__all__ = ["floors", "measure_round_trips"]

Op = Callable[[int], Awaitable[Any]]
OPS = (
    "queue.send",
    "queue.receive",
    "queue.update",
    "queue.delete",
    "table.batch",
    "table.upsert",
    "table.read",
    "table.query",
)
BODY = '{"$type":"DurableTask.AzureStorage.MessageData","TaskMessage":{}}' * 4


def _row(partition: str, key: str) -> dict[str, Any]:
    return {"PartitionKey": partition, "RowKey": key, "EventType": "TaskScheduled"}


async def _latency(op: Op, count: int) -> dict[str, float]:
    """Median ms per call, and client CPU ms per call (all, and in user space), one call at
    a time. On loopback the kernel's share includes delivering each request to Azurite."""
    samples = []
    before = os.times()
    for i in range(count):
        started = time.perf_counter()
        await op(i)
        samples.append(time.perf_counter() - started)
    after = os.times()
    user = (after.user - before.user) / count * 1000
    system = (after.system - before.system) / count * 1000
    return {"ms": statistics.median(samples) * 1000, "cpu_ms": user + system, "user_ms": user}


async def _throughput(op: Op, count: int, concurrency: int) -> tuple[float, float]:
    """Calls/s, and the share of one core this (client) process used meanwhile."""
    next_index = iter(range(count))

    async def worker() -> None:
        for i in next_index:
            await op(i)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return count / wall, (time.process_time() - cpu) / wall


class _Receipts:
    """Messages received and not yet settled: the updates and deletes work on these."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []


def _sdk_ops(queue: Any, table: Any, receipts: _Receipts) -> dict[str, Op]:
    async def send(_: int) -> None:
        await queue.send_message(BODY)

    async def receive(_: int) -> None:
        async for msg in queue.receive_messages(max_messages=1, visibility_timeout=300):
            receipts.items.append((msg.id, msg.pop_receipt or ""))

    async def update(i: int) -> None:
        message_id, receipt = receipts.items[i % len(receipts.items)]
        new = await queue.update_message(message_id, receipt, visibility_timeout=300)
        receipts.items[i % len(receipts.items)] = (message_id, new.pop_receipt or "")

    async def delete(_: int) -> None:
        message_id, receipt = receipts.items.pop()
        await queue.delete_message(message_id, receipt)

    async def batch(i: int) -> None:
        # A checkpoint: two history rows and the sentinel in one entity group transaction,
        # as the SDK path of the engine sends it (table_batch.py over the table client).
        partition = f"i{i}"
        ops: list[Any] = [("upsert", _row(partition, f"{k:016X}"), {}) for k in range(2)]
        ops.append(("upsert", _row(partition, "sentinel"), {"mode": UpdateMode.REPLACE}))
        await submit_batch(table, ops)

    async def upsert(i: int) -> None:
        await table.upsert_entity(_row("instances", f"{i % 50}"), mode=UpdateMode.REPLACE)

    async def read(i: int) -> None:
        await table.get_entity("instances", f"{i % 50}")

    async def query(i: int) -> None:
        # A history load: every row of one instance's partition.
        rows = table.query_entities("PartitionKey eq @p", parameters={"p": f"i{i % 50}"})
        async for _ in rows:
            pass

    return dict(zip(OPS, (send, receive, update, delete, batch, upsert, read, query), strict=True))


def _minimal_ops(client: RestClient, queue: str, table: str, receipts: _Receipts) -> dict[str, Op]:
    queues, tables = RestQueues(client), RestTables(client)

    async def send(_: int) -> None:
        await queues.send(queue, BODY, visibility_timeout=None, time_to_live=-1)

    async def receive(_: int) -> None:
        for msg in await queues.receive(queue, max_messages=1, visibility_timeout=300):
            receipts.items.append((msg.id, msg.pop_receipt or ""))

    async def update(i: int) -> None:
        message_id, receipt = receipts.items[i % len(receipts.items)]
        new = await queues.update_visibility(queue, message_id, receipt, 300)
        receipts.items[i % len(receipts.items)] = (message_id, new)

    async def delete(_: int) -> None:
        message_id, receipt = receipts.items.pop()
        await queues.delete(queue, message_id, receipt)

    async def batch(i: int) -> None:
        partition = f"i{i}"
        rows = [_row(partition, f"{k:016X}") for k in range(2)] + [_row(partition, "sentinel")]
        await tables.transact(
            table, [BatchOperation(BatchVerb.INSERT_OR_REPLACE, row) for row in rows]
        )

    async def upsert(i: int) -> None:
        await tables.write(table, _row("instances", f"{i % 50}"), merge=False)

    async def read(i: int) -> None:
        await tables.get(table, "instances", f"{i % 50}")

    async def query(i: int) -> None:
        response = await client.request(
            Service.TABLE,
            "GET",
            f"{table}()",
            query={"$filter": f"PartitionKey eq 'i{i % 50}'"},
            headers={"Accept": "application/json;odata=nometadata", "DataServiceVersion": "3.0"},
        )
        json.loads(response.body)

    return dict(zip(OPS, (send, receive, update, delete, batch, upsert, read, query), strict=True))


async def _measure(ops: dict[str, Op], receipts: _Receipts, samples: int, concurrency: int) -> Any:
    out: dict[str, dict[str, float]] = {}
    # One at a time. Sends fill the queue for the receives, which fill the receipts for the
    # updates and the deletes.
    for name in OPS:
        out[name] = await _latency(ops[name], samples)
    # Many in flight.
    for name in OPS:
        count = samples * 2
        if name in ("queue.update", "queue.delete"):
            count = len(receipts.items)
        out[name]["per_s"], out[name]["client_cpu"] = await _throughput(
            ops[name], count, concurrency
        )
    return out


async def measure_round_trips(
    connection_string: str, *, samples: int = 200, concurrency: int = 32
) -> dict[str, dict[str, dict[str, float]]]:
    """{'minimal': {'queue.send': {'ms', 'cpu_ms', 'per_s', 'client_cpu'}, ...}, 'sdk': ...}."""
    account = StorageAccount.parse(connection_string)
    if account is None:
        raise ValueError("the benchmark needs a connection string with an account key or SAS")
    tag = "phys" + uuid.uuid4().hex[:8]
    queues = QueueServiceClient.from_connection_string(connection_string)
    tables = TableServiceClient.from_connection_string(connection_string)
    client = RestClient(account)
    out: dict[str, Any] = {}
    try:
        queue = await queues.create_queue(tag)
        table = await tables.create_table(tag)
        # Warm-up, unmeasured: a fresh Azurite (Node.js compiling its hot paths) answers its
        # first few hundred requests slower, which would count against whichever client ran
        # first.
        receipts = _Receipts()
        await _measure(_minimal_ops(client, tag, tag, receipts), receipts, samples // 2, 8)
        receipts = _Receipts()
        out["minimal"] = await _measure(
            _minimal_ops(client, tag, tag, receipts), receipts, samples, concurrency
        )
        receipts = _Receipts()
        out["sdk"] = await _measure(
            _sdk_ops(queue, table, receipts), receipts, samples, concurrency
        )
    finally:
        await asyncio.gather(
            queues.delete_queue(tag), tables.delete_table(tag), return_exceptions=True
        )
        await asyncio.gather(queues.close(), tables.close(), client.close())
    return out


def floors(rt: dict[str, dict[str, float]], sizes: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The fewest round trips each workload needs, priced at the measured costs (`rt` is one
    client's figures: the minimal client's).

    Latency floors add medians of dependent calls; throughput floors add 1/throughput of
    every call the workload must make (one emulator process does them all).
    """

    def ms(op: str) -> float:
        return rt[op]["ms"]

    def cost(op: str) -> float:  # seconds of emulator time per call, many in flight
        return 1.0 / rt[op]["per_s"]

    # One hop: the orchestrator's checkpoint (history batch), then the next work item is
    # stored before it runs. The activity's result message is sent too, but nothing needs to
    # wait for it: the host can hand the result over while it is being stored.
    hop_ms = ms("table.batch") + ms("queue.send")
    # Per fan-out activity: work item and result sent and deleted; history rows 100 a batch.
    fan_each = 2 * cost("queue.send") + 2 * cost("queue.delete") + 2 / 100 * cost("table.batch")
    fan = sizes["fan_out"]
    # Per orchestration of 5 activities: start message sent/deleted, Pending and Completed
    # rows, 5 x (work item + result, sent and deleted), 6 checkpoints.
    orch = (
        11 * cost("queue.send") + 11 * cost("queue.delete") + 6 * cost("table.batch")
    ) + 2 * cost("table.upsert")
    # An HTTP start of a 1-activity orchestration: Pending row, start message sent/deleted,
    # 2 x (work item + result, sent and deleted)... as `orch` with one activity.
    start = 3 * cost("queue.send") + 3 * cost("queue.delete") + 2 * cost("table.batch")
    start += 2 * cost("table.upsert")
    # An event or an entity signal: sent by the client. Its delete and the checkpoint can
    # follow after the clock stops (one checkpoint takes many), so only the send counts.
    message = cost("queue.send")
    return {
        "sequential_ms_per_hop": {"value": hop_ms, "model": "batch + send, one after the other"},
        "fan_out_seconds": {
            "value": fan * fan_each + hop_ms / 1000,
            "model": "N x (2 send + 2 delete + 0.02 batch) at throughput, plus one hop",
        },
        "orchestrations_per_s": {
            "value": 1.0 / orch,
            "model": "11 send + 11 delete + 6 batch + 2 upsert per orchestration",
        },
        "http_starts_per_s": {
            "value": 1.0 / start,
            "model": "3 send + 3 delete + 2 batch + 2 upsert per 1-activity orchestration",
        },
        "events_per_s": {"value": 1.0 / message, "model": "1 send per event"},
        "entity_ops_per_s": {"value": 1.0 / message, "model": "1 send per signal"},
        "idle_to_first_activity_ms": {
            "value": ms("queue.send") + hop_ms,
            "model": "start message send, then batch + send",
        },
        "transactions_per_sequential_activity": {
            "value": 5.0,
            "model": "2 send + 2 delete + 1 batch",
        },
        "transactions_per_fan_out_activity": {
            "value": 4.02,
            "model": "2 send + 2 delete + 0.02 batch",
        },
    }
