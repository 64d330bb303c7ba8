"""Engine log lines carry the instance (and execution) they are about, and never another's.

Instances run concurrently on one engine; a parent starts its child from its own episode
(the child's worker task is created inside the parent's context), activities run in the
invoker's thread pool, entities run inside the orchestration dispatcher's workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from durable_host.engine.log_context import InstanceLogFilter
from durable_host.engine.runtime import Engine
from durable_host.functions.logs import ConsoleFormatter
from tests.engine._helpers import ENTITY_APP_DIR, finish, running_engine, start

pytestmark = pytest.mark.azurite


@dataclass(frozen=True)
class Line:
    logger: str
    message: str
    instance_id: str | None
    execution_id: str | None
    console: str


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(InstanceLogFilter())
        self.setFormatter(ConsoleFormatter())
        self.lines: list[Line] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(
            Line(
                record.name,
                record.getMessage(),
                getattr(record, "durable_instance_id", None),
                getattr(record, "durable_execution_id", None),
                self.format(record),
            )
        )


@pytest.fixture
def captured() -> Iterator[_Capture]:
    """Every record of durable_host (at DEBUG, as `--verbose`) and of the app's functions."""
    handler = _Capture()
    loggers = [logging.getLogger("durable_host"), logging.getLogger("function_app")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


async def executions(engine: Engine, instance_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for instance_id in instance_ids:
        status = await finish(engine, instance_id)
        assert status.execution_id, f"{instance_id} has no execution id"
        found[instance_id] = status.execution_id
    return found


def assert_lines_carry_their_own_instance(lines: list[Line], known: dict[str, str]) -> None:
    """Each stamped line names a known instance and, if any, that instance's execution."""
    stamped = [line for line in lines if line.instance_id is not None]
    assert stamped, "no log line carried an instance id"
    for line in stamped:
        assert line.instance_id in known, f"unknown instance on {line}"
        assert line.execution_id in (None, known[line.instance_id]), (
            f"{line.instance_id}'s line carries execution {line.execution_id}, "
            f"not its own {known[line.instance_id]}: {line}"
        )
        for other in known:
            if other != line.instance_id and other in line.message.split():
                raise AssertionError(f"a line about {other} carries {line.instance_id}: {line}")


def lines_of(lines: list[Line], instance_id: str, starting: str) -> list[Line]:
    return [ln for ln in lines if ln.instance_id == instance_id and ln.message.startswith(starting)]


async def test_concurrent_orchestrations_log_their_own_ids(
    engine: Engine, captured: _Capture
) -> None:
    parents = ["logs-a", "logs-b"]
    await asyncio.gather(*(start(engine, "noted_family", "parent", p) for p in parents))
    instances = parents + [f"{p}-child" for p in parents]
    known = await executions(engine, instances)

    lines = captured.lines
    assert_lines_carry_their_own_instance(lines, known)
    for instance_id, execution_id in known.items():
        for phase in ("Episode starts", "Episode done"):
            found = lines_of(lines, instance_id, phase)
            assert found, f"no '{phase}' line for {instance_id}"
            assert all(ln.execution_id == execution_id for ln in found), found
        # Each batch of messages made an episode here (nothing was a duplicate), so a line
        # logged before the episode and stamped with the wrong instance shows as a mismatch.
        batches = lines_of(lines, instance_id, "Messages:")
        assert len(batches) == len(lines_of(lines, instance_id, "Episode starts")), batches
        # The activity's own log line, from the invoker's thread pool, names its instance.
        (noted,) = [ln for ln in lines if ln.message == f"noted {instance_id}"]
        assert (noted.instance_id, noted.execution_id) == (instance_id, execution_id)
        # The console shows durable_host's lines with the ids, the app's lines as they are.
        episode = lines_of(lines, instance_id, "Episode done")[0]
        assert f"] [{instance_id} {execution_id}] Episode done" in episode.console
        assert f"[{instance_id}" not in noted.console


async def test_entities_log_their_own_ids(azurite: str, hub_name: str, captured: _Capture) -> None:
    async with running_engine(azurite, hub_name, ENTITY_APP_DIR) as engine:
        callers = {"logs-call-a": "a", "logs-call-b": "b"}
        await asyncio.gather(*(start(engine, "call_twice", k, i) for i, k in callers.items()))
        known = await executions(engine, list(callers))

    lines = captured.lines
    entities = {f"@counter@{key}" for key in callers.values()}
    assert_lines_carry_their_own_instance([ln for ln in lines if ln.instance_id in known], known)
    stamped = {ln.instance_id for ln in lines if ln.instance_id is not None}
    assert stamped == set(known) | entities, stamped
    for entity in entities:
        starts = lines_of(lines, entity, "Batch starts")
        done = lines_of(lines, entity, "Batch done")
        assert starts and len(done) == len(starts), (starts, done)
        # Each batch runs as the execution the batch before it was checkpointed as (the
        # first one before the entity has any).
        checkpointed = [None] + [ln.message.rsplit(" ", 1)[1] for ln in done]
        assert [ln.execution_id for ln in starts] == checkpointed[: len(starts)]
