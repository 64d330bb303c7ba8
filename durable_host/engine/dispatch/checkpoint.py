"""Writing one work item's effects, in the provider's order: an orchestration's episode or
an entity's batch (entities.py), which is a continue-as-new of the entity.

1. the outbound messages (activities, timers, sub-orchestrations, events, a parent's
   result; an entity's replies, signals and starts) are sent;
2. the history rows and the sentinel are written, guarded by the sentinel's ETag, so of
   two hosts that ran the same episode only one checkpoint lands;
3. the Instances row is merged;
4. the messages the work item consumed are deleted.

Messages for this host's own dispatchers (a chain's next activity) are handed over once
step 2's request is on its way, not before it: step 2 is what the instance's next episode
waits for. An orchestration's steps 3 and 4 run in the background, in order per instance
(started before the instance's next episode runs), so that episode can start as soon as its
history is written; an entity's run before its batch ends (clients read an entity's state
from its row). A crash anywhere before 4
leaves the consumed messages in their queue; they come back and are dropped as duplicates of
the stored history (and their redelivery brings a lagging Instances row up to date).

An entity's history write is retried through a short outage (its replies are out, see
`_store`) and its row is merged without a condition (instance_row.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from durable_host.engine.dispatch.effects import EpisodeEffects, HistoryWrite, WorkItemKind
from durable_host.engine.dispatch.instance_row import InstanceRowWriter
from durable_host.engine.dispatch.notifier import InstanceNotifier
from durable_host.engine.dispatch.queue_consumer import delete_settled
from durable_host.engine.dispatch.router import MessageRouter
from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.replay.decision import Outbound
from durable_host.errors import CheckpointConflictError, LeaseLapsingError, StorageError
from durable_host.taskhub.events import OrchestrationInstance
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.storage import ReceivedMessage, TaskHubStorage

log = logging.getLogger("durable_host.orchestrations")

# Attempts at an entity's history write once its replies are out (about 6 s in all).
_ENTITY_STORE_ATTEMPTS = 6


class Checkpoints:
    """Begins each work item's Checkpoint; tracks the background ends still writing."""

    def __init__(
        self,
        storage: TaskHubStorage,
        router: MessageRouter,
        rows: InstanceRowWriter,
        notifier: InstanceNotifier,
        may_write: Callable[[str], bool] | None = None,
    ) -> None:
        """`rows` writes the Instances rows (the client's writer: a start's first episode
        merges into the Pending row it wrote); `may_write` says whether this host still holds
        an instance's partition (None: a host with every partition)."""
        self.may_write = may_write
        self.storage = storage
        self.router = router
        self.rows = rows
        self.notifier = notifier
        self.finishing: set[asyncio.Task[None]] = set()

    async def delete(self, messages: list[ReceivedMessage]) -> None:
        """Remove messages whose effects are stored."""
        await delete_settled(self.storage, messages)

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
        self, outbound: list[Outbound], sender: OrchestrationInstance, episode: int | None
    ) -> None:
        """Step 1 on its own: an older generation's messages in a continue-as-new (an entity
        batch's too: it continues as new each time)."""
        for hand_over in await self._send(outbound, sender, episode, defer_local=False):
            hand_over()

    async def _send(
        self,
        outbound: list[Outbound],
        sender: OrchestrationInstance,
        episode: int | None,
        *,
        defer_local: bool,
    ) -> list[Callable[[], None]]:
        """Step 1; returns the hand-overs of the messages for this host's own dispatchers
        (no-ops unless `defer_local`), each to be called once."""
        may_write = self._to.may_write
        if may_write is not None and not may_write(sender.instance_id):
            # The partition's next owner may have run this episode already, and the instance
            # may even be purged since: a first write from here would bring it back.
            raise LeaseLapsingError(
                "is not checkpointed here: this host's lease on its partition lapsed while "
                "the episode ran"
            )
        router = self._to.router
        sends: list[Awaitable[Callable[[], None]]] = []
        for item in outbound:
            if item.to_work_items:
                sends.append(
                    router.send_work_item(
                        item.target,
                        item.event,
                        sender=sender,
                        episode=episode,
                        defer_local=defer_local,
                    )
                )
            else:
                sends.append(
                    router.send_to_instance(
                        item.target,
                        item.event,
                        visible_at=item.visible_at,
                        sender=sender,
                        episode=episode,
                        defer_local=defer_local,
                    )
                )
        if len(sends) == 1:
            return [await sends[0]]  # no gather (a task and a loop turn) for the usual one
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
        hand_overs = [o for o in outcomes if not isinstance(o, BaseException)]
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            for hand_over in hand_overs:  # sent: theirs to process, as if not deferred
                hand_over()
            raise failed[0]
        return hand_overs

    async def commit(self, session: Session, effects: EpisodeEffects) -> None:
        """Steps 1 and 2 now; an orchestration's 3 and 4 in the background (see
        `Session.finish_after_last`), an entity's now, failures raised: clients read an
        entity's state from its row, which so keeps up with the batches."""
        assert session.execution_id is not None
        sender = OrchestrationInstance(session.instance_id, session.execution_id)
        hand_overs = await self._send(effects.outbound, sender, effects.episode, defer_local=True)
        # The sent messages reach this host's dispatchers once the history write is on its
        # way (its task runs first, up to its request): that write is the next episode's
        # wait, while an activity starting first would only put its own CPU ahead of it.
        store = asyncio.ensure_future(self._store(session, effects))
        if hand_overs:
            asyncio.get_running_loop().call_soon(_call_all, hand_overs)
        session.apply(effects, await store)
        consumed, self._consumed = self._consumed, []
        if effects.kind is WorkItemKind.ENTITY:
            await self._to.rows.write_entity(session.instance_id, effects.row_fields)
            await self._to.delete(consumed)
            return
        # Row writes stay in order: each waits for the one before.
        self._to.track(
            session.finish_after_last(
                lambda previous: self._finish(previous, session, effects, consumed)
            )
        )
        # One turn of the loop, so the row write just started goes out now, while this host
        # runs the instance's next episode, rather than beside that episode's sends.
        await asyncio.sleep(0)

    async def _store(self, session: Session, effects: EpisodeEffects) -> str:
        """Step 2; returns the sentinel's new ETag.

        An entity's replies are out by now, so a transient failure is retried here rather
        than left to the messages' redelivery: a caller that got its reply sends its next
        call at once, and that call must not run on the state before this batch. A conflict
        (another writer, or an earlier attempt whose answer was lost) is not retried: the
        work item fails, the session is dropped, and what was applied is judged from storage.
        """
        assert session.execution_id is not None
        appending = effects.history_write is HistoryWrite.APPEND
        attempts = _ENTITY_STORE_ATTEMPTS if effects.kind is WorkItemKind.ENTITY else 1
        for attempt in range(attempts):
            try:
                return await self._to.storage.append_history(
                    session.instance_id,
                    session.execution_id,
                    start_index=len(session.history) if appending else 0,
                    events=effects.events,
                    etag=session.etag,
                )
            except CheckpointConflictError:
                raise
            except StorageError as exc:
                if attempt == attempts - 1:
                    raise
                log.warning(
                    "Entity %s: storing its state failed (%s); retrying", session.instance_id, exc
                )
                await asyncio.sleep(min(0.25 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

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
        row: InstanceRecord | None = None
        try:
            row = await self._to.rows.write_owned(session, effects.row_fields)
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
        # Waiters for the end, and for the start (an ExecutionStarted names the instance),
        # handed the row as written, when known: no read of it.
        if effects.terminal or "name" in effects.row_fields:
            self._to.notifier.notify(instance_id, terminal=effects.terminal, row=row)


def _call_all(hand_overs: list[Callable[[], None]]) -> None:
    for hand_over in hand_overs:
        hand_over()


def _log_unfinished(instance_id: str) -> None:
    log.exception(
        "Finishing a checkpoint of instance %s failed; the next checkpoint rewrites its "
        "status and its messages will be dropped as duplicates",
        instance_id,
    )
