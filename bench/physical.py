"""Azurite's own round trips for the operations on a durable host's critical path.

Two figures per operation, with the same async SDK clients durable_host uses:
- latency: median of one-at-a-time calls (what a chain of dependent steps waits for);
- throughput: calls/s with many in flight (what a wide fan-out is bound by; Azurite is one
  Node.js process, so all operation kinds share its time).
The floors in `floors()` are lower bounds: the fewest round trips each workload needs for
the Durable Task Azure Storage layout, at these measured costs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient
from azure.storage.queue.aio import QueueServiceClient

from durable_host.taskhub.table_batch import submit_batch

__all__ = ["floors", "measure_round_trips"]

Op = Callable[[int], Awaitable[Any]]


async def _latency(op: Op, count: int) -> float:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await op(i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def _throughput(op: Op, count: int, concurrency: int) -> tuple[float, float]:
    """Calls/s, and the share of one core this (client) process used meanwhile: near 1.0
    means the Python client, not Azurite, set the pace."""
    next_index = iter(range(count))

    async def worker() -> None:
        for i in next_index:
            await op(i)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return count / wall, (time.process_time() - cpu) / wall


async def measure_round_trips(
    connection_string: str, *, samples: int = 200, concurrency: int = 32
) -> dict[str, dict[str, float]]:
    """{'queue.send': {'ms': median latency, 'per_s': throughput, 'client_cpu': share}, ...}."""
    tag = "phys" + uuid.uuid4().hex[:8]
    queues = QueueServiceClient.from_connection_string(connection_string)
    tables = TableServiceClient.from_connection_string(connection_string)
    out: dict[str, dict[str, float]] = {}
    try:
        queue = await queues.create_queue(tag)
        table = await tables.create_table(tag)
        body = '{"$type":"DurableTask.AzureStorage.MessageData","TaskMessage":{}}' * 4

        async def send(_: int) -> None:
            await queue.send_message(body)

        receipts: list[tuple[str, str]] = []

        async def receive(_: int) -> None:
            async for msg in queue.receive_messages(max_messages=1, visibility_timeout=300):
                receipts.append((msg.id, msg.pop_receipt or ""))

        async def delete(_: int) -> None:
            message_id, receipt = receipts.pop()
            await queue.delete_message(message_id, receipt)

        def row(partition: str, key: str) -> dict[str, Any]:
            return {"PartitionKey": partition, "RowKey": key, "EventType": "TaskScheduled"}

        async def batch(i: int) -> None:
            # A checkpoint: two history rows and the sentinel, in one entity group transaction,
            # sent as the engine sends it (table_batch.py, not the SDK's submit_transaction).
            partition = f"i{i}"
            ops: list[Any] = [("upsert", row(partition, f"{k:016X}"), {}) for k in range(2)]
            ops.append(("upsert", row(partition, "sentinel"), {"mode": UpdateMode.REPLACE}))
            try:
                await submit_batch(table, ops)
            except HttpResponseError as exc:  # pragma: no cover - reported, not hidden
                raise RuntimeError(f"Azurite refused a batch: {exc}") from exc

        async def upsert(i: int) -> None:
            await table.upsert_entity(row("instances", f"{i % 50}"), mode=UpdateMode.REPLACE)

        async def query(i: int) -> None:
            # A history load: every row of one instance's partition.
            rows = table.query_entities("PartitionKey eq @p", parameters={"p": f"i{i % 50}"})
            async for _ in rows:
                pass

        # Latencies, one at a time. Sends fill the queue for the receives, which fill the
        # receipts for the deletes.
        out["queue.send"] = {"ms": await _latency(send, samples)}
        out["queue.receive"] = {"ms": await _latency(receive, samples)}
        out["queue.delete"] = {"ms": await _latency(delete, samples)}
        out["table.batch"] = {"ms": await _latency(batch, samples)}
        out["table.upsert"] = {"ms": await _latency(upsert, samples)}
        out["table.query"] = {"ms": await _latency(query, samples)}
        # Throughputs, many in flight.
        many = samples * 2
        for name, op in (
            ("queue.send", send),
            ("queue.receive", receive),
            ("queue.delete", delete),  # as many as the receives left receipts for
            ("table.batch", batch),
            ("table.upsert", upsert),
            ("table.query", query),
        ):
            n = len(receipts) if op is delete else many
            out[name]["per_s"], out[name]["client_cpu"] = await _throughput(op, n, concurrency)
    finally:
        await asyncio.gather(
            queues.delete_queue(tag), tables.delete_table(tag), return_exceptions=True
        )
        await asyncio.gather(queues.close(), tables.close())
    return out


def floors(rt: dict[str, dict[str, float]], sizes: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The fewest round trips each workload needs, priced at the measured costs.

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
