"""Writing one orchestration work item's effects, in the provider's order.

1. the outbound messages (activities, timers, sub-orchestrations, events, a parent's
   result) are sent;
2. the history rows and the sentinel are written, guarded by the sentinel's ETag, so of
   two hosts that ran the same episode only one checkpoint lands;
3. the Instances row is merged;
4. the messages the work item consumed are deleted.

Steps 3 and 4 run in the background, in order per instance, so the instance's next episode
can start as soon as its history is written. A crash anywhere before 4 leaves the consumed
messages in their queue; they come back and are dropped as duplicates of the stored history
(and their redelivery brings a lagging Instances row up to date).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from durable_host.engine.dispatch.effects import EpisodeEffects, HistoryWrite
from durable_host.engine.dispatch.notifier import InstanceNotifier
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.replay.decision import Outbound
from durable_host.errors import LeaseLapsingError, StorageError
from durable_host.taskhub.events import OrchestrationInstance
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

log = logging.getLogger("durable_host.orchestrations")

RowWriter = Callable[[Session, dict[str, Any]], Awaitable[None]]
"""(session, Instances row fields) -> merges them into the instance's row."""
MessageDeleter = Callable[[list[ReceivedMessage]], Awaitable[None]]


class Checkpoints:
    """Begins each work item's Checkpoint; tracks the background ends still writing."""

    def __init__(
        self,
        *,
        storage: TaskHubStorage,
        router: MessageRouter,
        write_row: RowWriter,
        delete: MessageDeleter,
        notifier: InstanceNotifier,
        may_write: Callable[[str], bool] | None = None,
    ) -> None:
        self.may_write = may_write
        self.storage = storage
        self.router = router
        self.write_row = write_row
        self.delete = delete
        self.notifier = notifier
        self.finishing: set[asyncio.Task[None]] = set()

    def begin(self, consumed: list[ReceivedMessage]) -> Checkpoint:
        """A work item that consumes `consumed` (deleted once its effects are stored)."""
        return Checkpoint(self, consumed)

    async def wait_finishing(self) -> None:
        if self.finishing:
            await asyncio.gather(*list(self.finishing), return_exceptions=True)

    def track(self, task: asyncio.Task[None]) -> None:
        self.finishing.add(task)
        task.add_done_callback(self.finishing.discard)


class Checkpoint:
    """One work item's effects: owns its consumed messages until they are deleted."""

    def __init__(self, checkpoints: Checkpoints, consumed: list[ReceivedMessage]) -> None:
        self._to = checkpoints
        self._consumed = list(consumed)

    async def send(
        self, outbound: list[Outbound], sender: OrchestrationInstance, episode: int
    ) -> None:
        """Step 1 on its own: an older generation's messages in a continue-as-new."""
        may_write = self._to.may_write
        if may_write is not None and not may_write(sender.instance_id):
            # The partition's next owner may have run this episode already, and the instance
            # may even be purged since: a first write from here would bring it back.
            raise LeaseLapsingError(
                "is not checkpointed here: this host's lease on its partition lapsed while "
                "the episode ran"
            )
        sends: list[Awaitable[object]] = []
        router = self._to.router
        for item in outbound:
            if item.to_work_items:
                sends.append(
                    router.send_work_item(item.target, item.event, sender=sender, episode=episode)
                )
            else:
                sends.append(
                    router.send_to_instance(
                        item.target,
                        item.event,
                        visible_at=item.visible_at,
                        sender=sender,
                        episode=episode,
                    )
                )
        if sends:
            await asyncio.gather(*sends)

    async def commit(self, session: Session, effects: EpisodeEffects) -> None:
        """Steps 1 and 2 now; 3 and 4 in the background (see `Session.finish_after_last`)."""
        assert session.execution_id is not None
        sender = OrchestrationInstance(session.instance_id, session.execution_id)
        await self.send(effects.outbound, sender, effects.episode)
        appending = effects.history_write is HistoryWrite.APPEND
        etag = await self._to.storage.append_history(
            session.instance_id,
            session.execution_id,
            start_index=len(session.history) if appending else 0,
            events=effects.events,
            etag=session.etag,
        )
        session.apply(effects, etag)
        consumed, self._consumed = self._consumed, []
        # Row writes stay in order: each waits for the one before.
        self._to.track(
            session.finish_after_last(
                lambda previous: self._finish(previous, session, effects, consumed)
            )
        )

    async def drop(self) -> None:
        """Nothing to write (the instance has no execution): only delete the messages."""
        consumed, self._consumed = self._consumed, []
        await self._to.delete(consumed)

    async def _finish(
        self,
        previous: asyncio.Task[None] | None,
        session: Session,
        effects: EpisodeEffects,
        consumed: list[ReceivedMessage],
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        instance_id = session.instance_id
        try:
            await self._to.write_row(session, effects.row_fields)
            # Only once the row is written: a crash in between then replays the messages,
            # which bring the row up to date (see InstanceRowWriter.repair).
            await self._to.delete(consumed)
        except StorageError as exc:
            if exc.pop_receipt_mismatch:
                # The message became visible again (a stall past its visibility timeout, or
                # a crash) and was received anew; that copy is dropped as a duplicate.
                log.warning(
                    "Instance %s: a consumed message was already back in its queue (%s)",
                    instance_id,
                    exc,
                )
            else:
                _log_unfinished(instance_id)
        except Exception:
            _log_unfinished(instance_id)
        # Waiters for the end, and for the start (an ExecutionStarted names the instance).
        if effects.terminal or "name" in effects.row_fields:
            self._to.notifier.notify(instance_id)


def _log_unfinished(instance_id: str) -> None:
    log.exception(
        "Finishing a checkpoint of instance %s failed; the next checkpoint rewrites its "
        "status and its messages will be dropped as duplicates",
        instance_id,
    )
