"""Tests that replay themselves: after a test passes, every orchestration instance it ran to
completion is replayed against the code under test, and a divergence fails the test.

A test can pass while its orchestrator is non-deterministic: a branch on process state (a
module-level cache, a setting read at run time) goes the same way in every episode of the
test, and the other way in a later replay (a new episode of a long-running instance, a
restarted worker). The replay runs in the test's process on the modules the host loaded, so
it sees that state as the next episode would; it schedules nothing and writes nothing.

Cost: one read of the hub's instance table before and after the test, then per completed
instance one history read and one run of the orchestrator (no activities run).

Each orchestrator is replayed in its own protocol: the 1.x JSON protocol through
azure-functions-durable 1.x, the protobuf protocol (`durableRequiresGrpc`, the 2.x SDK) through
the app's own durabletask worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from durable_host.history_check import HistoryReplayer, ReplayReport
from durable_host.history_check.recorded import read_recorded, select_instances
from durable_host.taskhub.events import OrchestrationStatus

if TYPE_CHECKING:
    from durable_host.testing._environment import DurableTestEnvironment

__all__ = ["ReplayCheckError", "completed_instances", "replay_completed"]

# How a user turns the check off; named in every failure it raises.
HOW_TO_TURN_OFF = (
    "@pytest.mark.durable_host(replay_check=False) on the test, or durable_host_replay_check = "
    "false in the pytest configuration"
)


class ReplayCheckError(AssertionError):
    """A test's orchestration did something else when replayed after the test."""


async def completed_instances(env: DurableTestEnvironment) -> set[str]:
    """The ids of the orchestration instances of the environment's hub that completed."""
    return set(await select_instances(env.engine.storage, [OrchestrationStatus.Completed]))


async def replay_completed(env: DurableTestEnvironment, before: set[str]) -> list[ReplayReport]:
    """Replay every instance completed now and not in `before`; raise ReplayCheckError when
    one does not replay as recorded. Returns the reports (all ok)."""
    ids = sorted(await completed_instances(env) - before)
    if not ids:
        return []
    engine = env.engine
    reports = []
    with HistoryReplayer(env.host.app_dir, index=engine.index) as replayer:
        for instance_id in ids:
            recorded = await read_recorded(engine.storage, instance_id)
            reports.append(await replayer.replay(recorded))
    bad = [report for report in reports if not report.ok]
    if bad:
        raise ReplayCheckError(_failure_text(bad, len(reports)))
    return reports


def _failure_text(bad: list[ReplayReport], replayed: int) -> str:
    details = "\n".join(report.describe() for report in bad)
    return (
        f"{len(bad)} of the {replayed} orchestration instance(s) this test completed do not "
        "replay as they ran: the orchestrator decides differently on a replay (process state, "
        "a clock, randomness, I/O), which fails the instance in production when it is replayed "
        f"after a restart or a new event.\n{details}\n"
        f"(Durable Functions replays every orchestrator; to skip this check: {HOW_TO_TURN_OFF}.)"
    )
