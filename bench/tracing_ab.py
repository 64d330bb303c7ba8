"""A/B of the sequential hop: another checkout of durable_host vs this one, tracing off and on.

Run: .venv/bin/python bench/tracing_ab.py --base DIR [--rounds 7] [--hops 30]
where DIR holds the durable_host package to compare against (e.g. `git archive main
durable_host | tar -x -C DIR`). One Azurite serves every run; the variants take turns,
each in a fresh process, so load on the machine falls on all of them alike. Prints the
median per-hop latency of each variant's runs. Asserts nothing.
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


async def _measure(connection: str, tracing: bool, hops: int, runs: int) -> list[float]:
    from durable_host.engine.runtime import Engine, EngineSettings
    from durable_host.functions import FunctionInvoker, load_app

    index = load_app(ROOT / "bench" / "app")
    options: dict[str, object] = {"tracing": True} if tracing else {}
    settings = EngineSettings(
        hub_name="ab" + uuid.uuid4().hex[:10], max_queue_polling_interval=30.0, **options
    )
    engine = Engine(connection, settings, index, FunctionInvoker(index))
    await engine.start()
    per_hop: list[float] = []
    try:
        for run in range(runs + 1):
            started = time.perf_counter()
            instance = await engine.client.start_new("sequence", None, json.dumps(json.dumps(hops)))
            status = await engine.client.wait_for_completion(
                instance, timeout=300, poll_interval=0.005
            )
            assert status is not None and status.runtime_status.name == "Completed", status
            if run:  # the first run warms up (imports, sessions, connections)
                per_hop.append((time.perf_counter() - started) * 1000 / hops)
    finally:
        await engine.storage.delete_task_hub()
        await engine.stop()
    return per_hop


def _child(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(_measure(args.connection, args.tracing, args.hops, args.runs))
    print(json.dumps(result))


def _run_variant(source: Path, connection: str, tracing: bool, hops: int, runs: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=str(source))
    command = [sys.executable, __file__, "--child", "--connection", connection]
    command += ["--hops", str(hops), "--runs", str(runs)] + (["--tracing"] if tracing else [])
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    values: list[float] = json.loads(out.stdout.strip().splitlines()[-1])
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="folder holding the durable_host to compare")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hops", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3, help="measured chains per process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--connection", help=argparse.SUPPRESS)
    parser.add_argument("--tracing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    sys.path.insert(0, str(ROOT))
    from durable_host.server.azurite import AzuriteProcess

    variants = {"off": (ROOT, False), "on": (ROOT, True)}
    if args.base is not None:
        variants = {"base": (args.base.resolve(), False)} | variants
    results: dict[str, list[float]] = {name: [] for name in variants}
    with AzuriteProcess(ROOT) as azurite:
        for round_ in range(args.rounds):
            for name, (source, tracing) in variants.items():
                connection = azurite.connection_string
                runs = _run_variant(source, connection, tracing, args.hops, args.runs)
                results[name].append(statistics.median(runs))
                print(f"round {round_ + 1} {name}: {results[name][-1]:.2f} ms/hop", flush=True)
    for name, medians in results.items():
        print(
            f"{name}: median {statistics.median(medians):.2f} ms/hop over {len(medians)} "
            f"processes (medians: {', '.join(f'{v:.2f}' for v in medians)})"
        )


if __name__ == "__main__":
    main()
