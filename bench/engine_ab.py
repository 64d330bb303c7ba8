"""A/B of the engine on three workloads: another checkout of durable_host vs this one.

Run: .venv/bin/python bench/engine_ab.py --base DIR [--rounds 7] [--workloads hop_ms,...]
[--base-env NAME=VALUE] [--base-azurite APPDIR] [--node-flags "..."] [--base-node-flags "..."]
where DIR holds the durable_host package to compare against (e.g. `git archive main
durable_host | tar -x -C DIR`; without it both variants run this checkout's), APPDIR a
folder whose node_modules holds the Azurite the base variant runs on (an A/B of a patch to
the emulator: e.g. APPDIR holds package.json, package-lock.json and
durable_host/server/patches as on main, then `npm ci`), and the node flags give the flags
each side's Azurite starts with, before Azurite's script (an A/B of V8 options: e.g.
`--node-flags=--max-semi-space-size=64 --base-node-flags=`; without them, an Azurite starts
as durable_host starts it). Workloads, as in bench/workloads.py
but smaller: the sequential hop (ms per activity of a 30-activity chain), fan-out/fan-in
(seconds for 300 activities), many small orchestrations (50 five-activity chains at once,
per second) and HTTP starts (100 POSTs to the app's starter from 10 clients, each to its
1-activity orchestration's end, per second). Beside each figure, the host's CPU per step:
the process's CPU time while the workload ran divided by its activities (starts for HTTP
starts); the process also runs the benchmark's client, alike for both variants. And the
storage requests per orchestration (per start for HTTP starts, per activity otherwise)
while it ran, counted as `bench/storage_counter.py` counts them (the waiting client's reads
included), Azurite's CPU per step (its process's CPU time, all threads, read from its
CPU-time clock) and its resident set after each run. One Azurite serves every run (one per
variant with --base-azurite or node flags); each measurement runs in a fresh process on a
fresh task hub, and the variants take turns (the order flips each round), so load on the
machine falls on both alike. Prints every figure and the medians. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"hop_ms": 30, "fan_out_s": 300, "orchestrations_per_s": 50, "http_starts_per_s": 100}
# Activities per measured run, for the host's CPU per step (process CPU seconds / steps).
STEPS = {"hop_ms": 30, "fan_out_s": 300, "orchestrations_per_s": 250, "http_starts_per_s": 100}
# What the storage requests are counted per: activities, orchestrations, starts.
REQUEST_UNITS = {"hop_ms": 30, "fan_out_s": 300, "orchestrations_per_s": 50}
REQUEST_UNITS["http_starts_per_s"] = 100


class _Requests:
    """The storage requests and Azurite's CPU seconds of the measured part of a run (after
    its warm-up)."""

    def __init__(self) -> None:
        self.total: Callable[[], int] = lambda: 0
        self.azurite_pid = 0
        self._at_start = (0, 0.0)
        self.during = (0, 0.0)

    def _now(self) -> tuple[int, float]:
        return self.total(), _cpu_seconds(self.azurite_pid)

    def start(self) -> None:
        self._at_start = self._now()

    def stop(self) -> None:
        now = self._now()
        self.during = (now[0] - self._at_start[0], now[1] - self._at_start[1])


def _cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time, all its threads: its CPU-time clock (Linux's
    clock id for another process, in ns), else /proc's 10 ms ticks; 0 without."""
    with contextlib.suppress(OSError):
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e9
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    """A process's resident set in MiB, from /proc (0 without)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return int(kib) / 1024


REQUESTS = _Requests()


def _ports(connection: str) -> dict[int, str]:
    """{port: 'blob' | 'queue' | 'table'} of a development storage connection string."""
    ports: dict[int, str] = {}
    for part in connection.split(";"):
        name, _, value = part.partition("=")
        if name.endswith("Endpoint") and (port := urlsplit(value).port) is not None:
            ports[port] = name.removesuffix("Endpoint").lower()
    return ports


async def _measure(
    connection: str, workload: str, size: int, azurite_pid: int
) -> tuple[float, float, float, float]:
    """The workload's figure, the process's CPU ms per step, the storage requests per unit
    and Azurite's CPU ms per step while it ran."""
    sys.path.insert(0, str(ROOT / "bench"))
    from storage_counter import StorageCounter

    counter = StorageCounter(_ports(connection))
    REQUESTS.total = counter.total
    REQUESTS.azurite_pid = azurite_pid
    with counter.attached():
        if workload == "http_starts_per_s":
            value, cpu = await _http_starts(connection, size)
        else:
            value, cpu = await _engine_workload(connection, workload, size)
    requests, azurite = REQUESTS.during
    return value, cpu, requests / REQUEST_UNITS[workload], azurite * 1000 / STEPS[workload]


async def _engine_workload(connection: str, workload: str, size: int) -> tuple[float, float]:
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
        REQUESTS.start()
        started, cpu = time.perf_counter(), time.process_time()
        if workload == "hop_ms":
            await run("sequence", size)
            value = (time.perf_counter() - started) * 1000 / size
        elif workload == "fan_out_s":
            await run("fan_out", size)
            value = time.perf_counter() - started
        else:
            await asyncio.gather(*(run("sequence", 5) for _ in range(size)))
            value = size / (time.perf_counter() - started)
        REQUESTS.stop()
        return value, (time.process_time() - cpu) * 1000 / STEPS[workload]
    finally:
        await engine.stop()
        await engine.storage.delete_task_hub()


@asynccontextmanager
async def starts_host(connection: str) -> AsyncIterator[tuple[Any, Callable[[], Awaitable[None]]]]:
    """The whole host on the bench app, on a fresh task hub: (its engine, one start), where
    one start POSTs to the app's starter and waits for its orchestration's end (10
    connections at most)."""
    import aiohttp

    from durable_host.server.host import DurableHost, HostOptions
    from durable_host.taskhub.storage import TaskHubStorage

    environ = {
        "AzureWebJobsStorage": connection,
        "AzureFunctionsJobHost__extensions__durableTask__hubName": "ab" + uuid.uuid4().hex[:10],
    }
    host = DurableHost(
        HostOptions(app_dir=ROOT / "bench" / "app", host="127.0.0.1", port=0),
        environ=environ,
        echo=lambda _: None,
    )
    await host.start()
    # Each request's invocation line would be logged at INFO.
    logging.getLogger("durable_host").setLevel(logging.WARNING)
    assert host.engine is not None
    engine = host.engine
    url = f"http://127.0.0.1:{host.port}/api/orchestrators/single"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=10)) as session:

            async def one() -> None:
                async with session.post(url, data=b"1") as response:
                    assert response.status == 202, response.status
                    instance = (await response.json())["id"]
                status = await engine.client.wait_for_completion(instance, timeout=600)
                assert status is not None and status.runtime_status.name == "Completed", status

            yield engine, one
    finally:
        await host.stop()
        async with TaskHubStorage(connection, engine.names) as storage:
            await storage.delete_task_hub()


async def _http_starts(connection: str, size: int) -> tuple[float, float]:
    """`size` POSTs to the app's starter from 10 clients, each to its orchestration's end."""
    async with starts_host(connection) as (_, one):
        await one()  # warm-up
        jobs = iter(range(size))

        async def client() -> None:
            for _ in jobs:
                await one()

        REQUESTS.start()
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client() for _ in range(10)))
        value = size / (time.perf_counter() - started)
        REQUESTS.stop()
        return value, (time.process_time() - cpu) * 1000 / STEPS["http_starts_per_s"]


Figures = tuple[float, float, float, float]  # value, host CPU, requests, Azurite CPU


def _in_process(
    source: Path, connection: str, workload: str, env: dict[str, str], azurite_pid: int
) -> Figures | None:
    command = [sys.executable, __file__, "--child", "--connection", connection]
    command += ["--workload", workload, "--azurite-pid", str(azurite_pid)]
    env = dict(os.environ, PYTHONPATH=str(source), **env)
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    value, cpu, requests, azurite = json.loads(out.stdout.strip().splitlines()[-1])
    return float(value), float(cpu), float(requests), float(azurite)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="folder holding the durable_host to compare")
    parser.add_argument(
        "--base-azurite", type=Path, help="folder whose node_modules has the base's Azurite"
    )
    for side in ("", "base-"):
        parser.add_argument(
            f"--{side}node-flags",
            type=shlex.split,
            default=None,
            help=f"node flags of the {side or 'this '}side's Azurite (one quoted string)",
        )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workloads", default=",".join(SIZES), help="comma-separated subset")
    parser.add_argument(
        "--base-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of the base runs only (e.g. a switch that turns a change off)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--connection", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--azurite-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        size = SIZES[args.workload]
        measured = _measure(args.connection, args.workload, size, args.azurite_pid)
        print(json.dumps(list(asyncio.run(measured))))
        return
    sys.path.insert(0, str(ROOT))
    from durable_host.server.azurite import AzuriteProcess

    base_env = dict(item.split("=", 1) for item in args.base_env)
    results: dict[tuple[str, str], list[Figures]] = {}
    with contextlib.ExitStack() as stack:
        azurite = stack.enter_context(AzuriteProcess(ROOT, **_flags(args.node_flags)))
        base_azurite = azurite
        if args.base_azurite is not None or args.base_node_flags is not None:
            base_dir = (args.base_azurite or ROOT).resolve()
            base_flags = _flags(args.base_node_flags)
            base_azurite = stack.enter_context(AzuriteProcess(base_dir, **base_flags))
        base = args.base.resolve() if args.base is not None else ROOT
        variants = [("base", base, base_env, base_azurite), ("this", ROOT, {}, azurite)]
        for round_ in range(args.rounds):
            for workload in args.workloads.split(","):
                for name, source, env, on in variants[:: 1 if round_ % 2 == 0 else -1]:
                    got = _in_process(source, on.connection_string, workload, env, on.pid or 0)
                    if got is not None:
                        results.setdefault((workload, name), []).append(got)
                        print(
                            f"round {round_ + 1} {workload} {name}: {got[0]:.2f}, "
                            f"host CPU {got[1]:.2f} ms/step, {got[2]:.2f} requests/unit, "
                            f"Azurite CPU {got[3]:.2f} ms/step, Azurite RSS "
                            f"{_rss_mib(on.pid or 0):.0f} MiB",
                            flush=True,
                        )
    _print_medians(results)


def _flags(given: list[str] | None) -> dict[str, Any]:
    """AzuriteProcess's keyword for node flags given on the command line (none: its default)."""
    return {} if given is None else {"node_flags": given}


def _print_medians(results: dict[tuple[str, str], list[Figures]]) -> None:
    """Each variant's medians, then the median over rounds of this/base host CPU per step
    and Azurite's (both measured in the same round, so load that moves between rounds
    cancels)."""
    for (workload, name), runs in sorted(results.items()):
        columns = list(zip(*runs, strict=True))
        medians = [statistics.median(c) for c in columns]
        listed = ", ".join(f"{v:.2f}" for v in columns[0])
        print(
            f"{workload} {name}: median {medians[0]:.2f} ({listed}); "
            f"host CPU median {medians[1]:.2f} ms/step "
            f"({', '.join(f'{c:.2f}' for c in columns[1])}); "
            f"requests/unit median {medians[2]:.2f}; Azurite CPU median {medians[3]:.2f} ms/step"
        )
    for workload in sorted({w for w, _ in results}):
        base, this = results.get((workload, "base"), []), results.get((workload, "this"), [])
        for label, column in (("host CPU", 1), ("Azurite CPU", 3)):
            ratios = [t[column] / b[column] for b, t in zip(base, this, strict=False) if b[column]]
            if ratios:
                print(
                    f"{workload}: {label} per step this/base, median of {len(ratios)} rounds "
                    f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.2f}' for r in ratios)})"
                )


if __name__ == "__main__":
    main()
