"""durabletask's logger at its handler's level writes what the logger at NOTSET writes, and
replays answer the same: durabletask's own get_logger and worker are the oracles."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from durabletask import task
from durabletask.internal import shared
from durabletask.worker import TaskHubGrpcWorker

from durable_host.functions import durabletask_fast_paths
from durable_host.functions.durabletask_fast_paths import at_handler_level
from durable_host.protobuf.requests import orchestrator_request
from durable_host.taskhub import events as ev

ORIGINAL = getattr(shared.get_logger, "durable_host_original", shared.get_logger)
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def get_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    """Puts durabletask's own get_logger back, or the swapped one, for the test's length."""

    def use(swapped: bool) -> None:
        chosen = at_handler_level(ORIGINAL) if swapped else ORIGINAL
        monkeypatch.setattr(shared, "get_logger", chosen)

    yield use


class _Records:
    """Counts the LogRecords built while it is installed (a debug call that stops at
    `isEnabledFor` builds none)."""

    def __init__(self) -> None:
        self.levels: list[int] = []
        self._factory = logging.getLogRecordFactory()

    def __enter__(self) -> _Records:
        def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = self._factory(*args, **kwargs)
            self.levels.append(record.levelno)
            return record

        logging.setLogRecordFactory(make)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.setLogRecordFactory(self._factory)


def _text(stream: io.StringIO) -> list[str]:
    # Each line starts with its time ("2026-12-07 08:00:00.123"): the rest must match.
    return [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()]


def _chain(ctx: task.OrchestrationContext, count: int) -> Any:
    total = 0
    for i in range(count):
        total += yield ctx.call_activity("add", input=i)
    if total > 100:
        raise ValueError("too much")
    return total


def _request(results: list[int], count: int) -> Any:
    instance = ev.OrchestrationInstance("abc", "e1")
    past: list[ev.HistoryEvent] = [
        ev.OrchestratorStarted(timestamp=NOW),
        ev.ExecutionStarted(
            timestamp=NOW, orchestration_instance=instance, name="_chain", input=str(count)
        ),
    ]
    for i, result in enumerate(results[:-1], start=1):
        past += [
            ev.TaskScheduled(timestamp=NOW, event_id=i, name="add", input=str(i - 1)),
            ev.OrchestratorCompleted(timestamp=NOW),
            ev.OrchestratorStarted(timestamp=NOW),
            ev.TaskCompleted(timestamp=NOW, task_scheduled_id=i, result=str(result)),
        ]
    last = len(results)
    past += [
        ev.TaskScheduled(timestamp=NOW, event_id=last, name="add", input=str(last - 1)),
        ev.OrchestratorCompleted(timestamp=NOW),
    ]
    new = [
        ev.OrchestratorStarted(timestamp=NOW),
        ev.TaskCompleted(timestamp=NOW, task_scheduled_id=last, result=str(results[-1])),
    ]
    return orchestrator_request("abc", "e1", past, new)


def _episode(request: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, list[str], list[int]]:
    """As the 2.x SDKs run one: a worker made for the call, its answer, what it wrote."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    answers: list[Any] = []

    class Stub:
        def CompleteOrchestratorTask(self, response: Any) -> None:
            answers.append(response)

    with _Records() as records:
        worker = TaskHubGrpcWorker(host_address="in-process")
        worker.add_orchestrator(_chain)
        worker._execute_orchestrator(request, Stub(), None)
    # The orchestration span's start (the clock) and id (random) differ from run to run.
    answers[0].ClearField("orchestrationTraceContext")
    return answers[0].SerializeToString(), _text(stream), records.levels


@pytest.mark.parametrize(
    ("results", "count"),
    [([1], 3), ([1, 2], 3), ([1, 2, 3], 3), ([50, 60], 2)],
    ids=["yields", "yields-later", "completes", "fails"],
)
def test_an_episode_answers_and_writes_the_same(
    results: list[int],
    count: int,
    get_logger: Callable[[bool], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = _request(results, count)
    get_logger(False)
    answer, lines, levels = _episode(request, monkeypatch)
    get_logger(True)
    fast_answer, fast_lines, fast_levels = _episode(request, monkeypatch)
    assert fast_answer == answer
    assert fast_lines == lines and lines  # an INFO line per episode
    assert logging.DEBUG in levels  # durabletask's own logger builds its debug records ...
    assert logging.DEBUG not in fast_levels  # ... the swapped one builds none


def test_the_logger_durabletask_makes_takes_its_handlers_level(
    get_logger: Callable[[bool], None],
) -> None:
    get_logger(True)
    made = shared.get_logger("worker")
    assert made.level == logging.INFO == made.handlers[0].level
    assert not made.isEnabledFor(logging.DEBUG) and made.isEnabledFor(logging.INFO)


def test_a_handler_passed_in_keeps_its_level(get_logger: Callable[[bool], None]) -> None:
    get_logger(True)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    with pytest.warns(DeprecationWarning):
        made = shared.get_logger("worker", handler)
    made.debug("seen")
    assert made.level == logging.DEBUG
    assert "seen" in stream.getvalue()


def test_a_logger_passed_in_is_left_as_it_is(get_logger: Callable[[bool], None]) -> None:
    get_logger(True)
    own = logging.Logger("mine")
    own.addHandler(logging.NullHandler())
    assert shared.get_logger("worker", logger=own) is own
    assert own.level == logging.NOTSET


def test_install_swaps_once_and_the_switch_leaves_it_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "get_logger", ORIGINAL)
    monkeypatch.setenv(durabletask_fast_paths.SWITCH, "0")
    assert durabletask_fast_paths.install() is False
    assert shared.get_logger is ORIGINAL
    monkeypatch.delenv(durabletask_fast_paths.SWITCH)
    assert durabletask_fast_paths.install() is True
    swapped = shared.get_logger
    assert swapped.durable_host_original is ORIGINAL  # type: ignore[attr-defined]
    assert durabletask_fast_paths.install() is True and shared.get_logger is swapped


def test_another_get_logger_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def other(name: str) -> logging.Logger:
        return logging.Logger(name)

    monkeypatch.setattr(shared, "get_logger", other)
    assert durabletask_fast_paths.install() is False
    assert shared.get_logger is other
