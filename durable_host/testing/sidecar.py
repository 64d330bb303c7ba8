"""`DurableTaskSidecar`: `durable-host sidecar` on a fresh task hub, for durabletask users' tests.

The sidecar runs on its own thread and event loop, so a test may use durabletask's
synchronous worker and client (which block their thread) as well as the async client. With
virtual time (the default) a durable timer fires as soon as nothing else is left to do while
a client waits for an instance: a 7-day timer completes in well under a second, and the
history holds the timer a real run would write. The pytest fixture `durabletask_sidecar`
(plugin.py) yields one; outside pytest use it as a context manager:

    with DurableTaskSidecar(storage) as sidecar:
        worker = sidecar.worker()        # TaskHubGrpcWorker; register, then worker.start()
        client = sidecar.client()        # TaskHubGrpcClient
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from durable_host.engine.time.clock import VirtualClock
from durable_host.errors import ConfigurationError
from durable_host.server.settings import DurableTaskSettings
from durable_host.server.sidecar import SIDECAR_HUB_SETTINGS, Sidecar, SidecarOptions
from durable_host.testing._storage import delete_task_hub, new_hub_name

if TYPE_CHECKING:
    from durabletask.client import AsyncTaskHubGrpcClient, TaskHubGrpcClient
    from durabletask.worker import TaskHubGrpcWorker

__all__ = ["DurableTaskSidecar"]

T = TypeVar("T")

# Idle dispatchers look at their queues at least once a second (timers released by a skip
# are seen at once anyway); two partitions make a hub per test quick to create and delete.
_TEST_HUB = replace(
    SIDECAR_HUB_SETTINGS, partition_count=2, max_queue_polling_interval=timedelta(seconds=1)
)
_START_TIMEOUT = 120.0


class DurableTaskSidecar:
    def __init__(
        self,
        storage: str,
        *,
        hub_name: str | None = None,
        virtual_time: bool = True,
        start_time: datetime | None = None,
        delete_hub: bool = True,
        work_dir: Path | None = None,
        hub_settings: DurableTaskSettings | None = None,
    ) -> None:
        self.storage = storage
        self.hub_name = hub_name or new_hub_name("dt")
        self.clock = VirtualClock(start_time) if virtual_time else None
        self.delete_hub = delete_hub
        self._hub_settings = hub_settings or _TEST_HUB
        self._options = SidecarOptions(
            port=0,
            hub=self.hub_name,
            connection=storage,
            work_dir=work_dir or Path.cwd(),
            in_memory_azurite=True,
            durable_task=self._hub_settings,
        )
        self.sidecar: Sidecar | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._workers: list[TaskHubGrpcWorker] = []
        self._clients: list[Any] = []

    @property
    def address(self) -> str:
        """`host:port` for durabletask's `host_address`."""
        if self.sidecar is None or self.sidecar.address is None:
            raise ConfigurationError("The sidecar is not running: use it inside `with`.")
        return self.sidecar.address.removeprefix("http://")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> DurableTaskSidecar:
        self._thread = threading.Thread(target=self._serve, name="durable-host-sidecar")
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or self._failure is not None:
            self.stop()
            raise ConfigurationError(
                f"The test sidecar did not start: {self._failure or 'no answer in 120 s'}"
            ) from self._failure
        return self

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sidecar = Sidecar(self._options, clock=self.clock, echo=lambda line: None)
        try:
            await sidecar.start()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        self.sidecar = sidecar
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await sidecar.stop()
            if self.delete_hub:
                await delete_task_hub(
                    self.storage, self.hub_name, self._hub_settings.partition_count
                )

    def stop(self) -> None:
        for worker in self._workers:
            worker.stop()
        for client in self._clients:
            close = getattr(client, "close", None)
            if close is not None and not asyncio.iscoroutinefunction(close):
                close()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(60)

    def __enter__(self) -> DurableTaskSidecar:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ for the test

    def worker(self, **kwargs: Any) -> TaskHubGrpcWorker:
        """A durabletask worker on this sidecar (not started; stopped with the sidecar)."""
        from durabletask.worker import TaskHubGrpcWorker

        made = TaskHubGrpcWorker(host_address=self.address, **kwargs)
        self._workers.append(made)
        return made

    def client(self, **kwargs: Any) -> TaskHubGrpcClient:
        from durabletask.client import TaskHubGrpcClient

        made = TaskHubGrpcClient(host_address=self.address, **kwargs)
        self._clients.append(made)
        return made

    def async_client(self, **kwargs: Any) -> AsyncTaskHubGrpcClient:
        """An async client (close it in the test's own loop: `await client.close()`)."""
        from durabletask.client import AsyncTaskHubGrpcClient

        return AsyncTaskHubGrpcClient(host_address=self.address, **kwargs)

    def advance_time(self, delta: timedelta) -> None:
        """Virtual time only: move time forward, firing every timer due on the way."""
        engine = self.sidecar.engine if self.sidecar is not None else None
        if engine is None:
            raise ConfigurationError("The sidecar is not running: use it inside `with`.")
        self._run(engine.advance_time(delta))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_START_TIMEOUT)
