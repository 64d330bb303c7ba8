"""Load: bursts of orchestrations started over HTTP by concurrent clients against one host
process; every instance completes, and the host's memory does not keep growing burst after
burst (its RSS is sampled from /proc the whole time).

Size: DURABLE_HOST_LOAD_INSTANCES (default 1000, in 4 bursts; docs/reliability.md has the
5,000-instance figures, run with DURABLE_HOST_LOAD_INSTANCES=5000).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import aiohttp
import pytest

from durable_host.taskhub.events import OrchestrationStatus
from tests.reliability._crash_harness import Fleet, HubClient, rss_mib, wait_until

pytestmark = pytest.mark.azurite

INSTANCES = int(os.environ.get("DURABLE_HOST_LOAD_INSTANCES") or 1000)
BURSTS = 4
CLIENTS = 8
_PROVIDER = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__"
# The app's host.json hides messages for only 10 s (for the crash tests); under load an
# episode may wait longer than that for a slot, so use the extension's defaults here.
LOAD_SETTINGS = {
    _PROVIDER + "controlQueueVisibilityTimeout": "00:05:00",
    _PROVIDER + "workItemQueueVisibilityTimeout": "00:05:00",
}
# How long the queues may take to empty once every instance shows Completed (the host deletes
# an episode's messages after its Instances row is written); well under the visibility timeout.
DRAIN_TIMEOUT = 60.0


async def _burst(base_url: str, ids: list[int]) -> None:
    """Start `ids` through the app's HTTP starter from CLIENTS concurrent clients."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in ids:
        queue.put_nowait(i)

    async def client() -> None:
        async with aiohttp.ClientSession() as http:
            while not queue.empty():
                i = queue.get_nowait()
                async with http.post(f"{base_url}/api/start/hello/l-{i:05d}", json=i) as response:
                    assert response.status == 202, await response.text()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def test_bursts_complete_and_memory_stays_flat(
    azurite: str, hub_name: str, tmp_path: Path
) -> None:
    fleet = Fleet(azurite, hub_name, LOAD_SETTINGS)
    samples: list[tuple[float, float]] = []
    marks: list[dict[str, float]] = []
    async with HubClient(azurite, hub_name) as hub:
        try:
            host = await fleet.start_host()
            began = time.monotonic()

            async def sample() -> None:
                while True:
                    samples.append(
                        (round(time.monotonic() - began, 1), round(rss_mib(host.pid), 1))
                    )
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            per_burst = INSTANCES // BURSTS
            for burst in range(BURSTS):
                ids = list(range(burst * per_burst, (burst + 1) * per_burst))
                started = time.monotonic()
                await _burst(host.base_url, ids)
                start_s = time.monotonic() - started
                wanted = {f"l-{i:05d}" for i in ids}

                async def burst_done(wanted: set[str] = wanted) -> bool:
                    statuses = await hub.statuses()
                    return all(statuses.get(i) == OrchestrationStatus.Completed for i in wanted)

                await wait_until(
                    burst_done, timeout=300, what=f"burst {burst} to complete", every=0.5
                )
                marks.append(
                    {
                        "burst": burst,
                        "start_s": round(start_s, 1),
                        "complete_s": round(time.monotonic() - started, 1),
                        "rss_mib": round(rss_mib(host.pid), 1),
                    }
                )
            # Idle after the bursts: sessions are evicted, nothing should grow.
            await asyncio.sleep(3.0)  # the measurement window, not a wait for anything
            sampler.cancel()
            idle_rss = rss_mib(host.pid)
            records, token = [], None
            while True:
                page, token = await hub.storage.query_instances(top=1000, continuation_token=token)
                records.extend(page)
                if token is None:
                    break
            # Far below the 5-minute visibility timeout: a message the host holds or hid
            # and never deletes is still there when this gives up.
            lengths, drain_s = await hub.wait_drained(timeout=DRAIN_TIMEOUT)
            codes = await fleet.stop_all()
        finally:
            for live in list(fleet.hosts):
                fleet.kill(live)

    figures = {
        "test": "load",
        "instances": INSTANCES,
        "bursts": marks,
        "peak_rss_mib": round(max(rss for _, rss in samples), 1),
        "idle_rss_mib": round(idle_rss, 1),
        "queues_drained_after_s": drain_s,
        "rss_over_time": samples[:: max(1, len(samples) // 40)],
    }
    line = json.dumps(figures)
    print(f"\nreliability figures: {line}")
    if os.environ.get("DURABLE_HOST_RELIABILITY_REPORT"):
        with open(os.environ["DURABLE_HOST_RELIABILITY_REPORT"], "a", encoding="utf-8") as out:
            out.write(line + "\n")

    assert codes == [0], fleet.output()
    assert len(records) == INSTANCES
    wrong = [
        r.instance_id for r in records if json.loads(r.output or "null") != int(r.instance_id[2:])
    ]
    assert not wrong, f"{len(wrong)} wrong outputs, e.g. {wrong[:5]}"
    assert not any(lengths.values()), f"messages left behind after {drain_s} s: {lengths}"
    # Flat: once the first burst has warmed the host up, later bursts of the same size add
    # no more than a little (a leak of a few KiB per instance would show as tens of MiB).
    growth = marks[-1]["rss_mib"] - marks[0]["rss_mib"]
    assert growth < 40, f"RSS grew {growth:.1f} MiB from the first burst to the last: {marks}"
    assert idle_rss - marks[-1]["rss_mib"] < 10, (idle_rss, marks)
