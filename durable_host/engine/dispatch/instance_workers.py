"""One worker per instance with messages waiting, so an instance's batches run one at a time.

Messages for an instance gather while its current batch runs and form its next batch; at
most `max_concurrent` batches run at once across instances. The number of messages waiting
is the dispatcher's measure for back-pressure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from durable_host.engine.log_context import about_instance
from durable_host.taskhub.storage import ReceivedMessage

BatchProcessor = Callable[[str, list[ReceivedMessage]], Awaitable[None]]
"""(instance id, its batch) -> processes the batch; never raises."""


class InstanceWorkers:
    def __init__(
        self, process: BatchProcessor, *, max_concurrent: int, stopping: asyncio.Event
    ) -> None:
        self.pending: dict[str, list[ReceivedMessage]] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
        self._process = process
        self._slots = asyncio.Semaphore(max_concurrent)
        self._stopping = stopping

    def add(self, instance_id: str, msg: ReceivedMessage) -> None:
        """Queue a message for its instance's next batch; start the instance's worker."""
        self.pending.setdefault(instance_id, []).append(msg)
        if instance_id not in self.running:
            self.running[instance_id] = asyncio.create_task(self._work(instance_id))

    def buffered(self) -> int:
        """Messages waiting for their instance's next batch."""
        return sum(len(m) for m in self.pending.values())

    @property
    def idle(self) -> bool:
        return not self.running and not self.pending

    async def wait(self, instance_ids: Iterable[str] | None = None) -> None:
        """Until the workers of `instance_ids` (None: all) have finished."""
        ids = self.running if instance_ids is None else instance_ids
        workers = [self.running[i] for i in list(ids) if i in self.running]
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self, instance_id: str) -> None:
        # This task may have been started by another instance's episode (a local delivery).
        about_instance(instance_id)
        try:
            while True:
                batch = self.pending.pop(instance_id, None)
                if not batch:
                    return
                async with self._slots:
                    await self._process(instance_id, batch)
        finally:
            self.running.pop(instance_id, None)
            if self.pending.get(instance_id) and not self._stopping.is_set():
                self.running[instance_id] = asyncio.create_task(self._work(instance_id))
