"""Engine benchmarks on Azurite: sequential hops, fan-out/fan-in, idle-to-first-activity.

Run: .venv/bin/python bench/engine.py [--quick]
Prints figures; asserts nothing (goals live in the issue and docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from durable_host.engine.runtime import Engine, EngineSettings  # noqa: E402
from durable_host.functions import FunctionInvoker, load_app  # noqa: E402
from durable_host.server.azurite import AzuriteProcess  # noqa: E402


def _input(value: object) -> str:
    return json.dumps(json.dumps(value))


async def _engine(connection: str) -> Engine:
    index = load_app(ROOT / "bench" / "app")
    hub = "bench" + uuid.uuid4().hex[:10]
    engine = Engine(
        connection,
        EngineSettings(hub_name=hub, max_queue_polling_interval=30.0),
        index,
        FunctionInvoker(index),
    )
    await engine.start()
    return engine


async def sequential(engine: Engine, hops: int, runs: int) -> None:
    per_hop: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        instance = await engine.client.start_new("sequence", None, _input(hops))
        status = await engine.client.wait_for_completion(instance, timeout=300, poll_interval=0.01)
        assert status is not None and status.runtime_status.name == "Completed", status
        per_hop.append((time.perf_counter() - started) * 1000 / hops)
    print(
        f"sequential chain of {hops} no-op activities: median {statistics.median(per_hop):.1f} ms "
        f"per hop (runs: {', '.join(f'{v:.1f}' for v in per_hop)})"
    )


async def fan_out(engine: Engine, count: int) -> None:
    started = time.perf_counter()
    instance = await engine.client.start_new("fan_out", None, _input(count))
    status = await engine.client.wait_for_completion(instance, timeout=600, poll_interval=0.01)
    assert status is not None and status.runtime_status.name == "Completed", status
    elapsed = time.perf_counter() - started
    print(f"fan-out/fan-in of {count} no-op activities: {elapsed:.2f} s ({count / elapsed:.0f}/s)")


async def idle_to_first_activity(engine: Engine, idle_seconds: float) -> None:
    await asyncio.sleep(idle_seconds)  # let the pollers back off, as on an idle host
    before = engine.activities.activities_run
    started = time.perf_counter()
    await engine.client.start_new("single", None, _input(1))
    while engine.activities.activities_run == before:
        await asyncio.sleep(0.0005)
    print(
        f"idle ({idle_seconds:.0f} s) to first activity: "
        f"{(time.perf_counter() - started) * 1000:.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with AzuriteProcess(ROOT) as azurite:
        engine = await _engine(azurite.connection_string)
        try:
            await sequential(engine, hops=10 if args.quick else 50, runs=1 if args.quick else 3)
            await fan_out(engine, 100 if args.quick else 1000)
            await idle_to_first_activity(engine, 2 if args.quick else 10)
        finally:
            await engine.stop()


if __name__ == "__main__":
    asyncio.run(main())
