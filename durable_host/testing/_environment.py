"""DurableTestEnvironment: the real host, in-process, on a fresh task hub, for one test.

The app under test is loaded and served exactly as `python -m durable_host start` serves it
(DurableHost: engine, Durable HTTP API, the app's HTTP triggers) on a loopback port chosen by
the OS; `client` is the SDK's own client bound to it, so test code is the code an HTTP starter
runs: 1.x's DurableOrchestrationClient, or with the 2.x SDK an async gRPC client on the host's
gRPC endpoint (_clients.py). With virtual time (the default), timers fire as soon as nothing
else can run while the test waits for an outcome.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp

from durable_host.engine.dispatch.entity_state import entity_instance_id
from durable_host.engine.runtime import Engine
from durable_host.engine.time.clock import VirtualClock
from durable_host.server.host import DurableHost
from durable_host.taskhub.events import HistoryEvent
from durable_host.testing._activity_doubles import ActivityDouble, install_double
from durable_host.testing._clients import TestClient
from durable_host.testing._lifecycle import start_host, stop_host
from durable_host.testing._waiting import (
    DEFAULT_TIMEOUT,
    Expected,
    fail_unexpected,
    read_history,
    status_names,
    wait_for_custom_status,
    wait_for_entity_state,
)

__all__ = ["ActivityDouble", "DurableTestEnvironment"]

log = logging.getLogger("durable_host.testing")


class DurableTestEnvironment:
    """The app under test on a running host. Create it with `start()`; close it with `async with`
    or `close()` (stops the host and deletes the task hub)."""

    def __init__(
        self,
        host: DurableHost,
        client: TestClient,
        *,
        storage: str,
        delete_hub: bool,
        exported: list[str],
        output: list[str],
    ) -> None:
        self.host = host
        self._client = client
        # The SDK's own client (1.x DurableOrchestrationClient, or 2.x's async gRPC client).
        self.client: Any = client.sdk
        self._storage = storage
        self._delete_hub = delete_hub
        self._exported = exported
        self._closed = False
        # What the host printed (its banner, then each function's log lines).
        self.output = output

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def start(
        cls,
        app_dir: Path | str,
        *,
        storage: str,
        hub_name: str | None = None,
        virtual_time: bool = True,
        start_time: datetime | None = None,
        delete_hub: bool = True,
    ) -> DurableTestEnvironment:
        """Start the host for the app in `app_dir` on `storage` (a connection string).

        `hub_name` defaults to a fresh name; `delete_hub` drops the task hub on close.
        `virtual_time` makes timers fire as soon as the engine is idle while a test waits
        (`wait_for_completion`, `run`) or moves time itself (`advance_time`); virtual time
        begins at `start_time` (default: now).
        """
        output: list[str] = []

        def echo(line: str) -> None:
            output.append(line)
            log.debug("%s", line)

        host, client, exported = await start_host(
            Path(app_dir).resolve(),
            storage=storage,
            hub_name=hub_name,
            virtual_time=virtual_time,
            start_time=start_time,
            delete_hub=delete_hub,
            echo=echo,
        )
        return cls(
            host, client, storage=storage, delete_hub=delete_hub, exported=exported, output=output
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await stop_host(
            self.host,
            self._client,
            storage=self._storage,
            exported=self._exported,
            delete_hub=self._delete_hub,
        )

    async def __aenter__(self) -> DurableTestEnvironment:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ the pieces

    @property
    def engine(self) -> Engine:
        if self.host.engine is None:
            raise RuntimeError("The test environment is closed.")
        return self.host.engine

    @property
    def hub_name(self) -> str:
        return self.engine.settings.hub_name

    @property
    def base_url(self) -> str:
        """Where the app's HTTP functions are served, e.g. http://localhost:12345."""
        return self.host.base_url

    @property
    def virtual_time(self) -> bool:
        return isinstance(self.engine.clock, VirtualClock)

    def now(self) -> datetime:
        """The engine's current (virtual or real) UTC time."""
        return self.engine.clock.now()

    async def advance_time(self, delta: timedelta) -> None:
        """Virtual time only: move time forward, firing every timer due on the way."""
        await self.engine.advance_time(delta)

    # ------------------------------------------------------------------ orchestrations

    async def start_orchestration(
        self, name: str, input: Any = None, *, instance_id: str | None = None
    ) -> str:
        """Start orchestrator `name` through the SDK client; returns the instance id."""
        return await self._client.start(name, input, instance_id)

    async def run(
        self,
        name: str,
        input: Any = None,
        *,
        instance_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Any:
        """Start `name`, wait until it completes and return its output (a failure raises)."""
        started = await self.start_orchestration(name, input, instance_id=instance_id)
        status = await self.wait_for_completion(started, timeout=timeout)
        return self._client.output(status)

    async def wait_for_completion(
        self,
        instance_id: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        expected_status: Expected | None = "Completed",
    ) -> Any:
        """Wait (at most `timeout` wall-clock seconds) until the instance finishes.

        Returns the SDK's status (2.x: durabletask's OrchestrationState); raises
        OrchestrationAssertionError, with the status, output and last history events, unless
        it ends in `expected_status` (None: any final status).
        Under virtual time, time jumps to the next timer whenever nothing else can run.
        """
        wanted = status_names(expected_status)
        began = time.monotonic()
        status = await self.engine.client.wait_for_completion(instance_id, timeout=timeout)
        finished = status is not None and status.runtime_status.is_terminal
        if status is None or not finished or status.runtime_status.name not in wanted:
            await fail_unexpected(
                self.engine, instance_id, status, wanted, began, timed_out=not finished
            )
        return await self._client.status(instance_id)

    async def wait_for_custom_status(
        self,
        instance_id: str,
        expected: Any | Callable[[Any], bool],
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Any:
        """Wait until the instance's custom status equals `expected` (or `expected(status)` is
        true). Virtual time stands still meanwhile, so a pending timer cannot overtake the
        state being waited for; move it with `advance_time` or `wait_for_completion`."""
        await wait_for_custom_status(self.engine, instance_id, expected, timeout)
        return await self._client.status(instance_id)

    async def raise_event(
        self, instance_id: str, event_name: str, data: Any = None, *, as_http: bool = False
    ) -> None:
        """Raise an event through the SDK client, as an app's own code does: the SDK encodes
        `data` twice (Azure/azure-functions-durable-python#295), so the orchestrator's
        `wait_for_external_event` gets a string holding the JSON (`json.loads` it); 2.x's
        client encodes it once.
        `as_http=True` sends `data` as the JSON body of `POST .../raiseEvent/{name}` (curl, a
        webhook): the orchestrator gets the object itself."""
        if not as_http:
            await self._client.raise_event(instance_id, event_name, data)
            return
        url = (
            f"{self.base_url}/runtime/webhooks/durabletask/instances/{quote(instance_id, '')}"
            f"/raiseEvent/{quote(event_name, '')}"
        )
        async with aiohttp.ClientSession() as session, session.post(url, json=data) as response:
            if response.status != 202:
                raise AssertionError(
                    f"raising '{event_name}' on '{instance_id}' answered {response.status}: "
                    f"{await response.text()}"
                )

    async def history(self, instance_id: str) -> list[HistoryEvent]:
        """The instance's history, oldest first, as typed events (durable_host.taskhub.events)."""
        return await read_history(self.engine, instance_id)

    # ------------------------------------------------------------------ entities

    async def read_entity(self, name: str, key: str) -> Any:
        """The entity's state, or None when the entity does not exist."""
        return await self._client.read_entity(name, key)

    async def wait_for_entity(
        self,
        name: str,
        key: str,
        expected: Any | Callable[[Any], bool],
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Any:
        """Wait until the entity's state equals `expected` (or `expected(state)` is true);
        signals are processed asynchronously, so a read right after a signal may be stale."""
        return await wait_for_entity_state(
            self.engine,
            entity_instance_id(name, key),
            f"@{name}@{key}",
            lambda: self.read_entity(name, key),
            expected,
            timeout,
        )

    # ------------------------------------------------------------------ test doubles

    def replace_activity(self, name: str, double: Callable[[Any], Any]) -> ActivityDouble:
        """Run `double(input)` instead of activity `name` until the environment closes (or
        `restore_activity`). The double gets the activity's input and returns its result,
        sync or async; raising fails the activity as the real one would."""
        return install_double(self.engine, name, double)

    def restore_activity(self, name: str) -> None:
        self.engine.replace_activity(name, None)

    @contextlib.contextmanager
    def activity_replaced(
        self, name: str, double: Callable[[Any], Any]
    ) -> Iterator[ActivityDouble]:
        """`replace_activity` for the duration of a `with` block."""
        recorder = self.replace_activity(name, double)
        try:
            yield recorder
        finally:
            self.restore_activity(name)
