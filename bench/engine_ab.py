"""A/B of the engine on three workloads: another checkout of durable_host vs this one.

Run: .venv/bin/python bench/engine_ab.py --base DIR [--rounds 7]
where DIR holds the durable_host package to compare against (e.g. `git archive main
durable_host | tar -x -C DIR`). Workloads, as in bench/workloads.py but smaller: the
sequential hop (ms per activity of a 30-activity chain), fan-out/fan-in (seconds for 300
activities) and many small orchestrations (50 five-activity chains at once, per second).
One Azurite serves every run; each measurement runs in a fresh process on a fresh task hub,
and the variants take turns (the order flips each round), so load on the machine falls on
both alike. Prints every figure and the medians. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"hop_ms": 30, "fan_out_s": 300, "orchestrations_per_s": 50}


async def _measure(connection: str, workload: str, size: int) -> float:
    from durable_host.engine.runtime import Engine, EngineSettings
    from durable_host.functions import FunctionInvoker, load_app

    index = load_app(ROOT / "bench" / "app")
    settings = EngineSettings(hub_name="ab" + uuid.uuid4().hex[:10])
    engine = Engine(connection, settings, index, FunctionInvoker(index))
    await engine.start()

    async def run(name: str, value: int) -> None:
        instance = await engine.client.start_new(name, None, json.dumps(json.dumps(value)))
        status = await engine.client.wait_for_completion(instance, timeout=600)
        assert status is not None and status.runtime_status.name == "Completed", status

    try:
        await run("sequence", 2)  # warm-up: imports, connections
        started = time.perf_counter()
        if workload == "hop_ms":
            await run("sequence", size)
            return (time.perf_counter() - started) * 1000 / size
        if workload == "fan_out_s":
            await run("fan_out", size)
            return time.perf_counter() - started
        await asyncio.gather(*(run("sequence", 5) for _ in range(size)))
        return size / (time.perf_counter() - started)
    finally:
        await engine.stop()
        await engine.storage.delete_task_hub()


def _in_process(source: Path, connection: str, workload: str) -> float | None:
    command = [sys.executable, __file__, "--child", "--connection", connection]
    command += ["--workload", workload]
    env = dict(os.environ, PYTHONPATH=str(source))
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    value: float = json.loads(out.stdout.strip().splitlines()[-1])
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="folder holding the durable_host to compare")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--connection", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        size = SIZES[args.workload]
        print(json.dumps(asyncio.run(_measure(args.connection, args.workload, size))))
        return
    sys.path.insert(0, str(ROOT))
    from durable_host.server.azurite import AzuriteProcess

    variants = [("base", args.base.resolve()), ("this", ROOT)]
    results: dict[tuple[str, str], list[float]] = {}
    with AzuriteProcess(ROOT) as azurite:
        for round_ in range(args.rounds):
            for workload in SIZES:
                for name, source in variants if round_ % 2 == 0 else variants[::-1]:
                    value = _in_process(source, azurite.connection_string, workload)
                    if value is not None:
                        results.setdefault((workload, name), []).append(value)
                        print(f"round {round_ + 1} {workload} {name}: {value:.2f}", flush=True)
    for (workload, name), values in sorted(results.items()):
        listed = ", ".join(f"{v:.2f}" for v in values)
        print(f"{workload} {name}: median {statistics.median(values):.2f} ({listed})")


if __name__ == "__main__":
    main()
