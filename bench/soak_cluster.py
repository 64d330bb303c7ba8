"""The soak's cluster and its faults: one Azurite on disk, three hosts, a fault proxy per host.

Each host reaches Azurite through its own `ProxiedStorage` (tests/fault_proxy.py), so a fault
can pause or reset one host's storage while the others go on. The soak's driver talks to
Azurite directly. Azurite keeps its data in a folder, so it can be stopped and started again
on the same ports with the same data.

Faults come from a seeded schedule (`plan_faults`): each kind has its own times, so they
overlap. Every fault is logged with its start and end (seconds since the soak began).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from durable_host.server.azurite import AzuriteProcess
from tests.fault_proxy import ProxiedStorage
from tests.reliability._crash_harness import WorkloadHost, rss_mib

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("host_kill", "storage_pause", "connection_reset", "azurite_restart", "loop_block")


@dataclass
class FaultRecord:
    kind: str
    start: float
    end: float | None = None
    detail: str = ""


@dataclass
class Slot:
    """One of the hosts: its proxy stays, the process in it is replaced after a kill."""

    number: int
    proxy: ProxiedStorage
    host: WorkloadHost | None = None
    retired: list[WorkloadHost] = field(default_factory=list)
    paused: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Held from a kill to its restart: two at once restarted the slot twice, and the first
    # new host ran on untracked, never killed, stopped or logged (soak seed 1, 60 min: 4).
    restarting: asyncio.Lock = field(default_factory=asyncio.Lock)


class Cluster:
    def __init__(self, work: Path, hub_name: str, env: dict[str, str], hosts: int) -> None:
        self.work = work
        self.hub_name = hub_name
        self.env = env
        self.host_count = hosts
        self.azurite: AzuriteProcess | None = None
        self.slots: list[Slot] = []
        self.began = time.monotonic()
        self.faults: list[FaultRecord] = []
        self.rss: list[tuple[float, int, int, float]] = []  # (t, slot, pid, MiB)
        self.storage_up = asyncio.Event()
        self.stopped = False

    def now(self) -> float:
        return round(time.monotonic() - self.began, 2)

    @property
    def connection_string(self) -> str:
        assert self.azurite is not None
        return self.azurite.connection_string

    async def start(self) -> None:
        self.azurite = AzuriteProcess(ROOT, location=self.work / "azurite")
        await asyncio.to_thread(self.azurite.start)
        self.storage_up.set()
        for number in range(self.host_count):
            proxy = await ProxiedStorage(self.connection_string).start()
            self.slots.append(Slot(number, proxy))
        for slot in self.slots:
            await self._start_host(slot)

    async def _start_host(self, slot: Slot) -> None:
        """Start a host in the slot, trying again while storage is down (its start needs it)."""
        for attempt in range(20):
            host = WorkloadHost(
                storage=slot.proxy.connection_string, hub_name=self.hub_name, env=self.env
            )
            try:
                await asyncio.to_thread(host.start)
            except AssertionError:
                with contextlib.suppress(Exception):
                    host.kill()
                slot.retired.append(host)
                await asyncio.sleep(min(1 + attempt, 5))
                continue
            slot.host = host
            return
        raise RuntimeError(f"host slot {slot.number} could not start a host 20 times")

    def live_urls(self) -> list[str]:
        return [s.host.base_url for s in self.slots if s.host is not None and s.host.alive()]

    async def stop(self) -> list[int]:
        """SIGTERM every host (each must drain and exit 0), then close proxies and Azurite."""
        codes: list[int] = []
        if self.stopped:
            return codes
        self.stopped = True
        for slot in self.slots:
            if slot.host is not None:
                codes.append(await asyncio.to_thread(slot.host.stop))
                slot.retired.append(slot.host)
                slot.host = None
        for slot in self.slots:
            await slot.proxy.close()
        if self.azurite is not None:
            await asyncio.to_thread(self.azurite.stop)
        return codes

    def host_output(self) -> str:
        parts = []
        for slot in self.slots:
            for host in [*slot.retired, *([slot.host] if slot.host else [])]:
                parts.append(f"--- slot {slot.number}, host pid {host.pid} ---\n{host.output}")
        return "\n\n".join(parts)

    def sample_rss(self) -> None:
        for slot in self.slots:
            if slot.host is not None and slot.host.alive():
                with contextlib.suppress(OSError, AssertionError):
                    self.rss.append(
                        (self.now(), slot.number, slot.host.pid, rss_mib(slot.host.pid))
                    )

    # -- faults ---------------------------------------------------------------------------

    def _begin(self, kind: str, detail: str) -> FaultRecord:
        record = FaultRecord(kind, self.now(), detail=detail)
        self.faults.append(record)
        print(f"[{record.start:7.1f}s] fault {kind} begins: {detail}", flush=True)
        return record

    def _end(self, record: FaultRecord) -> None:
        record.end = self.now()
        print(f"[{record.end:7.1f}s] fault {record.kind} ends", flush=True)

    async def kill_host(self, rng: random.Random) -> None:
        slot = rng.choice(self.slots)
        down = rng.uniform(0.5, 5.0)
        async with slot.restarting:
            record = self._begin("host_kill", f"slot {slot.number}, restarted after {down:.1f} s")
            if slot.host is not None:
                record.detail += f" (pid {slot.host.pid})"
                await asyncio.to_thread(slot.host.kill)
                slot.retired.append(slot.host)
                slot.host = None
            await asyncio.sleep(down)
            await self._start_host(slot)
            self._end(record)

    async def pause_storage(self, rng: random.Random, longest: float) -> None:
        chosen = self.slots if rng.random() < 0.3 else [rng.choice(self.slots)]
        seconds = rng.uniform(5.0, longest)
        names = ", ".join(str(s.number) for s in chosen)
        async with contextlib.AsyncExitStack() as held:
            # One pause of a slot at a time: an earlier one's resume must not end this one.
            for slot in chosen:
                await held.enter_async_context(slot.paused)
            record = self._begin("storage_pause", f"slots {names} for {seconds:.1f} s")
            for slot in chosen:
                slot.proxy.pause()
            await asyncio.sleep(seconds)
            for slot in chosen:
                await slot.proxy.resume()
            self._end(record)

    async def reset_connections(self, rng: random.Random) -> None:
        slot = rng.choice(self.slots)
        resets = rng.randint(1, 4)
        record = self._begin("connection_reset", f"slot {slot.number}, {resets} resets")
        for _ in range(resets):
            for proxy in slot.proxy.proxies.values():
                proxy.reset()
            await asyncio.sleep(rng.uniform(0.1, 1.0))
        self._end(record)

    async def restart_azurite(self, rng: random.Random) -> None:
        assert self.azurite is not None
        down = rng.uniform(1.0, 10.0)
        record = self._begin("azurite_restart", f"stopped (SIGTERM) for {down:.1f} s")
        ports = self.azurite.ports
        self.storage_up.clear()
        await asyncio.to_thread(self.azurite.stop)
        await asyncio.sleep(down)
        self.azurite = AzuriteProcess(
            ROOT,
            location=self.work / "azurite",
            blob_port=ports[0],
            queue_port=ports[1],
            table_port=ports[2],
        )
        await asyncio.to_thread(self.azurite.start)
        self.storage_up.set()
        self._end(record)

    def loop_block_begins(self, seconds: float) -> FaultRecord:
        return self._begin(
            "loop_block", f"an async activity spins {seconds:.1f} s on a host's loop"
        )

    def loop_block_ends(self, record: FaultRecord) -> None:
        self._end(record)


def plan_faults(
    rng: random.Random, window: tuple[float, float], per_kind: int
) -> list[tuple[float, str]]:
    """`per_kind` seeded moments in `window` for each kind, merged in time order."""
    first, last = window
    times = [(rng.uniform(first, last), kind) for kind in KINDS for _ in range(per_kind)]
    return sorted(times)


async def run_faults(
    cluster: Cluster,
    schedule: list[tuple[float, str]],
    rng: random.Random,
    *,
    longest_pause: float,
    block: Callable[[float], Awaitable[None]],
) -> None:
    """Fire each fault at its moment (as its own task, so they overlap); wait for them all.

    Azurite restarts never overlap each other (one Azurite), nor do two pauses of one slot."""
    running: set[asyncio.Task[None]] = set()
    serial = asyncio.Lock()

    async def azurite_restart(fault_rng: random.Random) -> None:
        async with serial:
            await cluster.restart_azurite(fault_rng)

    for moment, kind in schedule:
        await asyncio.sleep(max(0.0, moment - cluster.now()))
        fault_rng = random.Random(rng.random())
        if kind == "host_kill":
            job: Awaitable[None] = cluster.kill_host(fault_rng)
        elif kind == "storage_pause":
            job = cluster.pause_storage(fault_rng, longest_pause)
        elif kind == "connection_reset":
            job = cluster.reset_connections(fault_rng)
        elif kind == "azurite_restart":
            job = azurite_restart(fault_rng)
        else:
            job = block(fault_rng.uniform(2.0, 6.0))
        task = asyncio.ensure_future(job)
        running.add(task)
        task.add_done_callback(running.discard)
    results = await asyncio.gather(*running, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
