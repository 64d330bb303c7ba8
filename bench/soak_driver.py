"""The soak's driver: runs plans through the public surfaces, as a user's code would.

Starts go through the Durable HTTP API, the app's own HTTP starter, or the engine client;
management calls through the HTTP API (terminate, raise event, purge) or the engine client
(suspend/resume, rewind, restart, signals). The driver talks to Azurite directly and each
HTTP call goes to a live host picked at random, so a fault on one host's storage shows up as
a failed or slow answer that the driver retries elsewhere, as a client with retries would.

A call whose answer was lost may still have happened: starts are checked in storage before
they are retried, and a client signal that failed is counted as "maybe applied" by the model.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.soak_cluster import Cluster
from bench.soak_workload import Plan, Signal, restarted
from durable_host.errors import DurableHostError, InstanceAlreadyExistsError, StorageError
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from tests.reliability._crash_harness import HubClient

WEBHOOK = "/runtime/webhooks/durabletask"
POLL_SECONDS = 0.5
JSON_HEADERS = {"Content-Type": "application/json"}
# How long a start message already sent can take to be run: the control queue's visibility
# timeout (10 s in tests/apps/reliability) after a kill, a lease move (4 s), and slack.
START_SETTLE_SECONDS = 30.0
UNEXPECTED = "unexpected answer: "  # a note the checker counts as wrong
RESUMED_AGAIN = "resumed again: still suspended after the resume"
# A resume sent while the suspend is still queued leaves the row Suspended until the resume
# is processed (seconds, longer through a fault): only a longer stretch means the suspend
# came after it.
SUSPENDED_SETTLE_SECONDS = 20.0


class Driver:
    def __init__(
        self, cluster: Cluster, hub: HubClient, markers: Path, deadline: float, http_timeout: float
    ) -> None:
        # Longer than any storage pause: a call held by a paused host still lands when its
        # storage answers, so a driver that gave up on it and tried again elsewhere would
        # start an instance twice (the second start of a finished instance is a new run).
        self.http_timeout = aiohttp.ClientTimeout(total=http_timeout)
        self.cluster = cluster
        self.hub = hub
        self.markers = markers
        self.deadline = deadline  # time.monotonic() after which nothing is waited for
        self.plans: list[Plan] = []
        self.signals: list[tuple[Signal, bool]] = []  # (signal, acknowledged)
        self.completions: list[tuple[float, float, str]] = []  # (t, latency s, kind)
        self.http_errors = 0
        self.storage_errors = 0
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Driver:
        self._session = aiohttp.ClientSession(timeout=self.http_timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    # -- storage and HTTP with retries -------------------------------------------------------

    async def storage(self, call: Callable[[], Any]) -> Any:
        """An idempotent storage call, repeated while storage fails, until the deadline.

        Only a failure is repeated: an answer such as "the instance is already Completed"
        (InstanceFinishedError) is final, and raised at once. Repeating it held a suspend plan
        whose instance finished before the resume until the deadline (its worker lost for the
        rest of the run, the plan "open" in the progress line: soak seed 3, 60 min)."""
        while True:
            await self.cluster.storage_up.wait()
            try:
                return await call()
            except (StorageError, OSError, asyncio.TimeoutError):
                self.storage_errors += 1
                if time.monotonic() > self.deadline:
                    raise
                await asyncio.sleep(1.0)

    async def http(self, method: str, path: str, ok: set[int], body: Any = None) -> int:
        """A call to a live host, repeated (on any host) while it fails or answers 5xx; the
        status once it answers anything else."""
        assert self._session is not None
        data = None if body is None else json.dumps(body)
        while True:
            urls = self.cluster.live_urls()
            if urls:
                url = random.choice(urls) + path
                try:
                    async with self._session.request(
                        method, url, data=data, headers=JSON_HEADERS
                    ) as answer:
                        await answer.read()
                        if answer.status in ok or answer.status < 500:
                            return answer.status
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    pass
            self.http_errors += 1
            if time.monotonic() > self.deadline:
                raise TimeoutError(
                    f"{method} {path}: no answer in {sorted(ok)} before the deadline"
                )
            await asyncio.sleep(1.0)

    async def record(self, instance_id: str) -> InstanceRecord | None:
        found: InstanceRecord | None = await self.storage(
            lambda: self.hub.storage.get_instance(instance_id)
        )
        return found

    async def wait_for(
        self, instance_id: str, done: Callable[[InstanceRecord], bool]
    ) -> InstanceRecord | None:
        """The instance's row once `done` holds; None if the deadline passes first."""
        while time.monotonic() < self.deadline:
            found = await self.record(instance_id)
            if found is not None and done(found):
                return found
            await asyncio.sleep(POLL_SECONDS)
        return None

    # -- one plan -------------------------------------------------------------------------------

    async def run(self, plan: Plan) -> None:
        self.plans.append(plan)
        plan.began_at = self.cluster.now()
        plan.waiting_on = f"its start ({plan.surface})"
        await self.start(plan)
        await self.follow(plan)

    async def follow(self, plan: Plan) -> None:
        """After the start was acknowledged: its management calls, then its end."""
        plan.acked_at = self.cluster.now()
        await ACTIONS.get(plan.action or "", _nothing)(self, plan)
        plan.waiting_on = "an end status in its row"
        final = await self.wait_for(plan.instance_id, _terminal)
        if final is None:
            return
        plan.finished_at = self.cluster.now()
        self.completions.append((plan.finished_at, plan.finished_at - plan.acked_at, plan.kind))
        if final.runtime_status == OrchestrationStatus.Completed:
            plan.waiting_on = f"its {plan.action} after the end"
            await AFTER.get(plan.action or "", _nothing)(self, plan)
        plan.waiting_on = "nothing (done)"

    async def start(self, plan: Plan) -> None:
        text = json.dumps(plan.input)
        if plan.surface == "http_api":
            path = f"{WEBHOOK}/orchestrators/{plan.kind}/{plan.instance_id}"
            if await self._try_http("POST", path, {202}, plan.input):
                return
        elif plan.surface == "http_starter":
            path = f"/api/start/{plan.kind}/{plan.instance_id}"
            if await self._try_http("POST", path, {202}, plan.input):
                return
        else:
            await self._start_through_client(plan, text)
            return
        # An HTTP start that failed may have happened anyway: the host may have sent the start
        # message and died (or lost its storage) before the Pending row, which a client writes
        # after the message. A second start would then run the instance twice (a start of a
        # finished or purged instance is a new run: soak seed 1, 60 min, s-007395), so the
        # driver waits for a worker to run a start already sent before sending its own.
        plan.waiting_on = "its row, after a failed HTTP start"
        if await self._row_appears(plan):
            return
        plan.notes.append(f"started again through the client at {self.cluster.now()}")
        await self._start_through_client(plan, text)

    async def _start_through_client(self, plan: Plan, text: str) -> None:
        """The engine client's start; after a failed attempt (which may have sent the start
        message, as above), again only if no worker ran one in time."""
        while True:
            try:
                await self.cluster.storage_up.wait()
                await self.hub.client.start_new(plan.kind, plan.instance_id, json.dumps(text))
                return
            except InstanceAlreadyExistsError:
                return
            except (DurableHostError, OSError):
                self.storage_errors += 1
                plan.notes.append(f"start attempt failed at {self.cluster.now()}")
                if await self._row_appears(plan):
                    return

    async def _row_appears(self, plan: Plan) -> bool:
        """Whether the instance's row appears within START_SETTLE_SECONDS."""
        waited_until = time.monotonic() + START_SETTLE_SECONDS
        while time.monotonic() < waited_until:
            if await self.record(plan.instance_id) is not None:
                return True
            await asyncio.sleep(POLL_SECONDS)
        return False

    async def _try_http(self, method: str, path: str, ok: set[int], body: Any) -> bool:
        assert self._session is not None
        urls = self.cluster.live_urls()
        if not urls:
            return False
        try:
            async with self._session.request(
                method, random.choice(urls) + path, data=json.dumps(body), headers=JSON_HEADERS
            ) as answer:
                await answer.read()
                if answer.status in ok:
                    return True
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass
        self.http_errors += 1
        return False

    async def signal(self, signal: Signal) -> None:
        """One attempt: a failed send may still have been stored, so it is not repeated."""
        await self.cluster.storage_up.wait()
        scheduled = None
        if signal.delay is not None:
            scheduled = self.hub.client.clock.now() + timedelta(seconds=signal.delay)
        try:
            await self.hub.client.signal_entity(
                "counter",
                signal.entity_key,
                "add",
                json.dumps(json.dumps(signal.amount)),
                scheduled_time=scheduled,
            )
            self.signals.append((signal, True))
        except (DurableHostError, OSError):
            self.storage_errors += 1
            self.signals.append((signal, False))


def _terminal(record: InstanceRecord) -> bool:
    return record.runtime_status.is_terminal


def _running(record: InstanceRecord) -> bool:
    return record.runtime_status == OrchestrationStatus.Running


def _running_or_ended(record: InstanceRecord) -> bool:
    """An instance can go from Pending to its end between two polls (a short timer after a
    storage pause): waiting for Running alone would wait until the deadline."""
    return _running(record) or _terminal(record)


async def _nothing(driver: Driver, plan: Plan) -> None:
    return None


async def _raise_event(driver: Driver, plan: Plan) -> None:
    plan.waiting_on = "a status past Pending, before raising 'go'"
    if await driver.wait_for(
        plan.instance_id, lambda r: r.runtime_status != OrchestrationStatus.Pending
    ):
        path = f"{WEBHOOK}/instances/{plan.instance_id}/raiseEvent/go"
        plan.waiting_on = "the answer to POST raiseEvent/go"
        await _expect(driver, plan, "POST", path, {202, 410}, plan.event_value)


async def _terminate(driver: Driver, plan: Plan) -> None:
    plan.waiting_on = "Running, before terminating"
    found = await driver.wait_for(plan.instance_id, _running_or_ended)
    if found is not None and _running(found):
        path = f"{WEBHOOK}/instances/{plan.instance_id}/terminate?reason=soak"
        plan.waiting_on = "the answer to POST terminate"
        await _expect(driver, plan, "POST", path, {202, 410})


async def _suspend(driver: Driver, plan: Plan) -> None:
    """Suspend, wait a little, resume; then resume again while the instance stays suspended,
    as an operator would: the suspend may reach the instance after the resume (docs/
    compatibility.md, "Suspend and resume are messages"), and then it stays suspended, in
    DTFx as here."""
    plan.waiting_on = "Running, before suspending"
    found = await driver.wait_for(plan.instance_id, _running_or_ended)
    if found is None or _terminal(found):
        plan.notes.append("ended before the suspend")
        return
    client = driver.hub.client
    try:
        plan.waiting_on = "the suspend"
        await driver.storage(lambda: client.suspend(plan.instance_id, "soak"))
    except DurableHostError as exc:  # finished meanwhile
        plan.notes.append(f"suspend refused: {exc}")
        return
    plan.waiting_on = "the pause before the resume"
    await asyncio.sleep(random.uniform(1.0, 4.0))
    while time.monotonic() < driver.deadline:
        try:
            plan.waiting_on = "the resume"
            await driver.storage(lambda: client.resume(plan.instance_id, "soak"))
        except DurableHostError as exc:  # it ended before the suspend reached it
            plan.notes.append(f"resume refused: {exc}")
            return
        plan.waiting_on = "an end, or Suspended for good after the resume"
        if not await _stays_suspended(driver, plan.instance_id):
            return
        plan.notes.append(f"{RESUMED_AGAIN} at {driver.cluster.now():.1f} s")


async def _stays_suspended(driver: Driver, instance_id: str) -> bool:
    """Whether the instance is still (or again) suspended SUSPENDED_SETTLE_SECONDS after a
    resume was sent; False as soon as it is seen ended, or at the deadline."""
    suspended_since: float | None = None
    while time.monotonic() < driver.deadline:
        record = await driver.record(instance_id)
        if record is not None and _terminal(record):
            return False
        if record is not None and record.runtime_status == OrchestrationStatus.Suspended:
            suspended_since = suspended_since or time.monotonic()
            if time.monotonic() - suspended_since >= SUSPENDED_SETTLE_SECONDS:
                return True
        else:
            suspended_since = None
        await asyncio.sleep(POLL_SECONDS)
    return False


async def _rewind(driver: Driver, plan: Plan) -> None:
    plan.waiting_on = "Failed, before rewinding"
    ended = await driver.wait_for(plan.instance_id, _terminal)
    if ended is None:
        return
    if ended.runtime_status != OrchestrationStatus.Failed:
        # It cannot succeed before it is rewound: the model says Failed first.
        plan.notes.append(f"{UNEXPECTED}{ended.runtime_status.name} before the rewind")
        return
    (driver.markers / f"rewound-{plan.instance_id}").touch()
    plan.waiting_on = "the rewind"
    try:
        await driver.storage(lambda: driver.hub.client.rewind(plan.instance_id, "soak"))
    except DurableHostError as exc:  # an attempt whose answer was lost did rewind it
        plan.notes.append(f"rewind refused: {exc}")
        return
    # The instance is Failed until the rewind is processed: wait for it to leave that state.
    plan.waiting_on = "a status past Failed, after the rewind"
    await driver.wait_for(
        plan.instance_id, lambda r: r.runtime_status != OrchestrationStatus.Failed
    )


async def _restart(driver: Driver, plan: Plan) -> None:
    new_id = await driver.storage(lambda: driver.hub.client.restart(plan.instance_id))
    twin = restarted(plan, new_id)
    twin.began_at = driver.cluster.now()
    driver.plans.append(twin)
    await driver.follow(twin)


async def _raise_finished(driver: Driver, plan: Plan) -> None:
    path = f"{WEBHOOK}/instances/{plan.instance_id}/raiseEvent/late"
    await _expect(driver, plan, "POST", path, {410}, 1)


async def _purge(driver: Driver, plan: Plan) -> None:
    await _expect(driver, plan, "DELETE", f"{WEBHOOK}/instances/{plan.instance_id}", {200, 404})
    plan.purged = True


async def _expect(
    driver: Driver, plan: Plan, method: str, path: str, ok: set[int], body: Any = None
) -> None:
    status = await driver.http(method, path, ok, body)
    if status not in ok:
        plan.notes.append(f"{UNEXPECTED}{method} {path} answered {status}, not {sorted(ok)}")


# Before the instance finishes, and after.
ACTIONS = {
    "raise_event": _raise_event,
    "terminate": _terminate,
    "suspend": _suspend,
    "rewind": _rewind,
}
AFTER = {"restart": _restart, "raise_finished": _raise_finished, "purge": _purge}
