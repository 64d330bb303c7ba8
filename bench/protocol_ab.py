"""The sequential hop of a 1.x app (bench/app, the JSON protocol) next to the same chain in a
2.x app (bench/app_v2, the protobuf protocol), on one interpreter (Python 3.13: the 2.x SDK's
floor).

Run: .venv313/bin/python bench/protocol_ab.py [--rounds 7] [--hops 30] [--base DIR]
Each measurement runs in a fresh process on a fresh task hub, the apps take turns (the order
rotates each round), one Azurite serves all. With --base (a folder holding another
durable_host, e.g. `git archive main durable_host | tar -x -C DIR`), the 2.x app also runs
on that one ("2.x base"), for the A/B of a change to the 2.x path. Figures: ms per hop (wall)
and the host's CPU per step (the process's CPU time while the chain ran divided by its
activities; the process also runs the benchmark's client, alike for all). Prints every
figure, the medians and the medians over rounds of the ratios of host CPU per step (2.x/1.x;
with --base also 2.x/2.x base). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
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


def _child(
    connection: str, app: str, hops: int, source: Path | None = None
) -> tuple[float, float] | None:
    command = [sys.executable, __file__, "--child", app, "--connection", connection]
    command += ["--hops", str(hops)]
    # Every variant finds durable_host through PYTHONPATH: this checkout's too, rather than
    # through the editable install's finder (a run loaded that way measured slower, about
    # 1.07x, than the same code loaded from PYTHONPATH).
    env = dict(os.environ, PYTHONPATH=str(source or ROOT))
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if out.returncode:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    wall, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hops", type=int, default=30)
    parser.add_argument("--base", type=Path, help="folder holding a durable_host to compare")
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

    variants: list[tuple[str, str, Path | None]] = [(app, app, None) for app in APPS]
    if args.base is not None:
        variants.append(("2.x base", "2.x", args.base.resolve()))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in variants}
    with AzuriteProcess(ROOT) as azurite:
        for round_ in range(args.rounds):
            # Each variant takes each place in the order equally often (the order rotates).
            shift = round_ % len(variants)
            for name, app, source in variants[shift:] + variants[:shift]:
                got = _child(azurite.connection_string, app, args.hops, source)
                if got is not None:
                    results[name].append(got)
                    print(
                        f"round {round_ + 1} {name}: {got[0]:.2f} ms/hop, "
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
    _print_ratio(results, "2.x", "1.x")
    if args.base is not None:
        _print_ratio(results, "2.x base", "1.x")
        _print_ratio(results, "2.x", "2.x base")


def _print_ratio(results: dict[str, list[tuple[float, float]]], top: str, bottom: str) -> None:
    """The median over rounds of top/bottom host CPU per step (paired by round)."""
    ratios = [t[1] / b[1] for b, t in zip(results[bottom], results[top], strict=False) if b[1]]
    if ratios:
        print(
            f"host CPU per step {top}/{bottom}, median of {len(ratios)} rounds "
            f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
