"""`WorkerHub`: the engine's work items for remote durabletask workers, and their answers.

The dispatchers call it as their `ProtoChannel` (engine/dispatch/executors.py): each request
becomes a `WorkItem` with a completion token and waits until a connected worker whose filters
take it pulls it from its `GetWorkItems` stream; the matching `Complete*Task` call ends the
dispatcher's await. The dispatcher holds the queue messages all the while (leases, triage and
checkpoints stay the engine's), so a worker that disconnects or abandons loses nothing: its
work items wait for the next worker. Should the sidecar itself die, the messages become
visible again after their visibility timeout, as with any host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from durabletask.internal import orchestrator_service_pb2 as pb

from durable_host.engine.dispatch.activities import ActivityInterrupted
from durable_host.grpc_api.status_codes import RpcRefusal
from durable_host.protobuf.request_bytes import EncodedRequest

__all__ = ["HEALTH_PING_SECONDS", "WorkerFilter", "WorkerHub", "WorkerHubClosed"]

log = logging.getLogger("durable_host.grpc")

# An idle stream gets a health ping this often: durabletask's workers reconnect when their
# stream stays silent too long.
HEALTH_PING_SECONDS = 30.0
# An abandoned work item waits this long before another worker may take it (the provider's
# abandon makes the message visible again after a back-off too), so a worker that refuses an
# item (another version) does not spin on it.
ABANDON_DELAY_SECONDS = 1.0

ORCHESTRATION, ACTIVITY, ENTITY = "orchestration", "activity", "entity"


class WorkerHubClosed(ActivityInterrupted):
    """The sidecar stops: a work item no worker finished goes back to its queue as is (an
    activity's at once; an orchestration's or entity's batch is given back, as after any
    failed attempt), for whichever host serves the hub next."""


@dataclass
class _Job:
    token: str
    kind: str
    name: str
    version: str
    item: Any  # pb.WorkItem
    answer: asyncio.Future[Any]
    worker: str | None = None


@dataclass(frozen=True)
class WorkerFilter:
    """Which work items a worker takes (`GetWorkItemsRequest.workItemFilters`); no filters:
    all of them."""

    filtered: bool = False
    # kind -> lower-case name -> versions (empty: any version)
    names: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Any) -> WorkerFilter:
        try:
            present = request.HasField("workItemFilters")
        except ValueError:  # durabletask before 1.4 has no filters
            present = False
        if not present:
            return cls()
        filters = request.workItemFilters
        names: dict[str, dict[str, frozenset[str]]] = {
            ORCHESTRATION: {f.name.lower(): frozenset(f.versions) for f in filters.orchestrations},
            ACTIVITY: {f.name.lower(): frozenset(f.versions) for f in filters.activities},
            ENTITY: {f.name.lower(): frozenset() for f in filters.entities},
        }
        return cls(filtered=True, names=names)

    def takes(self, job: _Job) -> bool:
        if not self.filtered:
            return True
        versions = self.names.get(job.kind, {}).get(job.name.lower())
        return versions is not None and (not versions or job.version in versions)


class WorkerHub:
    """A `ProtoChannel` whose far end is the workers connected to the sidecar."""

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
        self._waiting: list[_Job] = []
        self._wakeups: set[asyncio.Event] = set()
        self._closed = False
        self._told_no_worker = False

    # ------------------------------------------------------------ the engine's side

    async def orchestrate(self, name: str, request: Any) -> Any:
        if isinstance(request, EncodedRequest):
            request = request.message()
        item = pb.WorkItem(orchestratorRequest=request)
        return await self._submit(ORCHESTRATION, name, _orchestration_version(request), item)

    async def run_activity(self, name: str, request: Any) -> Any:
        item = pb.WorkItem(activityRequest=request)
        return await self._submit(ACTIVITY, name, request.version.value, item)

    async def run_entity_batch(self, name: str, request: Any) -> Any:
        return await self._submit(ENTITY, name, "", pb.WorkItem(entityRequest=request))

    async def _submit(self, kind: str, name: str, version: str, item: Any) -> Any:
        if self._closed:
            raise WorkerHubClosed("the sidecar is stopping")
        token = uuid.uuid4().hex
        item.completionToken = token
        job = _Job(token, kind, name, version, item, asyncio.get_running_loop().create_future())
        self._jobs[token] = job
        self._offer(job)
        try:
            return await job.answer
        finally:
            self._jobs.pop(token, None)
            with contextlib.suppress(ValueError):
                self._waiting.remove(job)

    def _offer(self, job: _Job) -> None:
        job.worker = None
        self._waiting.append(job)
        for wakeup in self._wakeups:
            wakeup.set()
        if not self._wakeups and not self._told_no_worker:
            # Once per stretch without workers: the work is kept, but nothing will run it.
            self._told_no_worker = True
            log.warning(
                "The %s '%s' waits: no durabletask worker is connected to this sidecar. "
                "Start a worker (TaskHubGrpcWorker) pointed at it; the work runs then.",
                job.kind,
                job.name,
            )

    # ------------------------------------------------------------ the workers' side

    @property
    def workers(self) -> int:
        """How many workers are connected."""
        return len(self._wakeups)

    async def stream(self, taking: WorkerFilter) -> AsyncIterator[Any]:
        """One worker's `GetWorkItems` stream, until it disconnects or the hub closes; what
        it took and did not complete goes back to the others."""
        worker = uuid.uuid4().hex
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        self._told_no_worker = False
        log.info("A worker connected (%d now)", len(self._wakeups))
        try:
            while not self._closed:
                job = self._take(taking)
                if job is not None:
                    job.worker = worker
                    yield job.item
                    continue
                wakeup.clear()
                try:
                    await asyncio.wait_for(wakeup.wait(), HEALTH_PING_SECONDS)
                except TimeoutError:
                    yield pb.WorkItem(healthPing=pb.HealthPing())
        finally:
            self._wakeups.discard(wakeup)
            given_back = self._abandon_all_of(worker)
            log.info(
                "A worker disconnected (%d left); %d of its work items wait for another",
                len(self._wakeups),
                given_back,
            )

    def _take(self, taking: WorkerFilter) -> _Job | None:
        for index, job in enumerate(self._waiting):
            if taking.takes(job):
                return self._waiting.pop(index)
        return None

    def _abandon_all_of(self, worker: str) -> int:
        mine = [j for j in self._jobs.values() if j.worker == worker and not j.answer.done()]
        for job in mine:
            self._offer(job)
        return len(mine)

    def complete(self, token: str, response: Any) -> None:
        job = self._jobs.get(token)
        if job is None or job.answer.done():
            raise RpcRefusal(
                grpc.StatusCode.NOT_FOUND,
                f"No work item is waiting for completion token '{token}': it was completed "
                "already, or given to another worker after this one disconnected.",
            )
        job.answer.set_result(response)

    def abandon(self, token: str) -> None:
        job = self._jobs.get(token)
        if job is None or job.answer.done() or job.worker is None:
            return  # already back in line, or finished: abandoning twice changes nothing
        job.worker = "abandoned"
        asyncio.get_running_loop().call_later(ABANDON_DELAY_SECONDS, self._reoffer, job)

    def _reoffer(self, job: _Job) -> None:
        if job.token in self._jobs and not job.answer.done():
            self._offer(job)

    def close(self) -> None:
        """End every stream (workers reconnect to whoever serves the hub next)."""
        self._closed = True
        for wakeup in self._wakeups:
            wakeup.set()
        for job in self._jobs.values():
            if not job.answer.done():
                job.answer.set_exception(WorkerHubClosed("the sidecar is stopping"))


def _orchestration_version(request: Any) -> str:
    for event in (*request.pastEvents, *request.newEvents):
        if event.HasField("executionStarted"):
            return str(event.executionStarted.version.value)
    return ""
