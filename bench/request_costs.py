"""Azurite's CPU and the host's per storage request of each kind the hot path makes.

Run: .venv/bin/python bench/request_costs.py [--cycles 60] [--backlog 300]
[--base-azurite APPDIR]
One Azurite (in memory) and durable_host's thin client (the requests the engine sends, 8 in
flight); queue requests in cycles of 128 sends, 4 receives of 32, 128 deletes. `--backlog`
messages wait invisible in the same queue and as many rows sit in other partitions of the
table, as in a fan-out's queues and History table (Azurite's requests cost more on long
queues and big tables). Azurite's CPU is read from /proc in clock ticks (10 ms) around each
phase, the host's is this process's CPU time. Prints microseconds per request.
With `--base-azurite`, a second Azurite from APPDIR's node_modules (e.g. one installed
without our patches) gets the same requests, the two taking turns phase by phase (the order
flips each cycle), and the ratio this/base of Azurite's CPU per request is printed beside
each kind. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
CHUNK = 32  # requests of a kind per phase (messages per receive)
RECEIVES = 4  # receives per queue cycle: CHUNK * RECEIVES sends, then as many deletes


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Target:
    """One Azurite, the thin client to it, its queue and table, and the costs measured on it."""

    def __init__(self, azurite: AzuriteProcess) -> None:
        account = StorageAccount.parse(azurite.connection_string)
        assert account is not None and azurite.pid is not None
        self.pid = azurite.pid
        self.client = RestClient(account)
        self.queues, self.tables = RestQueues(self.client), RestTables(self.client)
        self.queue, self.table = "costs" + uuid.uuid4().hex[:8], "costs" + uuid.uuid4().hex[:8]
        self.totals: dict[str, list[float]] = {}  # kind -> [host s, Azurite s, requests]
        self.received: list[Any] = []

    async def create(self, backlog: int) -> None:
        await self.client.request(Service.QUEUE, "PUT", self.queue, ok=(201, 204))
        await self.client.request(
            Service.TABLE,
            "POST",
            "Tables",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            body=f'{{"TableName":"{self.table}"}}'.encode(),
            ok=(201, 204),
        )
        await self.run("backlog", backlog, self._backlog_one, record=False)
        await self.tables.insert(self.table, ROW)

    async def _backlog_one(self, i: int) -> None:
        # Invisible for an hour: they lengthen the queue without ever being received.
        await self.queues.send(self.queue, PAYLOAD, visibility_timeout=3600, time_to_live=-1)
        row = {"PartitionKey": f"old{i % 50}", "RowKey": f"{i:016X}", "Result": "42"}
        await self.tables.insert(self.table, row)

    async def run(
        self, kind: str, count: int, one: Callable[[int], Awaitable[Any]], *, record: bool = True
    ) -> None:
        jobs = iter(range(count))

        async def worker() -> None:
            for i in jobs:
                await one(i)

        host, azurite = time.process_time(), _cpu_seconds(self.pid)
        await asyncio.gather(*(worker() for _ in range(8)))
        if record:
            total = self.totals.setdefault(kind, [0.0, 0.0, 0.0])
            total[0] += time.process_time() - host
            total[1] += _cpu_seconds(self.pid) - azurite
            total[2] += count

    async def queue_cycle(self) -> None:
        await self.run(
            "queue.send",
            CHUNK * RECEIVES,
            lambda i: self.queues.send(
                self.queue, PAYLOAD, visibility_timeout=None, time_to_live=-1
            ),
        )
        self.received.clear()
        await self.run("queue.receive (32)", RECEIVES, self._receive)
        await self.run("queue.delete", len(self.received), self._delete)

    async def _receive(self, i: int) -> None:
        got = await self.queues.receive(self.queue, max_messages=CHUNK, visibility_timeout=300)
        self.received.extend(got)

    async def _delete(self, i: int) -> None:
        message = self.received[i]
        await self.queues.delete(self.queue, message.id, message.pop_receipt)

    def table_phases(self, cycle: int) -> list[tuple[str, Callable[[int], Awaitable[Any]]]]:
        tables, table = self.tables, self.table

        def transaction(i: int) -> Awaitable[list[str]]:
            rows = [
                {"PartitionKey": f"b{cycle}-{i}", "RowKey": f"{k:016X}", "Result": "42"}
                for k in range(3)
            ]
            return tables.transact(table, [BatchOperation(BatchVerb.INSERT, row) for row in rows])

        return [
            ("table.merge", lambda i: tables.write(table, {**ROW, "Output": str(i)}, merge=True)),
            ("table.get", lambda i: tables.get(table, "p", "r")),
            ("table.batch (3 rows)", transaction),
            (
                "table.query (1 partition)",
                lambda i: tables.query(table, f"PartitionKey eq 'b{cycle}-{i}'"),
            ),
        ]


async def measure(cycles: int, backlog: int, base_dir: Path | None) -> None:
    with contextlib.ExitStack() as stack:
        targets = {"this": Target(stack.enter_context(AzuriteProcess(ROOT)))}
        if base_dir is not None:
            targets["base"] = Target(stack.enter_context(AzuriteProcess(base_dir)))
        for target in targets.values():
            await target.create(backlog)
        for cycle in range(cycles):
            order = list(targets.values())[:: 1 if cycle % 2 == 0 else -1]
            for target in order:
                await target.queue_cycle()
            for at in range(4):
                for target in order:
                    kind, one = target.table_phases(cycle)[at]
                    await target.run(kind, CHUNK, one)
        for target in targets.values():
            await target.client.close()
    _report(targets)


def _report(targets: dict[str, Target]) -> None:
    this, base = targets["this"], targets.get("base")
    for kind, (host, azurite_cpu, count) in this.totals.items():
        azurite_us = azurite_cpu * 1e6 / count
        line = f"{kind:26s} host {host * 1e6 / count:6.0f} us   Azurite {azurite_us:6.0f} us"
        if base is not None:
            _, base_cpu, base_count = base.totals[kind]
            base_us = base_cpu * 1e6 / base_count
            ratio = azurite_us / base_us if base_us else float("nan")
            line += f"   base Azurite {base_us:6.0f} us   this/base {ratio:.3f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=60)
    parser.add_argument("--backlog", type=int, default=0, help="invisible messages, other rows")
    parser.add_argument("--base-azurite", type=Path, help="folder whose node_modules has the base")
    args = parser.parse_args()
    asyncio.run(measure(args.cycles, args.backlog, args.base_azurite))


if __name__ == "__main__":
    main()
