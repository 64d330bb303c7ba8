"""The activity dispatcher: work items in, TaskCompleted/TaskFailed to the instance's control queue.

Any host may take any work item. A work item is deleted only after its result is
sent, so a crash re-runs the activity (at-least-once, as in Durable Functions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from durable_host.engine.dispatch.abandon import retry_while_unavailable
from durable_host.engine.dispatch.executors import ActivityResult, ActivityWorkItem
from durable_host.engine.dispatch.queue_consumer import QueueConsumer, QueueSettings
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.log_context import about_instance
from durable_host.engine.time.clock import Clock, sleep_or_wake
from durable_host.errors import StorageError
from durable_host.taskhub.events import (
    FailureDetails,
    HistoryEvent,
    OrchestrationInstance,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
)
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

if TYPE_CHECKING:
    from durable_host.tracing.spans import DurableTracer

log = logging.getLogger("durable_host.activities")


class ActivityInterrupted(Exception):
    """The host stops while the activity waits: its work item goes back to the queue as is."""


ActivityRunner = Callable[[ActivityWorkItem], Awaitable[ActivityResult]]
"""Runs one activity work item (the Engine picks its executor: executors.py)."""


class ActivityDispatcher(QueueConsumer):
    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        router: MessageRouter,
        run_activity: ActivityRunner,
        clock: Clock,
        max_concurrent: int = 10,
        queue: QueueSettings = QueueSettings(),
        tracer: DurableTracer | None = None,
    ) -> None:
        super().__init__(storage, queue, log)
        self._router = router
        self._run = run_activity
        self._clock = clock
        self._max = max_concurrent
        self._running: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.activities_run = 0
        self.tracer = tracer  # when tracing is on
        # Renewing a message's visibility changes its pop receipt; the latest one deletes it.
        self._renewed: dict[str, ReceivedMessage] = {}
        self._backlog: deque[ReceivedMessage] = deque()

    def start(self) -> None:
        self._router.deliver_work_items_locally(
            self._deliver_local, visibility_timeout=self._visibility
        )
        self._loop_task = asyncio.create_task(
            self._poll(
                self._storage.names.work_item_queue,
                self._receive,
                self._spawn_all,
                wake=self._router.work_item_wakeup,
                stop=self._stopping,
            )
        )

    def is_idle(self) -> bool:
        return not self._running and not self._backlog

    def _deliver_local(self, msg: ReceivedMessage) -> None:
        """A work item this host just sent (already invisible): run it without receiving it."""
        if len(self._running) < self._max and not self._backlog:
            self._spawn(msg)
        else:
            self._backlog.append(msg)
            self._slot_freed.set()

    def _spawn(self, msg: ReceivedMessage) -> None:
        task = asyncio.create_task(self._execute(msg))
        self._running.add(task)
        task.add_done_callback(self._finished)

    async def _spawn_all(self, messages: list[ReceivedMessage]) -> None:
        for msg in messages:
            self._spawn(msg)

    async def stop(self) -> None:
        """Stop taking work; running activities finish and report (or reappear if the host dies)."""
        self._stopping.set()
        self._router.deliver_work_items_locally(None)
        self._router.work_item_wakeup.set()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        while self._backlog:
            await self._abandon(self._backlog.popleft(), 0)
        await self._stop_abandoning()

    async def _wait_for_room(self, wake: asyncio.Event) -> bool:
        while self._backlog and len(self._running) < self._max:
            self._spawn(self._backlog.popleft())
        if len(self._running) < self._max and not self._backlog:
            return True
        await sleep_or_wake(self._slot_freed, 1.0)
        return False

    async def _receive(self) -> list[ReceivedMessage]:
        free = self._max - len(self._running)
        return await self._storage.receive_work_items(
            max_messages=min(32, free), visibility_timeout=self._visibility
        )

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        # Start the backlog here, not in the loop: while this host hands work items to itself
        # its receives come back empty, so the loop may be asleep in its poll back-off (up to
        # maxQueuePollingInterval, 30 s) and would leave the backlog waiting that long.
        while self._backlog and len(self._running) < self._max and not self._stopping.is_set():
            self._spawn(self._backlog.popleft())
        self._slot_freed.set()

    async def _execute(self, msg: ReceivedMessage) -> None:
        if await self._settle_unreadable(msg):
            return
        assert msg.data is not None and msg.data.task_message is not None
        event = msg.data.task_message.event
        instance = msg.data.task_message.orchestration_instance
        about_instance(instance.instance_id, instance.execution_id)
        if not isinstance(event, TaskScheduled):
            await self._poison(
                msg, f"work item holds {event.event_type.dotnet_name}, not TaskScheduled"
            )
            return
        renewer = asyncio.create_task(self._keep_invisible(msg))
        try:
            if self.tracer is None:
                outcome = await self._run(ActivityWorkItem(event, instance))
            else:
                outcome = await self.tracer.run_activity(
                    event,
                    instance.instance_id,
                    lambda: self._run(ActivityWorkItem(event, instance)),
                )
        except ActivityInterrupted as exc:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            log.info("Activity %s for %s: %s; it runs again", event.name, instance.instance_id, exc)
            await self._abandon(self._renewed.pop(msg.message_id, msg), 0)
            return
        finally:
            renewer.cancel()
        self.activities_run += 1
        result = _result_event(event, outcome, self._clock.now())
        await self._report(msg, instance, result, event.name)

    async def _report(
        self,
        msg: ReceivedMessage,
        instance: OrchestrationInstance,
        result: HistoryEvent,
        name: str,
    ) -> None:
        """Send the result to the instance, then delete the work item."""

        async def report() -> None:
            stored = await self._router.send_result(instance, result)
            if stored is not None:
                await stored  # the result must be in its queue before the work item goes
            await self._delete([self._renewed.get(msg.message_id, msg)])

        # Through a storage outage the result is kept and reported once storage answers (a
        # repeat whose first send did land is dropped as a duplicate on receipt), rather than
        # left for the work item to reappear when its visibility runs out.
        deadline = time.monotonic() + self._visibility
        what = f"report activity {name} of instance {instance.instance_id}"
        try:
            if not await retry_while_unavailable(report, deadline=deadline, what=what):
                log.error("Could not %s: storage did not answer; it will run again", what)
        except StorageError as exc:
            if not exc.pop_receipt_mismatch:
                _log_report_failed(name, instance.instance_id)
                return
            # Its visibility lapsed (a stall longer than the renewals allow) and it is back in
            # the queue: the activity runs again and its second result is dropped as a duplicate.
            log.warning(
                "Activity %s for instance %s: its work item was already back in the queue (%s); "
                "it will run again",
                name,
                instance.instance_id,
                exc,
            )
        except Exception:
            _log_report_failed(name, instance.instance_id)
        finally:
            self._renewed.pop(msg.message_id, None)

    async def _keep_invisible(self, msg: ReceivedMessage) -> None:
        """Renew the work item's visibility while a long activity runs."""
        current = msg
        try:
            while True:
                await asyncio.sleep(self._visibility / 2)
                try:
                    receipt = await self._storage.renew_message(
                        current, visibility_timeout=self._visibility
                    )
                except StorageError as exc:  # an outage: try again at the next turn
                    log.debug("Renewing work item %s failed: %s", msg.message_id, exc)
                    continue
                current = replace(current, pop_receipt=receipt)
                self._renewed[msg.message_id] = current
        except asyncio.CancelledError:
            pass


def _result_event(event: TaskScheduled, outcome: ActivityResult, now: datetime) -> HistoryEvent:
    """The TaskCompleted or TaskFailed that reports `outcome` to the orchestration."""
    if not outcome.failed:
        return TaskCompleted(
            timestamp=now, task_scheduled_id=event.event_id, result=outcome.result_json
        )
    return TaskFailed(
        timestamp=now,
        task_scheduled_id=event.event_id,
        reason=f"Activity function '{event.name}' failed: {outcome.error_message}",
        details=outcome.stack_trace,
        failure_details=FailureDetails(
            error_type=outcome.error_type or "Exception",
            error_message=outcome.error_message or "",
            stack_trace=outcome.stack_trace,
        ),
    )


def _log_report_failed(name: str, instance_id: str) -> None:
    log.exception(
        "Reporting activity %s for instance %s failed; it will run again", name, instance_id
    )
