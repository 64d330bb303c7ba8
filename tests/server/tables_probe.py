"""Azurite's CPU per table request as its tables grow, in the task hub's shapes (by hand, for
docs/azurite-tables.md):

    .venv/bin/python -m tests.server.tables_probe 1000 4000 16000
    .venv/bin/python -m tests.server.tables_probe 16000 --azurite-from DIR  # DIR/node_modules

For each size the probe starts its own Azurite (in memory) and fills two tables: an
Instances-shaped one (one row per partition, RowKey "") and a History-shaped one (10 rows per
partition, the same RowKeys in every partition). It then times, one request at a time, point
reads and merges on the first and partition queries on the second, and reports Azurite's CPU
per request (from /proc, so Linux only) next to the wall time the client saw.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from durable_host.server.azurite import AzuriteProcess

PROJECT_DIR = Path(__file__).resolve().parents[2]
HISTORY_ROWS = 10
REQUESTS = 200


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _bounded(calls: list[Callable[[], Awaitable[object]]], width: int = 16) -> None:
    queue = list(reversed(calls))

    async def worker() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(worker() for _ in range(width)))


async def _fill(instances: TableClient, history: TableClient, rows: int) -> None:
    await _bounded(
        [
            partial(instances.create_entity, {"PartitionKey": f"inst{i:06d}", "RowKey": ""})
            for i in range(rows)
        ]
    )
    batches = [
        [
            ("create", {"PartitionKey": f"inst{i:06d}", "RowKey": f"{r:016X}"})
            for r in range(HISTORY_ROWS)
        ]
        for i in range(rows // HISTORY_ROWS)
    ]
    await _bounded([partial(history.submit_transaction, b) for b in batches])


async def _timed(pid: int, calls: list[Callable[[], Awaitable[object]]]) -> tuple[float, float]:
    """Azurite CPU ms and client wall ms per call, calls made one at a time."""
    cpu, wall = _cpu_s(pid), time.perf_counter()
    for call in calls:
        await call()
    return (
        (_cpu_s(pid) - cpu) * 1000 / len(calls),
        (time.perf_counter() - wall) * 1000 / len(calls),
    )


async def probe(rows: int, azurite_from: Path = PROJECT_DIR) -> dict[str, tuple[float, float]]:
    async with AzuriteProcess(azurite_from) as azurite:
        assert azurite.pid is not None
        async with TableServiceClient.from_connection_string(azurite.connection_string) as svc:
            instances = await svc.create_table("Instances")
            history = await svc.create_table("History")
            await _fill(instances, history, rows)
            keys = [f"inst{(i * 7919) % rows:06d}" for i in range(REQUESTS)]
            partitions = [f"inst{(i * 7919) % (rows // HISTORY_ROWS):06d}" for i in range(REQUESTS)]

            async def query(pk: str) -> None:
                found = [e async for e in history.query_entities(f"PartitionKey eq '{pk}'")]
                assert len(found) == HISTORY_ROWS

            return {
                "point read": await _timed(
                    azurite.pid, [partial(instances.get_entity, k, "") for k in keys]
                ),
                "merge": await _timed(
                    azurite.pid,
                    [
                        partial(
                            instances.update_entity,
                            {"PartitionKey": k, "RowKey": "", "N": 1},
                            mode=UpdateMode.MERGE,
                        )
                        for k in keys
                    ],
                ),
                "partition query": await _timed(
                    azurite.pid, [partial(query, p) for p in partitions]
                ),
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="+", help="rows per table")
    parser.add_argument(
        "--azurite-from",
        type=Path,
        default=PROJECT_DIR,
        help="the folder whose node_modules holds the Azurite to probe (e.g. an unpatched one)",
    )
    args = parser.parse_args()
    print("rows | operation | Azurite CPU ms/request | wall ms/request")
    for rows in args.rows:
        for operation, (cpu, wall) in asyncio.run(probe(rows, args.azurite_from)).items():
            print(f"{rows} | {operation} | {cpu:.2f} | {wall:.2f}")


if __name__ == "__main__":
    main()
