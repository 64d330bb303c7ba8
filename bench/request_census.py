"""Census of the storage requests of each step: by operation, by queue or table, by who asked.

Run: .venv/bin/python bench/request_census.py [--orchestrations 50] [--idle 75]
One Azurite (in memory), durable_host's engine with the extension's defaults, a fresh task
hub per workload. Every request is counted as `bench/storage_counter.py` counts it, and also
by its resource (a control queue, the work-item queue, the Instances, History or Partitions
table) and by its caller: the engine's client (`engine/client/`: a start's dedupe read, the
waiting client's status reads), the partition leases, or the provider (everything else:
dispatchers, checkpoints). Workloads:

- orchestration: N five-activity orchestrations at once, each started and waited for by the
  engine's client, per orchestration;
- fan-out activity: a 300-wide fan-out minus a 0-activity orchestration, per activity;
- hop: a 30-activity chain minus a 0-activity orchestration, per activity;
- http start: POSTs to the bench app's starter from 10 clients, each waited for, per start;
- idle: the requests per second of a host that worked once and then idled past its poll
  back-off (the last `--idle` seconds of twice that).

Prints one table per workload. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from storage_counter import StorageCounter, classify  # noqa: E402

from durable_host.engine.runtime import Engine, EngineSettings  # noqa: E402
from durable_host.functions import FunctionInvoker, load_app  # noqa: E402
from durable_host.server.azurite import AzuriteProcess  # noqa: E402
from durable_host.taskhub.storage import TaskHubStorage  # noqa: E402

APP = ROOT / "bench" / "app"
Key = tuple[str, str, str]  # (caller, operation, resource)


def resource_of(url: str) -> str:
    """'control', 'workitems', 'poison', 'Instances', 'History', 'Partitions', or the name."""
    segments = [unquote(s) for s in urlsplit(url).path.split("/") if s][1:]
    name = segments[0].split("(", 1)[0] if segments else ""
    for suffix in ("Instances", "History", "Partitions"):
        if name.endswith(suffix):
            return suffix
    if "-control-" in name:
        return "control"
    for suffix in ("-workitems", "-poison", "-largemessages", "-leases", "-applease"):
        if name.endswith(suffix):
            return suffix[1:]
    return name or "?"


def caller_of() -> str:
    """Who asked: the first durable_host frame up the await chain that says."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if "/durable_host/engine/client/" in path:
            return "client"
        if path.endswith("partition_manager.py"):
            return "leases"
        if "/durable_host/http/" in path or "/durable_host/server/" in path:
            return "client"
        frame = frame.f_back  # type: ignore[assignment]
    return "provider"


class Census(StorageCounter):
    def __init__(self, ports: dict[int, str]) -> None:
        super().__init__(ports)
        self.keys: Counter[Key] = Counter()

    def count(self, method: str, url: str) -> None:
        service = self._ports.get(urlsplit(url).port or 0)
        if service is None:
            return
        resource = resource_of(url)
        # The lease pass's requests run in tasks of their own (asyncio.wait_for), whose await
        # chain does not reach the partition manager.
        caller = "leases" if resource == "Partitions" else caller_of()
        key = (caller, classify(service, method, url), resource)
        with self._lock:
            self.keys[key] += 1

    def take(self) -> Counter[Key]:
        with self._lock:
            out, self.keys = self.keys, Counter()
        return out


def per_unit(run: Counter[Key], base: Counter[Key] | None, units: float) -> dict[Key, float]:
    base = base or Counter()
    keys = set(run) | set(base)
    out = {k: (run[k] - base[k]) / units for k in keys}
    return {k: v for k, v in sorted(out.items()) if abs(v) > 1e-9}


def show(title: str, figures: dict[Key, float]) -> None:
    print(f"\n### {title}\n\n| caller | operation | resource | per unit |\n|---|---|---|---:|")
    for (caller, op, resource), value in figures.items():
        print(f"| {caller} | {op} | {resource} | {value:.3f} |")
    by_caller: Counter[str] = Counter()
    for (caller, _, _), value in figures.items():
        by_caller[caller] += value  # type: ignore[assignment]
    parts = ", ".join(f"{c} {v:.2f}" for c, v in sorted(by_caller.items()))
    print(f"| **total** | | | **{sum(figures.values()):.2f}** ({parts}) |")


class Workloads:
    def __init__(self, connection: str, census: Census) -> None:
        self.connection = connection
        self.census = census
        self.index = load_app(APP)

    async def _engine(self) -> Engine:
        settings = EngineSettings(hub_name="census" + uuid.uuid4().hex[:10])
        engine = Engine(self.connection, settings, self.index, FunctionInvoker(self.index))
        await engine.start()
        return engine

    async def _close(self, engine: Engine) -> None:
        await engine.stop()
        async with TaskHubStorage(self.connection, engine.names) as storage:
            await storage.delete_task_hub()

    @staticmethod
    async def run(engine: Engine, name: str, value: int) -> None:
        instance = await engine.client.start_new(name, None, json.dumps(json.dumps(value)))
        status = await engine.client.wait_for_completion(instance, timeout=600)
        assert status is not None and status.runtime_status.name == "Completed", status

    async def chains(self, orchestrations: int) -> None:
        engine = await self._engine()
        try:
            await self.run(engine, "sequence", 2)  # warm-up: imports, connections
            await self._settle(engine)
            self.census.take()
            await asyncio.gather(*(self.run(engine, "sequence", 5) for _ in range(orchestrations)))
            await self._settle(engine)
            show(f"5-activity orchestration ({orchestrations} at once)",
                 per_unit(self.census.take(), None, orchestrations))  # fmt: skip
            base = await self._counted(engine, "sequence", 0)
            hop = await self._counted(engine, "sequence", 30)
            show("hop (30-activity chain minus a 0-activity one)", per_unit(hop, base, 30))
            show("a 0-activity orchestration (start, one checkpoint, end)", per_unit(base, None, 1))
            fan = await self._counted(engine, "fan_out", 300)
            show("fan-out activity (300 wide minus a 0-activity chain)", per_unit(fan, base, 300))
        finally:
            await self._close(engine)

    async def _counted(self, engine: Engine, name: str, value: int) -> Counter[Key]:
        self.census.take()
        await self.run(engine, name, value)
        await self._settle(engine)
        return self.census.take()

    @staticmethod
    async def _settle(engine: Engine) -> None:
        """Until the background row writes and deletes of the last checkpoints are done."""
        for _ in range(200):
            if engine.orchestrations.is_idle() and engine.activities.is_idle():
                return
            await asyncio.sleep(0.01)

    async def idle(self, seconds: float) -> None:
        engine = await self._engine()
        try:
            await self.run(engine, "sequence", 1)
            await asyncio.sleep(seconds)
            self.census.take()
            started = time.perf_counter()
            await asyncio.sleep(seconds)
            show(f"idle host, per second (the last {seconds:.0f} s of {2 * seconds:.0f})",
                 per_unit(self.census.take(), None, time.perf_counter() - started))  # fmt: skip
        finally:
            await self._close(engine)

    async def http_starts(self, total: int) -> None:
        from engine_ab import starts_host

        async with starts_host(self.connection) as (engine, one):
            await one()
            await self._settle(engine)
            self.census.take()
            jobs = iter(range(total))

            async def client() -> None:
                for _ in jobs:
                    await one()

            await asyncio.gather(*(client() for _ in range(10)))
            await self._settle(engine)
            show(f"HTTP start of a 1-activity orchestration ({total}, 10 clients)",
                 per_unit(self.census.take(), None, total))  # fmt: skip


async def main_async(args: argparse.Namespace, connection: str, census: Census) -> None:
    work = Workloads(connection, census)
    with census.attached():
        if "chains" in args.only:
            await work.chains(args.orchestrations)
        if "http" in args.only:
            await work.http_starts(args.starts)
        if "idle" in args.only and args.idle > 0:
            await work.idle(args.idle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orchestrations", type=int, default=50)
    parser.add_argument("--starts", type=int, default=100)
    parser.add_argument("--idle", type=float, default=75.0, help="seconds (0: skip)")
    parser.add_argument("--only", default="chains,http,idle")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with AzuriteProcess(ROOT) as azurite:
        ports = {azurite.queue_port: "queue", azurite.table_port: "table"}
        ports[azurite.blob_port] = "blob"
        census = Census(ports)
        asyncio.run(main_async(args, azurite.connection_string, census))


if __name__ == "__main__":
    main()
