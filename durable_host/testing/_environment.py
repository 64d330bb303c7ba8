"""DurableTestEnvironment: the real host, in-process, on a fresh task hub, for one test.

The app under test is loaded and served exactly as `python -m durable_host start` serves it
(DurableHost: engine, Durable HTTP API, the app's HTTP triggers) on a loopback port chosen by
the OS; `client` is the SDK's own DurableOrchestrationClient bound to it, so test code is the
code an HTTP starter runs. With virtual time (the default), timers fire as soon as nothing
else can run while the test waits for an outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from durable_host.engine.client.api import InstanceStatus
from durable_host.engine.dispatch.entity_state import entity_instance_id
from durable_host.engine.runtime import Engine
from durable_host.engine.time.clock import Clock, VirtualClock
from durable_host.errors import FunctionNotFoundError, InstanceNotFoundError
from durable_host.functions.index import DurableKind
from durable_host.http.binding import client_binding_json
from durable_host.server.host import DurableHost, HostOptions
from durable_host.server.settings import export_values, load_host_settings, load_local_settings
from durable_host.taskhub.events import HistoryEvent
from durable_host.testing._failures import OrchestrationAssertionError, unexpected_status_message
from durable_host.testing._storage import delete_task_hub, new_hub_name
from durable_host.testing.doubles import activity_runner

__all__ = ["ActivityDouble", "DurableTestEnvironment"]

log = logging.getLogger("durable_host.testing")

_HUB_OVERRIDE = "AzureFunctionsJobHost__extensions__durableTask__hubName"
_TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
DEFAULT_TIMEOUT = 10.0

Expected: TypeAlias = (
    str | df.OrchestrationRuntimeStatus | Collection[str | df.OrchestrationRuntimeStatus]
)


@dataclass
class ActivityDouble:
    """A test double installed for one activity; `calls` holds each input it received."""

    name: str
    function: Callable[[Any], Any]
    calls: list[Any] = field(default_factory=list)

    async def __call__(self, value: Any) -> Any:
        self.calls.append(value)
        result = self.function(value)
        if inspect.isawaitable(result):
            result = await result
        return result


def _status_names(expected: Expected | None) -> tuple[str, ...]:
    if expected is None:
        return _TERMINAL
    if isinstance(expected, (str, df.OrchestrationRuntimeStatus)):
        expected = [expected]
    names = []
    for item in expected:
        names.append(item.value if isinstance(item, df.OrchestrationRuntimeStatus) else item)
    return tuple(names)


def _parse(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class DurableTestEnvironment:
    """The app under test on a running host. Create it with `start()`; close it with `async with`
    or `close()` (stops the host and deletes the task hub)."""

    def __init__(
        self,
        host: DurableHost,
        client: df.DurableOrchestrationClient,
        *,
        storage: str,
        delete_hub: bool,
        exported: list[str],
    ) -> None:
        self.host = host
        self.client = client
        self._storage = storage
        self._delete_hub = delete_hub
        self._exported = exported
        self._closed = False
        self.output: list[str] = []
        host.echo = self._echo

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
        app_dir = Path(app_dir).resolve()
        hub = hub_name or new_hub_name()
        environ = dict(os.environ)
        environ[_HUB_OVERRIDE] = hub
        # The app's code reads its settings from os.environ, as under the Functions host;
        # what we add there is taken away again on close.
        local = load_local_settings(app_dir)
        exported = [k for k in local.values if k not in os.environ]
        export_values(local.values, os.environ)
        export_values(local.values, environ)
        connection_name = load_host_settings(app_dir, environ).durable_task.connection_name
        environ[f"AzureWebJobs{connection_name}"] = storage
        clock: Clock | None = VirtualClock(start_time) if virtual_time else None
        host = DurableHost(
            HostOptions(app_dir, host="127.0.0.1", port=0, in_memory_azurite=True),
            environ=environ,
            echo=log.debug,
            clock=clock,
        )
        try:
            await host.start()
            assert host.endpoints is not None
            client = df.DurableOrchestrationClient(client_binding_json(host.endpoints))
        except BaseException:
            _unexport(exported)
            if delete_hub:
                await _drop_quietly(storage, hub)
            raise
        return cls(host, client, storage=storage, delete_hub=delete_hub, exported=exported)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        settings = self.host.settings
        try:
            # Also closes the SDK's module-level aiohttp session, bound to this event loop.
            await self.host.stop()
        finally:
            _unexport(self._exported)
            if self._delete_hub and settings is not None:
                dt = settings.durable_task
                await delete_task_hub(self._storage, dt.hub_name, dt.partition_count)

    async def __aenter__(self) -> DurableTestEnvironment:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _echo(self, line: str) -> None:
        self.output.append(line)
        log.debug("%s", line)

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
        return await self.client.start_new(name, instance_id, input)

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
        return status.output

    async def wait_for_completion(
        self,
        instance_id: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        expected_status: Expected | None = "Completed",
    ) -> DurableOrchestrationStatus:
        """Wait (at most `timeout` wall-clock seconds) until the instance finishes.

        Returns the SDK's status; raises OrchestrationAssertionError, with the status, output
        and last history events, unless it ends in `expected_status` (None: any final status).
        Under virtual time, time jumps to the next timer whenever nothing else can run.
        """
        wanted = _status_names(expected_status)
        began = time.monotonic()
        status = await self.engine.client.wait_for_completion(instance_id, timeout=timeout)
        finished = status is not None and status.runtime_status.is_terminal
        if status is None or not finished or status.runtime_status.name not in wanted:
            await self._fail(instance_id, status, wanted, began, timed_out=not finished)
        return await self.client.get_status(instance_id)

    async def wait_for_custom_status(
        self,
        instance_id: str,
        expected: Any | Callable[[Any], bool],
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> DurableOrchestrationStatus:
        """Wait until the instance's custom status equals `expected` (or `expected(status)` is
        true). Virtual time stands still meanwhile, so a pending timer cannot overtake the
        state being waited for; move it with `advance_time` or `wait_for_completion`."""
        matches = expected if callable(expected) else (lambda value: value == expected)
        began = time.monotonic()
        deadline = began + timeout
        notifier = self.engine.notifier
        while True:
            # Register before reading, so a checkpoint in between wakes us.
            waiter = notifier.register(instance_id)
            status = await self.engine.client.get_status(instance_id, show_input=False)
            if status is not None and matches(_parse(status.custom_status)):
                await notifier.wait(instance_id, waiter, 0)
                return await self.client.get_status(instance_id)
            remaining = deadline - time.monotonic()
            finished = status is not None and status.runtime_status.is_terminal
            if status is None or finished or remaining <= 0:
                await notifier.wait(instance_id, waiter, 0)
                what = f"custom status {expected!r}" if not callable(expected) else "custom status"
                await self._fail(
                    instance_id,
                    status,
                    (f"Running with the {what}",),
                    began,
                    timed_out=not finished,
                )
            # Checkpoints of this host wake us at once; the cap covers work of other hosts.
            await notifier.wait(instance_id, waiter, min(remaining, 0.5))

    async def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        await self.client.raise_event(instance_id, event_name, data)

    async def history(self, instance_id: str) -> list[HistoryEvent]:
        """The instance's history, oldest first, as typed events (durable_host.taskhub.events)."""
        status = await self.engine.client.get_status(instance_id, show_history=True)
        if status is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' was found.")
        return list(status.history or [])

    # ------------------------------------------------------------------ entities

    async def read_entity(self, name: str, key: str) -> Any:
        """The entity's state, or None when the entity does not exist."""
        response = await self.client.read_entity_state(df.EntityId(name, key))
        return response.entity_state if response.entity_exists else None

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
        matches = expected if callable(expected) else (lambda value: value == expected)
        instance_id = entity_instance_id(name, key)
        notifier = self.engine.notifier
        deadline = time.monotonic() + timeout
        while True:
            waiter = notifier.register(instance_id)
            state = await self.read_entity(name, key)
            remaining = deadline - time.monotonic()
            if matches(state) or remaining <= 0:
                await notifier.wait(instance_id, waiter, 0)
                if matches(state):
                    return state
                raise AssertionError(
                    f"Entity @{name}@{key} did not reach the expected state within {timeout} s; "
                    f"its state is {state!r}."
                )
            await notifier.wait(instance_id, waiter, min(remaining, 0.5))

    # ------------------------------------------------------------------ test doubles

    def replace_activity(self, name: str, double: Callable[[Any], Any]) -> ActivityDouble:
        """Run `double(input)` instead of activity `name` until the environment closes (or
        `restore_activity`). The double gets the activity's input and returns its result,
        sync or async; raising fails the activity as the real one would."""
        if not self.engine.index.has(DurableKind.ACTIVITY, name):
            raise FunctionNotFoundError(
                self.engine.index.not_found_message(DurableKind.ACTIVITY, name)
            )
        recorder = ActivityDouble(name, double)
        self.engine.replace_activity(name, activity_runner(recorder))
        return recorder

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

    # ------------------------------------------------------------------ failures

    async def _fail(
        self,
        instance_id: str,
        status: InstanceStatus | None,
        wanted: tuple[str, ...],
        began: float,
        *,
        timed_out: bool,
    ) -> None:
        history: list[HistoryEvent] = []
        if status is not None:
            with contextlib.suppress(Exception):
                history = await self.history(instance_id)
        runtime = status.runtime_status.name if status is not None else None
        output = _parse(status.output) if status is not None else None
        message = unexpected_status_message(
            instance_id=instance_id,
            name=status.name if status is not None else None,
            runtime_status=runtime,
            expected=wanted,
            waited=time.monotonic() - began,
            timed_out=timed_out,
            output=output,
            custom_status=_parse(status.custom_status) if status is not None else None,
            history=history,
        )
        raise OrchestrationAssertionError(
            message, instance_id=instance_id, runtime_status=runtime, output=output
        )


def _unexport(names: list[str]) -> None:
    for name in names:
        os.environ.pop(name, None)


async def _drop_quietly(storage: str, hub: str) -> None:
    # Partition count is unknown when settings failed to load; 16 covers every valid count
    # (deleting a queue that does not exist is not an error).
    with contextlib.suppress(Exception):
        await asyncio.wait_for(delete_task_hub(storage, hub, 16), 30)
