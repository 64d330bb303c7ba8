"""Azurite's CPU and the host's per storage request of each kind the hot path makes.

Run: .venv/bin/python bench/request_costs.py [--cycles 60]
One Azurite (in memory) and durable_host's thin client (the requests the engine sends, 8 in
flight); queue requests in cycles of 32 sends, one receive of 32, 32 deletes, so the queue
stays as short as in the workloads (Azurite's queue requests cost more on long queues).
Azurite's CPU is read from /proc in clock ticks (10 ms) around each phase, the host's is this
process's CPU time. Prints microseconds per request. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from durable_host.server.azurite import AzuriteProcess  # noqa: E402
from durable_host.taskhub.rest_client import RestClient, Service, StorageAccount  # noqa: E402
from durable_host.taskhub.rest_queues import RestQueues  # noqa: E402
from durable_host.taskhub.rest_tables import BatchOperation, BatchVerb, RestTables  # noqa: E402

PAYLOAD = (
    '{"$type":"DurableTask.AzureStorage.MessageData","TaskMessage":{"$type":'
    '"DurableTask.Core.TaskMessage","Event":{"$type":"DurableTask.Core.History.TaskCompletedEvent",'
    '"EventType":5,"TaskScheduledId":3,"Result":"42"}}}'
)
ROW = {"PartitionKey": "p", "RowKey": "r", "Name": "sequence", "RuntimeStatus": "Running"}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Costs:
    def __init__(self, azurite_pid: int) -> None:
        self.pid = azurite_pid
        self.totals: dict[str, list[float]] = {}  # kind -> [host s, Azurite s, requests]

    async def run(self, kind: str, count: int, one: Callable[[int], Awaitable[Any]]) -> None:
        jobs = iter(range(count))

        async def worker() -> None:
            for i in jobs:
                await one(i)

        host, azurite = time.process_time(), _cpu_seconds(self.pid)
        await asyncio.gather(*(worker() for _ in range(8)))
        total = self.totals.setdefault(kind, [0.0, 0.0, 0.0])
        total[0] += time.process_time() - host
        total[1] += _cpu_seconds(self.pid) - azurite
        total[2] += count


async def measure(cycles: int) -> None:
    with AzuriteProcess(ROOT) as azurite:
        account = StorageAccount.parse(azurite.connection_string)
        assert account is not None and azurite.pid is not None
        client = RestClient(account)
        queues, tables = RestQueues(client), RestTables(client)
        queue, table = "costs" + uuid.uuid4().hex[:8], "costs" + uuid.uuid4().hex[:8]
        await client.request(Service.QUEUE, "PUT", queue, ok=(201, 204))
        await client.request(
            Service.TABLE,
            "POST",
            "Tables",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            body=f'{{"TableName":"{table}"}}'.encode(),
            ok=(201, 204),
        )
        costs = Costs(azurite.pid)
        received: list[Any] = []

        async def receive(i: int) -> None:
            received.extend(await queues.receive(queue, max_messages=32, visibility_timeout=300))

        async def delete(i: int) -> None:
            await queues.delete(queue, received[i].id, received[i].pop_receipt)

        for _ in range(cycles):
            await costs.run(
                "queue.send",
                32,
                lambda i: queues.send(queue, PAYLOAD, visibility_timeout=None, time_to_live=-1),
            )
            received.clear()
            await costs.run("queue.receive (32)", 1, receive)
            await costs.run("queue.delete", len(received), delete)
        await tables.insert(table, ROW)
        await costs.run(
            "table.merge",
            32 * cycles,
            lambda i: tables.write(table, {**ROW, "Output": str(i)}, merge=True),
        )
        await costs.run("table.get", 32 * cycles, lambda i: tables.get(table, "p", "r"))

        def transaction(i: int) -> Awaitable[list[str]]:
            rows = [
                {"PartitionKey": f"b{i}", "RowKey": f"{k:016X}", "Result": "42"} for k in range(3)
            ]
            return tables.transact(table, [BatchOperation(BatchVerb.INSERT, row) for row in rows])

        await costs.run("table.batch (3 rows)", 32 * cycles, transaction)
        await costs.run(
            "table.query (1 partition)",
            32 * cycles,
            lambda i: tables.query(table, f"PartitionKey eq 'b{i}'"),
        )
        await client.close()
    for kind, (host, azurite_cpu, count) in costs.totals.items():
        host_us, azurite_us = host * 1e6 / count, azurite_cpu * 1e6 / count
        print(f"{kind:26s} host {host_us:6.0f} us   Azurite {azurite_us:6.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=60)
    asyncio.run(measure(parser.parse_args().cycles))


if __name__ == "__main__":
    main()
