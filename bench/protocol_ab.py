"""The sequential hop of a 1.x app (bench/app, the JSON protocol) next to the same chain in a
2.x app (bench/app_v2, the protobuf protocol), on one interpreter (Python 3.13: the 2.x SDK's
floor).

Run: .venv313/bin/python bench/protocol_ab.py [--rounds 7] [--hops 30]
Each measurement runs in a fresh process on a fresh task hub, the two apps take turns (the
order flips each round), one Azurite serves all. Figures: ms per hop (wall) and the host's CPU
per step (the process's CPU time while the chain ran divided by its activities; the process
also runs the benchmark's client, alike for both). Prints every figure, the medians and the
median over rounds of 2.x/1.x host CPU per step. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = {"1.x": ROOT / "bench" / "app", "2.x": ROOT / "bench" / "app_v2"}


def _encoded(app: str, value: int) -> str:
    # The 1.x client stores an input encoded twice, the 2.x client once.
    return json.dumps(json.dumps(value)) if app == "1.x" else json.dumps(value)


async def _measure(connection: str, app: str, hops: int) -> tuple[float, float]:
    from durable_host.engine.runtime import Engine, EngineSettings
    from durable_host.functions import FunctionInvoker, load_app

    index = load_app(APPS[app])
    settings = EngineSettings(hub_name="pab" + uuid.uuid4().hex[:10])
    engine = Engine(connection, settings, index, FunctionInvoker(index))
    await engine.start()

    async def run(value: int) -> None:
        instance = await engine.client.start_new("sequence", None, _encoded(app, value))
        status = await engine.client.wait_for_completion(instance, timeout=600)
        assert status is not None and status.runtime_status.name == "Completed", status

    try:
        await run(2)  # warm-up: imports, connections
        started, cpu = time.perf_counter(), time.process_time()
        await run(hops)
        wall = (time.perf_counter() - started) * 1000 / hops
        return wall, (time.process_time() - cpu) * 1000 / hops
    finally:
        await engine.stop()
        await engine.storage.delete_task_hub()


def _child(connection: str, app: str, hops: int) -> tuple[float, float] | None:
    command = [sys.executable, __file__, "--child", app, "--connection", connection]
    command += ["--hops", str(hops)]
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    wall, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hops", type=int, default=30)
    parser.add_argument("--child", choices=sorted(APPS), help=argparse.SUPPRESS)
    parser.add_argument("--connection", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("durabletask-worker").setLevel(logging.WARNING)
        print(json.dumps(list(asyncio.run(_measure(args.connection, args.child, args.hops)))))
        return
    sys.path.insert(0, str(ROOT))
    from durable_host.server.azurite import AzuriteProcess

    results: dict[str, list[tuple[float, float]]] = {app: [] for app in APPS}
    order = list(APPS)
    with AzuriteProcess(ROOT) as azurite:
        for round_ in range(args.rounds):
            for app in order if round_ % 2 == 0 else order[::-1]:
                got = _child(azurite.connection_string, app, args.hops)
                if got is not None:
                    results[app].append(got)
                    print(
                        f"round {round_ + 1} {app}: {got[0]:.2f} ms/hop, "
                        f"host CPU {got[1]:.2f} ms/step",
                        flush=True,
                    )
    for app, pairs in results.items():
        walls, cpus = [p[0] for p in pairs], [p[1] for p in pairs]
        if pairs:
            print(
                f"{app}: median {statistics.median(walls):.2f} ms/hop, host CPU median "
                f"{statistics.median(cpus):.2f} ms/step ({', '.join(f'{c:.2f}' for c in cpus)})"
            )
    ratios = [
        two[1] / one[1] for one, two in zip(results["1.x"], results["2.x"], strict=False) if one[1]
    ]
    if ratios:
        print(
            f"host CPU per step 2.x/1.x, median of {len(ratios)} rounds "
            f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
