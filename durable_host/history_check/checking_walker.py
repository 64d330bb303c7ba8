"""The engine's replay walk, stopped at the first divergence with what and where it is.

`CheckingWalker` is `engine.replay.HistoryWalker` (the same sequence ids, the same
determinism check the engine applies at run time); it only remembers which action it
was building, so a divergence can name the orchestrator's source line. `ActionSources`
records that line for every action the SDK appends, by watching the SDK's
`_add_to_actions` with a profile hook for the length of one replay: a yielded task is
appended while the generator is suspended at its `yield`, a fire-and-forget action
(signal, continue-as-new) while the user's frame is on the stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import FrameType, GeneratorType
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import (
    DurableOrchestrationContext,
)

from durable_host.engine.replay.decision import EpisodeContext
from durable_host.engine.replay.tasks import Leaf, Retry
from durable_host.engine.replay.walk import HistoryWalker
from durable_host.errors import NonDeterminismError
from durable_host.history_check.app_sources import AppSources, ProfileHook
from durable_host.history_check.ending import NOTHING_SCHEDULED, describe_event
from durable_host.history_check.verdicts import Divergence, SourceLine
from durable_host.taskhub.events import (
    HistoryEvent,
    SubOrchestrationInstanceCreated,
    TaskScheduled,
    TimerCreated,
)

_ADD_TO_ACTIONS = DurableOrchestrationContext._add_to_actions.__code__


class Diverged(Exception):
    """Raised inside the walk at the first divergence; carries it out."""

    def __init__(self, divergence: Divergence, *, code_stopped: bool = False) -> None:
        super().__init__(divergence.describe())
        self.divergence = divergence
        # The code scheduled nothing at the recorded task (rather than something else there).
        self.code_stopped = code_stopped


class ActionSources(ProfileHook):
    """The app source line of each top-level action, in the SDK's order."""

    def __init__(self, app_dir: Path) -> None:
        self._files = AppSources(app_dir)
        self.lines: list[SourceLine | None] = []

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or frame.f_code is not _ADD_TO_ACTIONS:
            return
        context = frame.f_locals.get("self")
        # The SDK drops every action after continue_as_new: keep the list in step with it.
        if getattr(context, "will_continue_as_new", False):
            return
        self.lines.append(self._locate(frame))

    def is_app_file(self, path: str) -> bool:
        return self._files.is_app_file(path)

    def _line(self, frame: FrameType) -> SourceLine:
        return self._files.line(frame)

    def _locate(self, frame: FrameType) -> SourceLine | None:
        caller: FrameType | None = frame.f_back
        while caller is not None:
            if self.is_app_file(caller.f_code.co_filename):
                return self._line(caller)
            generator = getattr(caller.f_locals.get("self"), "generator", None)
            if isinstance(generator, GeneratorType):
                return self._suspended_at(generator)
            caller = caller.f_back
        return None

    def _suspended_at(self, generator: GeneratorType[Any, Any, Any]) -> SourceLine | None:
        """The innermost app frame of a suspended generator (through `yield from`)."""
        found: SourceLine | None = None
        current: Any = generator
        while isinstance(current, GeneratorType) and current.gi_frame is not None:
            if self.is_app_file(current.gi_frame.f_code.co_filename):
                found = self._line(current.gi_frame)
            current = current.gi_yieldfrom
        return found


def describe_expected(kind: type[HistoryEvent], name: str | None) -> str:
    if kind is TaskScheduled:
        return f"call_activity('{name}')"
    if kind is SubOrchestrationInstanceCreated:
        return f"call_sub_orchestrator('{name}')"
    if kind is TimerCreated:
        return "create_timer(...)"
    return "an entity operation"


class CheckingWalker(HistoryWalker):
    def __init__(
        self,
        ctx: EpisodeContext,
        history: Sequence[HistoryEvent],
        actions: list[dict[str, Any]],
        sources: list[SourceLine | None],
    ) -> None:
        super().__init__(ctx, history, actions)
        self._sources = sources
        self._top_index = _top_level_index(actions)
        self._building: dict[str, Any] | None = None
        self.source_by_seq: dict[int, SourceLine | None] = {}

    def source_of(self, action: dict[str, Any] | None) -> SourceLine | None:
        index = None if action is None else self._top_index.get(id(action))
        if index is None or index >= len(self._sources):
            return None
        return self._sources[index]

    def _event_index(self, event: HistoryEvent) -> int | None:
        return next((i for i, e in enumerate(self.history) if e is event), None)

    # -- remembering which action is being built --------------------------------------------

    def build(self, action: dict[str, Any], parent: Any) -> Any:
        previous, self._building = self._building, action
        try:
            return super().build(action, parent)
        finally:
            self._building = previous

    def start_attempt(self, retry: Retry) -> None:
        previous, self._building = self._building, retry.action
        try:
            super().start_attempt(retry)
        finally:
            self._building = previous

    def on_attempt_done(self, retry: Retry, leaf: Leaf) -> None:
        previous, self._building = self._building, retry.action
        try:
            super().on_attempt_done(retry, leaf)
        finally:
            self._building = previous

    def register(self, leaf: Leaf, kind: type[HistoryEvent], name: str | None) -> bool:
        self.source_by_seq[leaf.seq] = self.source_of(self._building)
        return super().register(leaf, kind, name)

    # -- the determinism checks, with the divergence made explicit ------------------------

    def verify(self, seq: int, stored: HistoryEvent) -> None:
        try:
            super().verify(seq, stored)
        except NonDeterminismError:
            kind, name = self.expected[seq]
            raise Diverged(
                Divergence(
                    expected=describe_event(stored),
                    got=describe_expected(kind, name),
                    event_index=self._event_index(stored),
                    sequence_id=seq,
                    source=self.source_of(self._building),
                )
            ) from None

    def check_stored(self, event: HistoryEvent) -> None:
        try:
            super().check_stored(event)
        except NonDeterminismError:
            last = self.actions[self.cursor - 1] if self.cursor else None
            raise Diverged(
                Divergence(
                    expected=describe_event(event),
                    got=NOTHING_SCHEDULED,
                    event_index=self._event_index(event),
                    sequence_id=event.event_id,
                    source=self.source_of(last),
                ),
                code_stopped=True,
            ) from None


def _top_level_index(actions: list[dict[str, Any]]) -> dict[int, int]:
    """id(action) -> index of the top-level action it belongs to (compound children too)."""
    index: dict[int, int] = {}

    def visit(action: dict[str, Any], top: int) -> None:
        index[id(action)] = top
        for child in action.get("compoundActions") or []:
            visit(child, top)

    for top, action in enumerate(actions):
        visit(action, top)
    return index
