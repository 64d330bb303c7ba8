"""A/B of the host's CPU per orchestrator episode, without storage: another checkout vs this one.

Run: .venv/bin/python bench/replay_ab.py --base DIR [--rounds 9] [--hops 30]
where DIR holds the durable_host package to compare against (as for bench/engine_ab.py).
Each measurement runs in a fresh process: the bench app's `sequence` orchestrator replayed
through the host's 1.x path (the session's SDK-form history, the trigger payload, the SDK's
own handle through FunctionInvoker, the walk of its actions) once per hop of a `--hops` chain,
each episode on the history the previous ones left, as the sequential hop workload does;
the figure is the process's CPU time per episode. The variants take turns (the order flips
each round). Prints every figure, the medians and the median of this/base paired by round.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def _measure(hops: int, repeat: int) -> float:
    """CPU ms per episode over `repeat` runs of a `hops`-activity chain."""
    from durable_host.engine.dispatch.sessions import Session
    from durable_host.engine.replay.context import build_context_json
    from durable_host.engine.replay.decision import EpisodeContext
    from durable_host.engine.replay.walk import replay
    from durable_host.functions import FunctionInvoker, load_app
    from durable_host.taskhub.event_json import event_to_json
    from durable_host.taskhub.events import (
        ExecutionStarted,
        OrchestrationInstance,
        OrchestratorCompleted,
        OrchestratorStarted,
        TaskCompleted,
    )

    try:
        from durable_host.engine.replay.context import event_json_text
    except ImportError:  # a checkout from before the per-event texts: the payload took objects

        def event_json_text(event_json: Any) -> Any:  # type: ignore[misc]
            return event_json

    invoker = FunctionInvoker(load_app(ROOT / "bench" / "app"))
    clock = datetime(2026, 1, 1, tzinfo=UTC)

    def tick() -> datetime:
        nonlocal clock
        clock += timedelta(milliseconds=7, microseconds=123)
        return clock

    async def chain() -> int:
        started = ExecutionStarted(
            timestamp=tick(),
            orchestration_instance=OrchestrationInstance("i", "e"),
            name="sequence",
            input=json.dumps(json.dumps(hops)),  # as the client stores it (engine_ab.py)
        )
        session = Session("i", execution_id="e")
        new = [OrchestratorStarted(timestamp=started.timestamp), started]
        episodes = 0
        while True:
            ctx = EpisodeContext("i", "e", "sequence", new[0].timestamp)
            texts = session.played_json() + [
                event_json_text(event_to_json(e, with_type=False)) for e in new
            ]
            context = build_context_json("i", texts, started, is_replaying=bool(session.history))
            outcome = await invoker.invoke_orchestrator("sequence", context)
            decision = replay(ctx, session.history + new, outcome.state, outcome.error)
            episodes += 1
            # As the checkpoint does: the session's SDK-form JSON is kept per event.
            _store(session, [*new, *decision.new_events, OrchestratorCompleted(timestamp=ctx.now)])
            if decision.completion is not None:
                return episodes
            scheduled = decision.new_events[-1]
            new = [
                OrchestratorStarted(timestamp=tick()),
                TaskCompleted(timestamp=tick(), task_scheduled_id=scheduled.event_id, result="0"),
            ]

    await chain()  # warm-up: imports, first calls
    cpu, episodes = time.process_time(), 0
    for _ in range(repeat):
        episodes += await chain()
    return (time.process_time() - cpu) * 1000 / episodes


def _store(session: Any, events: list[Any]) -> None:
    """Append `events` to the session's history as a checkpoint does (a checkout from before
    Session.apply extended the list in place)."""
    if not hasattr(session, "apply"):
        session.history.extend(events)
        return
    from durable_host.engine.dispatch.effects import EpisodeEffects, HistoryWrite

    effects = EpisodeEffects([], events, HistoryWrite.APPEND, 1, {}, terminal=False)
    session.apply(effects, "etag")


def _in_process(source: Path, hops: int, repeat: int) -> float | None:
    command = [sys.executable, __file__, "--child", "--hops", str(hops), "--repeat", str(repeat)]
    env = dict(os.environ, PYTHONPATH=str(source))
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="folder holding the durable_host to compare")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--hops", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5, help="chains per measurement")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(asyncio.run(_measure(args.hops, args.repeat)))
        return
    variants = [("base", args.base.resolve()), ("this", ROOT)]
    results: dict[str, list[float]] = {"base": [], "this": []}
    for round_ in range(args.rounds):
        for name, source in variants if round_ % 2 == 0 else variants[::-1]:
            got = _in_process(source, args.hops, args.repeat)
            if got is not None:
                results[name].append(got)
                print(f"round {round_ + 1} {name}: {got:.3f} ms CPU/episode", flush=True)
    for name, values in results.items():
        listed = ", ".join(f"{v:.3f}" for v in values)
        print(f"{name}: median {statistics.median(values):.3f} ms CPU/episode ({listed})")
    ratios = [t / b for b, t in zip(results["base"], results["this"], strict=False)]
    print(
        f"this/base, median of {len(ratios)} rounds {statistics.median(ratios):.3f} "
        f"({', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
