"""Entity benchmarks on Azurite: 1,000 signals to one entity, and to 100 entities.

Run: .venv/bin/python bench/entities.py [--signals N] [--senders N]
Prints figures; asserts only that every operation was applied exactly once.
The clock starts before the first signal is sent and stops when the last state is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from durable_host.engine.runtime import Engine, EngineSettings  # noqa: E402
from durable_host.functions import FunctionInvoker, load_app  # noqa: E402
from durable_host.server.azurite import AzuriteProcess  # noqa: E402

APP_DIR = ROOT / "tests" / "apps" / "entities"
ONE = json.dumps(json.dumps(1))


async def _engine(connection: str) -> Engine:
    index = load_app(APP_DIR)
    hub = "bench" + uuid.uuid4().hex[:10]
    engine = Engine(connection, EngineSettings(hub_name=hub), index, FunctionInvoker(index))
    await engine.start()
    return engine


async def _state(engine: Engine, key: str) -> int:
    entity = await engine.client.read_entity("counter", key)
    return 0 if entity is None or entity.state is None else int(json.loads(entity.state))


async def signals(engine: Engine, *, total: int, entities: int, senders: int) -> None:
    keys = [f"e{i}" for i in range(entities)]
    runs_before = engine.entities.batches_run
    ops_before = engine.entities.operations_run
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(keys[i % entities])

    async def sender() -> None:
        while not queue.empty():
            key = queue.get_nowait()
            await engine.client.signal_entity("counter", key, "add", ONE)

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    sent = time.perf_counter() - started
    while engine.entities.operations_run - ops_before < total:
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    per_entity = total // entities
    states = await asyncio.gather(*(_state(engine, k) for k in keys))
    assert all(s == per_entity for s in states), f"lost or doubled operations: {states}"
    batches = engine.entities.batches_run - runs_before
    print(
        f"{total} signals to {entities} entit{'y' if entities == 1 else 'ies'} "
        f"({senders} senders): {elapsed:.2f} s, {total / elapsed:.0f} ops/s "
        f"(sending alone {sent:.2f} s; {batches} batches, {total / batches:.1f} ops/batch)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with AzuriteProcess(ROOT) as azurite:
        for entities in (1, 100):
            engine = await _engine(azurite.connection_string)
            try:
                await signals(engine, total=args.signals, entities=entities, senders=args.senders)
            finally:
                await engine.storage.delete_task_hub()
                await engine.stop()


if __name__ == "__main__":
    asyncio.run(main())
