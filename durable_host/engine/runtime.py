"""Engine: wires storage, the app's functions and the dispatchers; start() and stop()."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from durable_host.engine.client.engine_client import EngineClient
from durable_host.engine.dispatch.activities import ActivityDispatcher
from durable_host.engine.dispatch.checkpoint import Checkpoints
from durable_host.engine.dispatch.entities import EntityProcessor
from durable_host.engine.dispatch.executors import ActivityResult, ActivityWorkItem, Executors
from durable_host.engine.dispatch.http_activity import HTTP_ACTIVITY_NAME, HttpActivity
from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.notifier import InstanceNotifier
from durable_host.engine.dispatch.orchestrations import OrchestrationDispatcher
from durable_host.engine.dispatch.partition_manager import PartitionManager
from durable_host.engine.dispatch.queue_consumer import QueueSettings
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.dispatch.sessions import SessionCache
from durable_host.engine.dispatch.work_items import WorkItemRunner
from durable_host.engine.executors.routing import FunctionExecutors
from durable_host.engine.time.clock import Clock, RealClock, VirtualClock
from durable_host.engine.time.held_messages import HeldMessages
from durable_host.engine.time.skipping import TimeSkipper
from durable_host.errors import ConfigurationError, FunctionNotFoundError
from durable_host.functions import DurableKind, FunctionIndex, FunctionInvoker
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from durable_host.tracing import load_tracer

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

log = logging.getLogger("durable_host.engine")


ActivityRunner = Callable[[str | None], Awaitable[ActivityResult]]
"""Runs an activity in place of the app's function: raw input in, result out."""


@dataclass(frozen=True)
class EngineSettings:
    """The durableTask options of host.json that the engine uses (defaults as the extension)."""

    hub_name: str = "TestHubName"
    partition_count: int = 4
    max_queue_polling_interval: float = 30.0
    control_queue_batch_size: int = 32
    # Back-pressure: past this many control messages in memory, this host stops taking its
    # own sends into memory and stops receiving (None: max(2000, 40 x the batch size)).
    max_buffered_control_messages: int | None = None
    control_queue_visibility_timeout: float = 300.0
    work_item_queue_visibility_timeout: float = 300.0
    max_concurrent_activity_functions: int = 10 * (os.cpu_count() or 1)
    max_concurrent_orchestrator_functions: int = 10 * (os.cpu_count() or 1)
    extended_session_idle_timeout: float = 30.0
    # entityMessageReorderWindowInMinutes, in seconds (dispatch/entity_batches.py).
    entity_message_reorder_window: float = 1800.0
    # Partition leases (several hosts on one task hub split the control queues).
    worker_id: str = field(default_factory=lambda: default_worker_id())
    partition_lease_duration: float = 30.0
    partition_renew_interval: float = 10.0
    # Distributed tracing (OpenTelemetry, durable_host.tracing); off costs nothing.
    tracing: bool = False
    trace_console: bool = False
    # httpSettings.defaultAsyncRequestSleepTimeMilliseconds: call_http's wait between polls
    # of a 202 that has no Retry-After.
    http_async_sleep_default: float = 30.0


def default_worker_id() -> str:
    """Unique per process, readable in the Partitions table (host name and process id)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Engine:
    """One durable_host worker on one task hub.

    Usage::

        engine = Engine(connection_string, EngineSettings(hub_name="MyHub"), index, invoker)
        await engine.start()
        instance_id = await engine.client.start_new("hello_chain", input_json='"x"')
        ...
        await engine.stop()
    """

    def __init__(
        self,
        connection_string: str,
        settings: EngineSettings,
        index: FunctionIndex,
        invoker: FunctionInvoker,
        *,
        clock: Clock | None = None,
        executors: Executors | None = None,
    ) -> None:
        self.settings = settings
        self.names = TaskHubNames(settings.hub_name, settings.partition_count)
        self.storage = TaskHubStorage(connection_string, self.names)
        self.clock: Clock = clock or RealClock()
        self.index = index
        self.invoker = invoker
        # What runs each function (engine/dispatch/executors.py): by default the app's own
        # functions in process, in the protocol each one's trigger asks for.
        self.executors: Executors = executors or FunctionExecutors(
            index,
            invoker,
            entity_reorder_window=timedelta(seconds=settings.entity_message_reorder_window),
        )
        held = HeldMessages(self.clock) if isinstance(self.clock, VirtualClock) else None
        self.router = MessageRouter(self.storage, settings.partition_count, self.clock, held)
        self.notifier = InstanceNotifier(covers=self._holds_partition_of)
        self.tracer: DurableTracer | None = (
            load_tracer(console=settings.trace_console) if settings.tracing else None
        )
        self._time: TimeSkipper | None = None
        if isinstance(self.clock, VirtualClock):
            assert held is not None
            self._time = TimeSkipper(
                self.clock, held.next_due, self.router.release_due_timers, self.is_idle
            )
        # One Instances row writer for the client and the work items (known_rows.py).
        rows = InstanceRowWriter(self.storage, settings.hub_name)
        self._build_dispatchers(settings, rows)
        self.client = EngineClient(
            storage=self.storage,
            router=self.router,
            clock=self.clock,
            hub_name=settings.hub_name,
            resolve_orchestrator=self._resolve_orchestrator,
            rows=rows,
            notifier=self.notifier,
            resolve_entity=self._resolve_entity,
            time_skipping=self._time.skipping if self._time is not None else nullcontext,
            tracer=self.tracer,
            forget_session=self.orchestrations.forget_session,
            expect_new=self.orchestrations.expect_new,
        )
        self.http_activity = HttpActivity(default_async_sleep=settings.http_async_sleep_default)
        self._activity_doubles: dict[str, ActivityRunner] = {}
        self._started = False

    def _build_dispatchers(self, settings: EngineSettings, rows: InstanceRowWriter) -> None:
        """The entity processor, the orchestration and activity dispatchers, the partitions."""
        checkpoints = Checkpoints(
            self.storage, self.router, rows, self.notifier, self._holds_partition_of
        )
        sessions = SessionCache()
        self.entities = EntityProcessor(
            checkpoints=checkpoints,
            sessions=sessions,
            executor_for=lambda name: self.executors.entity(name),
            clock=self.clock,
            reorder_window=timedelta(seconds=settings.entity_message_reorder_window),
            visibility_timeout=settings.control_queue_visibility_timeout,
            tracer=self.tracer,
        )
        self._work_items = WorkItemRunner(
            storage=self.storage,
            executor_for=lambda name: self.executors.orchestration(name),
            clock=self.clock,
            rows=rows,
            known_activity=self._is_activity,
            tracer=self.tracer,
        )
        self.orchestrations = OrchestrationDispatcher(
            storage=self.storage,
            router=self.router,
            runner=self._work_items,
            checkpoints=checkpoints,
            sessions=sessions,
            clock=self.clock,
            partitions=list(range(settings.partition_count)),
            batch_size=settings.control_queue_batch_size,
            queue=QueueSettings(
                settings.control_queue_visibility_timeout, settings.max_queue_polling_interval
            ),
            max_concurrent=settings.max_concurrent_orchestrator_functions,
            session_idle_timeout=settings.extended_session_idle_timeout,
            entity_processor=self.entities.process,
            max_buffered=settings.max_buffered_control_messages,
        )
        self.activities = ActivityDispatcher(
            storage=self.storage,
            router=self.router,
            run_activity=self._run_activity,
            clock=self.clock,
            max_concurrent=settings.max_concurrent_activity_functions,
            queue=QueueSettings(
                settings.work_item_queue_visibility_timeout, settings.max_queue_polling_interval
            ),
            tracer=self.tracer,
        )
        self.partitions = PartitionManager(
            storage=self.storage,
            worker_id=settings.worker_id,
            partition_of_queue=self.names.control_queues.index,
            acquire=self.orchestrations.acquire,
            release=self.orchestrations.release,
            lease_duration=settings.partition_lease_duration,
            renew_interval=settings.partition_renew_interval,
        )

    def _holds_partition_of(self, instance_id: str) -> bool:
        """Whether this host's lease on the instance's partition runs on for a while."""
        return self.partitions.holds(self.router.partition_of(instance_id))

    async def start(self) -> None:
        # Before anything is created or read: a hub held by blob leases or another app's
        # app lease is refused (docs/task-hub-layout.md §8.4).
        await self.storage.refuse_foreign_leases()
        await self.storage.create_if_not_exists()
        await self._warn_of_poison()
        self.activities.start()
        await self.partitions.start()
        if self._time is not None:
            self._time.start()
        self._started = True
        log.info(
            "Task hub %s: %d partitions, dispatchers running",
            self.settings.hub_name,
            self.settings.partition_count,
        )

    async def _warn_of_poison(self) -> None:
        # Parked messages are ours alone: a Functions host of the extension never reads
        # `<hub>-poison` (docs/compatibility.md, "Poison messages in a shared hub").
        parked = await self.storage.peek_count(self.names.poison_queue)
        if parked:
            log.warning(
                "Task hub %s: %d message(s) parked in %s. Only durable_host reads that queue: "
                "list them with 'durable-host poison list' and replay or delete them before a "
                "Functions host of the extension runs this hub.",
                self.settings.hub_name,
                parked,
                self.names.poison_queue,
            )

    async def stop(self) -> None:
        """Graceful: stop taking work, finish what runs, release everything."""
        if self._time is not None:
            await self._time.stop()
        if self._started:
            await self.partitions.stop()
            await self.orchestrations.stop()
            await self.entities.close()
            self.http_activity.interrupt()
            await self.activities.stop()
        await self.http_activity.close()
        self.router.close()
        await self.storage.close()
        self._started = False

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def is_idle(self, settled: bool = True) -> bool:
        """Nothing runs or waits to run on this host (timers not yet due do not count).

        With `settled`, the background ends of checkpoints (Instances rows, deletes) must
        have finished too; they never create work, so time may skip ahead without them.
        """
        return (
            self.router.in_flight == 0
            and self.orchestrations.is_idle(settled)
            and self.activities.is_idle()
        )

    async def advance_time(self, delta: timedelta) -> None:
        """Virtual clock only: move time forward by `delta`, firing every timer due on the way."""
        if self._time is None or not isinstance(self.clock, VirtualClock):
            raise ConfigurationError(
                "advance_time needs an Engine created with clock=VirtualClock()."
            )
        await self._time.advance(self.clock.now() + delta)

    def replace_activity(self, name: str, runner: ActivityRunner | None) -> None:
        """Run `runner(raw_input)` instead of the app's activity `name` (None restores it).

        The runner gets the activity's input as stored (JSON text) and returns its
        ActivityResult; `durable_host.testing.doubles.activity_runner` makes one from a plain
        callable, through the same converters as the real activity.
        """
        key = name.lower()
        if runner is None:
            self._activity_doubles.pop(key, None)
        else:
            self._activity_doubles[key] = runner

    # -- adapters between the engine and the app's functions ------------------------------------

    def _resolve_orchestrator(self, name: str) -> str:
        try:
            return self.index.get_orchestrator(name).name
        except FunctionNotFoundError:
            raise
        except LookupError as exc:  # pragma: no cover - defensive
            raise FunctionNotFoundError(str(exc)) from exc

    def _resolve_entity(self, name: str) -> str:
        return self.index.get_entity(name).name

    def _is_activity(self, name: str) -> bool:
        if name.lower() in self._activity_doubles or name == HTTP_ACTIVITY_NAME:
            return True
        try:
            self.index.get_activity(name)
        except LookupError:
            return False
        return True

    async def _run_activity(self, item: ActivityWorkItem) -> ActivityResult:
        name = item.event.name
        executor = self.executors.activity(name)
        runner = self._activity_doubles.get(name.lower())
        if runner is not None:
            return await runner(executor.activity_input(item.event))
        if name == HTTP_ACTIVITY_NAME and not self.index.has(DurableKind.ACTIVITY, name):
            return await self.http_activity.run(executor.activity_input(item.event))
        return await executor.run_activity(item)
