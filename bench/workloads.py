"""The durable_host workloads of the benchmark suite, each on a fresh task hub on Azurite.

Every workload goes through the engine's public client API and returns plain figures;
nothing here asserts a timing (goals are compared in the report, not enforced).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from storage_counter import StorageCounter, diff

from durable_host.engine.runtime import Engine, EngineSettings
from durable_host.functions import FunctionIndex, FunctionInvoker, load_app
from durable_host.server.host import DurableHost, HostOptions
from durable_host.taskhub.storage import TaskHubStorage

__all__ = ["Suite", "requests_per_start"]

APP_DIR = Path(__file__).resolve().parent / "app"
# The benchmark client's own requests while it waits for an instance (StorageCounter.aside).
_WAITS = "bench client waits"
Progress = Callable[[str], None]
R = dict[str, Any]


def _input(value: object) -> str:
    # The extension stores an orchestration input as JSON text of the JSON value.
    return json.dumps(json.dumps(value))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class _RssSampler:
    """Peak resident set size of this process (the host runs in it), sampled every 10 ms."""

    def __init__(self) -> None:
        self.baseline_kib = _rss_kib()
        self.peak_kib = self.baseline_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_kib = max(self.peak_kib, _rss_kib())

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, _rss_kib())


class Suite:
    """Runs the workloads against one Azurite; `counter` must be attached by the caller."""

    def __init__(self, connection_string: str, counter: StorageCounter, progress: Progress):
        self.connection = connection_string
        self.counter = counter
        self.progress = progress
        self.index: FunctionIndex = load_app(APP_DIR)

    @asynccontextmanager
    async def engine(self) -> AsyncIterator[Engine]:
        hub = "bench" + uuid.uuid4().hex[:10]
        # Defaults of the extension (host.json durableTask), idle back-off up to 30 s.
        engine = Engine(
            self.connection, EngineSettings(hub_name=hub), self.index, FunctionInvoker(self.index)
        )
        await engine.start()
        try:
            yield engine
        finally:
            # Stop first: the pollers must not meet queues that are being deleted.
            await engine.stop()
            async with TaskHubStorage(self.connection, engine.names) as storage:
                await storage.delete_task_hub()

    async def _run(self, engine: Engine, name: str, value: object, timeout: float) -> Any:
        instance = await engine.client.start_new(name, None, _input(value))
        status = await engine.client.wait_for_completion(instance, timeout=timeout)
        if status is None or status.runtime_status.name != "Completed":
            raise RuntimeError(f"{name} did not complete: {status}")
        return json.loads(status.output) if status.output else None

    # -- 1. sequential chain ----------------------------------------------------------------

    async def sequential(self, hops: int, runs: int) -> dict[str, Any]:
        per_hop: list[float] = []
        end_to_end: list[float] = []
        async with self.engine() as engine:
            await self._run(engine, "sequence", 2, 60)  # warm-up: imports, connections
            for run in range(runs):
                started = time.perf_counter()
                stamps = await self._run(engine, "stamped_sequence", hops, 300)
                end_to_end.append((time.perf_counter() - started) * 1000 / hops)
                per_hop += [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
                self.progress(
                    f"  run {run + 1}/{runs}: median hop "
                    f"{statistics.median(per_hop[-(hops - 1) :]):.1f} ms"
                )
        return {
            "hops": hops,
            "runs": runs,
            "median_ms": statistics.median(per_hop),
            "p95_ms": _percentile(per_hop, 0.95),
            "end_to_end_ms_per_hop": statistics.median(end_to_end),
            "samples_ms": per_hop,
        }

    # -- 2. fan-out/fan-in (and 8. peak RSS) -----------------------------------------------------

    async def fan_out(self, count: int, runs: int) -> dict[str, Any]:
        seconds: list[float] = []
        async with self.engine() as engine:
            await self._run(engine, "fan_out", 10, 60)
            with _RssSampler() as rss:
                for run in range(runs):
                    started = time.perf_counter()
                    done = await self._run(engine, "fan_out", count, 600)
                    if done != count:
                        raise RuntimeError(f"fan_out returned {done}, expected {count}")
                    seconds.append(time.perf_counter() - started)
                    self.progress(f"  run {run + 1}/{runs}: {seconds[-1]:.2f} s")
        median = statistics.median(seconds)
        return {
            "activities": count,
            "runs": runs,
            "seconds": median,
            "seconds_all": seconds,
            "activities_per_s": count / median,
            "rss_baseline_mib": rss.baseline_kib / 1024,
            "rss_peak_mib": rss.peak_kib / 1024,
        }

    # -- 3. many small orchestrations ----------------------------------------------------------

    async def concurrent(self, orchestrations: int, runs: int) -> dict[str, Any]:
        rates: list[float] = []
        async with self.engine() as engine:
            await self._run(engine, "sequence", 1, 60)
            for run in range(runs):
                started = time.perf_counter()
                await asyncio.gather(
                    *(self._run(engine, "sequence", 5, 600) for _ in range(orchestrations))
                )
                rates.append(orchestrations / (time.perf_counter() - started))
                self.progress(f"  run {run + 1}/{runs}: {rates[-1]:.0f} orchestrations/s")
        return {
            "orchestrations": orchestrations,
            "activities_each": 5,
            "runs": runs,
            "per_s": statistics.median(rates),
            "per_s_all": rates,
        }

    # -- 4. external events ----------------------------------------------------------------------

    async def events(self, total: int, per_instance: int, runs: int) -> dict[str, Any]:
        rates: list[float] = []
        instances_count = total // per_instance
        async with self.engine() as engine:
            for run in range(runs):
                instances = await asyncio.gather(
                    *(
                        engine.client.start_new("wait_events", None, _input(per_instance))
                        for _ in range(instances_count)
                    )
                )
                await self._until_running(engine, instances)
                senders = 20
                jobs = [iid for _ in range(per_instance) for iid in instances]
                one = json.dumps(1)
                started = time.perf_counter()

                async def sender(part: list[str], data: str = one) -> None:
                    for iid in part:
                        await engine.client.raise_event(iid, "go", data)

                await asyncio.gather(*(sender(jobs[i::senders]) for i in range(senders)))
                results = await asyncio.gather(
                    *(engine.client.wait_for_completion(i, timeout=600) for i in instances)
                )
                rates.append(total / (time.perf_counter() - started))
                bad = [s for s in results if s is None or s.output != json.dumps(per_instance)]
                if bad:
                    raise RuntimeError(f"{len(bad)} waiting orchestrations lost events: {bad[0]}")
                self.progress(f"  run {run + 1}/{runs}: {rates[-1]:.0f} events/s")
        return {
            "events": total,
            "instances": instances_count,
            "runs": runs,
            "per_s": statistics.median(rates),
            "per_s_all": rates,
        }

    async def _until_running(self, engine: Engine, instances: list[str]) -> None:
        """Wait (deadline 120 s) until every instance has started and waits for its events."""
        deadline = time.monotonic() + 120
        pending = set(instances)
        while pending:
            statuses = await asyncio.gather(*(engine.client.get_status(i) for i in pending))
            pending = {
                s.instance_id
                for s in statuses
                if s is not None and s.runtime_status.name != "Running"
            }
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} orchestrations never started")
            if pending:
                await asyncio.sleep(0.05)

    # -- 5. entities -----------------------------------------------------------------------------

    async def entities(self, signals: int, entities: int, runs: int) -> dict[str, Any]:
        rates: list[float] = []
        one = _input(1)
        for run in range(runs):
            async with self.engine() as engine:
                keys = [f"e{i}" for i in range(entities)]
                before = engine.entities.operations_run
                jobs = [keys[i % entities] for i in range(signals)]
                senders = 10
                started = time.perf_counter()

                async def sender(part: list[str], engine: Engine = engine) -> None:
                    for key in part:
                        await engine.client.signal_entity("counter", key, "add", one)

                await asyncio.gather(*(sender(jobs[i::senders]) for i in range(senders)))
                await self._until(_ran(engine, before + signals))
                rates.append(signals / (time.perf_counter() - started))
                states = await asyncio.gather(
                    *(engine.client.read_entity("counter", k) for k in keys)
                )
                expected = json.dumps(signals // entities)
                wrong = [s for s in states if s is None or s.state != expected]
                if wrong:
                    raise RuntimeError(f"entity states lost or doubled operations: {wrong[0]}")
            self.progress(f"  {entities} entities, run {run + 1}/{runs}: {rates[-1]:.0f} ops/s")
        return {
            "signals": signals,
            "entities": entities,
            "runs": runs,
            "per_s": statistics.median(rates),
            "per_s_all": rates,
        }

    async def _until(self, condition: Callable[[], bool], timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError("the engine did not finish the work within its deadline")
            await asyncio.sleep(0.002)

    # -- 9. HTTP starts ---------------------------------------------------------------------------

    async def http_starts(self, total: int, clients: int, runs: int) -> dict[str, Any]:
        """`total` POSTs to the app's starter from `clients` concurrent loopback clients, each
        a 1-activity orchestration, each timed from its POST to its completion."""
        rates: list[float] = []
        latencies: list[float] = []
        async with self.http_host() as host:
            assert host.engine is not None
            engine = host.engine
            url = f"http://127.0.0.1:{host.port}/api/orchestrators/single"
            connector = aiohttp.TCPConnector(limit=clients)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def one() -> float:
                    started = time.perf_counter()
                    async with session.post(url, data=b"1") as response:
                        if response.status != 202:
                            raise RuntimeError(f"the starter answered {response.status}")
                        instance = (await response.json())["id"]
                    with self.counter.aside(_WAITS):
                        status = await engine.client.wait_for_completion(instance, timeout=600)
                    if status is None or status.runtime_status.name != "Completed":
                        raise RuntimeError(f"started instance did not complete: {status}")
                    return time.perf_counter() - started

                await one()  # warm-up: imports, connections
                before = self.counter.snapshot(), self.counter.snapshot(_WAITS)
                for run in range(runs):
                    jobs = iter(range(total))

                    async def client(jobs: Iterator[int] = jobs) -> list[float]:
                        return [await one() for _ in jobs]

                    started = time.perf_counter()
                    done = await asyncio.gather(*(client() for _ in range(clients)))
                    rates.append(total / (time.perf_counter() - started))
                    latencies += [s * 1000 for part in done for s in part]
                    self.progress(f"  run {run + 1}/{runs}: {rates[-1]:.0f} starts/s")
                await self._settled(engine)
                requests = requests_per_start(
                    diff(self.counter.snapshot(), before[0]),
                    diff(self.counter.snapshot(_WAITS), before[1]),
                    total * runs,
                )
        return {
            "starts": total,
            "clients": clients,
            "runs": runs,
            "per_s": statistics.median(rates),
            "per_s_all": rates,
            "p50_ms": statistics.median(latencies),
            "p95_ms": _percentile(latencies, 0.95),
            **requests,
        }

    @staticmethod
    async def _settled(engine: Engine) -> None:
        """Until the last checkpoints' background writes and deletes are done (at most 5 s):
        they belong to the starts just counted. Bounded, so a busy engine only counts less."""
        deadline = time.monotonic() + 5
        while not engine.is_idle() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    @asynccontextmanager
    async def http_host(self) -> AsyncIterator[DurableHost]:
        """The whole host (HTTP server and engine) on the bench app, on loopback."""
        hub = "bench" + uuid.uuid4().hex[:10]
        environ = {
            "AzureWebJobsStorage": self.connection,
            "AzureFunctionsJobHost__extensions__durableTask__hubName": hub,
        }
        host = DurableHost(
            HostOptions(app_dir=APP_DIR, host="127.0.0.1", port=0),
            environ=environ,
            echo=lambda _: None,
        )
        # Each request's invocation line would be logged at INFO: keep the bench's output.
        logging.getLogger("durable_host").setLevel(logging.WARNING)
        await host.start()
        try:
            yield host
        finally:
            names = host.engine.names if host.engine is not None else None
            await host.stop()
            if names is not None:
                async with TaskHubStorage(self.connection, names) as storage:
                    await storage.delete_task_hub()

    # -- 6. idle host, and 7. idle requests/s ------------------------------------------------------

    async def idle(self, idle_seconds: float) -> dict[str, Any]:
        async with self.engine() as engine:
            await self._run(engine, "single", 1, 60)  # the host has worked once, then idles
            # The first half lets the pollers back off; requests are counted in the second.
            await self._idle_for(idle_seconds / 2, idle_seconds)
            counted_from, before = time.perf_counter(), self.counter.snapshot()
            await self._idle_for(idle_seconds / 2, idle_seconds)
            idle_end = time.perf_counter()
            idle_ops = diff(self.counter.snapshot(), before)
            started = time.perf_counter()
            stamp = await self._run(engine, "first_stamp", None, 120)
            latency_ms = (stamp - started) * 1000
        return {
            "idle_seconds": idle_seconds,
            "first_activity_ms": latency_ms,
            "idle_requests_per_s": sum(idle_ops.values()) / (idle_end - counted_from),
            "idle_by_operation": idle_ops,
            "idle_window_s": idle_end - counted_from,
        }

    async def _idle_for(self, seconds: float, total: float) -> None:
        # Idling is the workload here, so this sleep measures, it does not synchronise.
        end = time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            await asyncio.sleep(min(10.0, left))
            self.progress(
                f"  idle, {left - min(10.0, left):.0f} s left of this half ({total:.0f} s in all)"
            )

    # -- 7. storage transactions per activity ------------------------------------------------------

    async def transactions(self, hops: int, fan: int) -> dict[str, Any]:
        """Requests of an N-activity run minus those of a 0-activity run, divided by N."""
        async with self.engine() as engine:
            await self._run(engine, "sequence", 1, 60)

            async def count(name: str, value: int) -> dict[str, int]:
                before = self.counter.snapshot()
                await self._run(engine, name, value, 600)
                return diff(self.counter.snapshot(), before)

            base = await count("sequence", 0)
            seq = await count("sequence", hops)
            fan_ops = await count("fan_out", fan)
        return {
            "sequential": _per_activity(seq, base, hops),
            # The SDK's task_all([]) yields None, so a 0-wide fan-out cannot run: the
            # 0-hop sequence is the same start, checkpoint and completion.
            "fan_out": _per_activity(fan_ops, base, fan),
            "orchestration_overhead": base,
        }


def requests_per_start(every: dict[str, int], waits: dict[str, int], starts: int) -> R:
    """The requests of the timed runs per HTTP start: the host's (everything counted, the
    pollers and leases of those seconds included, less the benchmark's waits) and the waits'
    (the benchmark client's status reads until each instance completed)."""
    host = {k: (n - waits.get(k, 0)) / starts for k, n in sorted(every.items())}
    host = {k: v for k, v in host.items() if v}
    return {
        "requests_per_start": sum(host.values()),
        "requests_by_operation": host,
        "wait_requests_per_start": sum(waits.values()) / starts,
    }


def _ran(engine: Engine, operations: int) -> Callable[[], bool]:
    return lambda: engine.entities.operations_run >= operations


def _per_activity(run: dict[str, int], base: dict[str, int], n: int) -> dict[str, Any]:
    ops = {k: (run.get(k, 0) - base.get(k, 0)) / n for k in sorted(set(run) | set(base))}
    ops = {k: v for k, v in ops.items() if v}
    return {"activities": n, "total": sum(ops.values()), "by_operation": ops}
