"""Probe one pass of Azurite's queue garbage collector, with requests timed while it runs.

Used by test_azurite_gc.py, and by hand to measure a pass for docs/azurite-gc.md:

    .venv/bin/python -m tests.server.gc_probe 8000            # in memory (the tests' mode)
    .venv/bin/python -m tests.server.gc_probe 8000 --on-disk  # --location, as `start` runs it

Every queue message Azurite stores leaves one extent; once the message is deleted the extent
is unreferenced and the next pass sweeps it. The probe starts its own Azurite with
`azurite_gc_hook.cjs` loaded (passes run on SIGUSR2 instead of every 60 s, and report their
size and duration), fills a queue with `extents` messages through a minimal aiohttp client
(account SAS, no SDK pipeline: the SDK would take longer than the pass), clears it, starts
one pass and keeps one request in flight until the pass has ended.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from azure.storage.queue import AccountSasPermissions, ResourceTypes, generate_account_sas

from durable_host.server.azurite import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, AzuriteProcess

PROJECT_DIR = Path(__file__).resolve().parents[2]
HOOK = Path(__file__).resolve().parent / "azurite_gc_hook.cjs"
QUEUE = "gcprobe"


@dataclass(frozen=True)
class GcPass:
    extents: int  # unreferenced extents the pass swept
    ms: float  # the pass's duration, measured inside Azurite


@dataclass(frozen=True)
class GcProbe:
    gc_pass: GcPass | None  # None: a request gave up before the pass ended
    latencies: list[float]  # seconds, each request made while the pass ran (and just around it)


@contextmanager
def hooked_environment(report: Path) -> Iterator[None]:
    """NODE_OPTIONS and the report path for the Azurite started inside the block."""
    saved = {name: os.environ.get(name) for name in ("NODE_OPTIONS", "AZURITE_GC_REPORT")}
    os.environ["NODE_OPTIONS"] = f"--require {HOOK}"
    os.environ["AZURITE_GC_REPORT"] = str(report)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _passes(report: Path) -> list[GcPass]:
    if not report.exists():
        return []
    lines = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    return [
        GcPass(int(line["extents"]), float(line["ms"])) for line in lines if line["event"] == "end"
    ]


async def _wait_for_passes(
    report: Path, count: int, *, deadline: float, unless: asyncio.Task[object] | None = None
) -> list[GcPass]:
    while len(passes := _passes(report)) < count:
        if unless is not None and unless.done():
            return passes
        if time.monotonic() > deadline:
            raise TimeoutError(f"Azurite's queue GC ran {len(passes)} passes, expected {count}")
        await asyncio.sleep(0.05)
    return passes


def _account_sas() -> str:
    return generate_account_sas(
        DEV_ACCOUNT_NAME,
        DEV_ACCOUNT_KEY,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(
            read=True, write=True, delete=True, list=True, add=True, create=True, process=True
        ),
        expiry=datetime.now(timezone.utc) + timedelta(hours=2),
    )


async def _fill_and_clear(
    session: aiohttp.ClientSession, queue_url: str, sas: str, count: int
) -> None:
    async with session.put(f"{queue_url}?{sas}") as response:
        assert response.status in (201, 204), await response.text()
    body = "<QueueMessage><MessageText>e30=</MessageText></QueueMessage>"
    remaining = iter(range(count))

    async def sender() -> None:
        for _ in remaining:
            async with session.post(f"{queue_url}/messages?{sas}", data=body) as response:
                assert response.status == 201, await response.text()

    await asyncio.gather(*(sender() for _ in range(32)))
    async with session.delete(f"{queue_url}/messages?{sas}") as response:
        assert response.status == 204, await response.text()


async def _timed_requests_until(
    session: aiohttp.ClientSession, url: str, done: asyncio.Event, timeout: float
) -> list[float]:
    latencies: list[float] = []
    while not done.is_set():
        started = time.monotonic()
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                await response.read()
                assert response.status == 200, response.status
        except asyncio.TimeoutError:
            latencies.append(time.monotonic() - started)
            break
        latencies.append(time.monotonic() - started)
    return latencies


async def probe(
    extents: int, *, location: Path | None = None, request_timeout: float = 10.0
) -> GcProbe:
    """Run one GC pass over `extents` unreferenced extents; time requests made during it."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "gc.jsonl"
        with hooked_environment(report):
            azurite = AzuriteProcess(PROJECT_DIR, location=location)
            await asyncio.to_thread(azurite.start)
        try:
            return await _probe_running(azurite, report, extents, request_timeout)
        finally:
            await asyncio.to_thread(azurite.stop)


async def _probe_running(
    azurite: AzuriteProcess, report: Path, extents: int, request_timeout: float
) -> GcProbe:
    queue_url = f"http://127.0.0.1:{azurite.queue_port}/{DEV_ACCOUNT_NAME}/{QUEUE}"
    sas = _account_sas()
    connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=2)
    async with aiohttp.ClientSession(connector=connector) as session:
        # The pass Azurite runs at startup comes first; then the hook holds the next one.
        await _wait_for_passes(report, 1, deadline=time.monotonic() + 30)
        await _fill_and_clear(session, queue_url, sas, extents)
        done = asyncio.Event()
        requests = asyncio.create_task(
            _timed_requests_until(
                session, f"{queue_url}?comp=metadata&{sas}", done, request_timeout
            )
        )
        assert azurite._process is not None
        os.kill(azurite._process.pid, signal.SIGUSR2)
        try:
            passes = await _wait_for_passes(
                report, 2, deadline=time.monotonic() + 1800, unless=requests
            )
        finally:
            done.set()
            latencies = await requests
    return GcProbe(passes[1] if len(passes) > 1 else None, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extents", type=int, nargs="+")
    parser.add_argument("--on-disk", action="store_true", help="Azurite with --location")
    args = parser.parse_args()
    for count in args.extents:
        with tempfile.TemporaryDirectory() as data:
            location = Path(data) if args.on_disk else None
            result = asyncio.run(probe(count, location=location, request_timeout=3600))
        worst = max(result.latencies, default=0.0)
        swept = result.gc_pass
        assert swept is not None  # requests wait as long as the pass takes
        print(
            f"{count} messages: pass swept {swept.extents} extents in {swept.ms:.0f} ms; "
            f"{len(result.latencies)} requests meanwhile, slowest {worst * 1000:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
