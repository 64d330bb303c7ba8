"""A timeline of the sequential hop: where one hop's time goes, from the episode that schedules
activity N to the episode that schedules N+1.

Run: .venv/bin/python bench/hop_timeline.py [--source DIR] [--hops 50]
(`--source`: the folder holding the durable_host to time, as for bench/engine_ab.py.)
Runs the bench app's `sequence` chain on its own Azurite with every storage call, the
orchestrator's invocation, the local hand-overs and the activity's thread stamped (wrappers
around the methods, in this process only: nothing the host does changes), then prints the
median of each segment over the chain's hops, and Azurite's CPU per hop (its process and its
main thread, from /proc in 10 ms ticks). Asserts nothing.

Segments 1-6 are the hop's path in order; a-d are the activity, which runs beside segment 5
(d > 0: its result was handed over before the history write ended, so it was not on the path).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
Mark = tuple[float, str, str]  # (perf_counter, "B" begin / "E" end / "I" instant, name)
MARKS: list[Mark] = []

_STORAGE = ("send_control", "send_work_item", "append_history", "merge_instance", "delete_message")


def _stamp_async(cls: Any, method: str, label: str) -> None:
    original = getattr(cls, method)

    @functools.wraps(original)
    async def stamped(*args: Any, **kwargs: Any) -> Any:
        MARKS.append((time.perf_counter(), "B", label))
        try:
            return await original(*args, **kwargs)
        finally:
            MARKS.append((time.perf_counter(), "E", label))

    setattr(cls, method, stamped)


def _stamp_call(cls: Any, method: str, label: str) -> None:
    original = getattr(cls, method)

    @functools.wraps(original)
    def stamped(*args: Any, **kwargs: Any) -> Any:
        MARKS.append((time.perf_counter(), "I", label))
        return original(*args, **kwargs)

    setattr(cls, method, stamped)


def _stamp_threads() -> None:
    submit = ThreadPoolExecutor.submit

    def stamped(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *a: Any, **k: Any) -> Any:
        MARKS.append((time.perf_counter(), "I", "pool_submit"))

        def run(*args: Any, **kwargs: Any) -> Any:
            MARKS.append((time.perf_counter(), "B", "thread"))
            try:
                return fn(*args, **kwargs)
            finally:
                MARKS.append((time.perf_counter(), "E", "thread"))

        return submit(self, run, *a, **k)

    ThreadPoolExecutor.submit = stamped  # type: ignore[method-assign,assignment]


def _stamp_all() -> None:
    from durable_host.engine.dispatch.activities import ActivityDispatcher
    from durable_host.engine.dispatch.orchestrations import OrchestrationDispatcher
    from durable_host.functions.invoker import FunctionInvoker
    from durable_host.taskhub.storage import TaskHubStorage

    for method in _STORAGE:
        _stamp_async(TaskHubStorage, method, method)
    _stamp_async(FunctionInvoker, "invoke_orchestrator", "replay")
    _stamp_call(OrchestrationDispatcher, "_deliver_local", "deliver_control")
    _stamp_call(ActivityDispatcher, "_deliver_local", "deliver_work_item")
    _stamp_threads()


def _cpu_seconds(stat_path: str) -> float:
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _first(kind: str, name: str, start: float, end: float) -> float | None:
    return next((t for t, k, n in MARKS if start <= t < end and k == kind and n == name), None)


_SEGMENTS = [
    ("1 replay (the orchestrator's invocation)", ("B", "replay"), ("E", "replay")),
    ("2 replay end -> work item send", ("E", "replay"), ("B", "send_work_item")),
    ("3 work item send, round trip", ("B", "send_work_item"), ("E", "send_work_item")),
    ("4 send answered -> history write", ("E", "send_work_item"), ("B", "append_history")),
    ("5 history write, round trip", ("B", "append_history"), ("E", "append_history")),
    ("6 history written -> next replay", ("E", "append_history"), ("B", "next")),
    ("a work item handed over -> pool submit", ("I", "deliver_work_item"), ("I", "pool_submit")),
    ("b pool submit -> thread runs", ("I", "pool_submit"), ("B", "thread")),
    ("c thread ends -> result handed over", ("E", "thread"), ("I", "deliver_control")),
    ("d history written - result handed over", ("I", "deliver_control"), ("E", "append_history")),
]


def segments() -> dict[str, float]:
    """Median ms of each segment over the hops (the first and last two left out)."""
    starts = [t for t, k, n in MARKS if k == "B" and n == "replay"]
    found: dict[str, list[float]] = {}
    for a, b in itertools.pairwise(starts[2:-2]):
        times = {("B", "next"): b}
        for _, first, last in _SEGMENTS:
            for kind, name in (first, last):
                if (kind, name) not in times:
                    times[kind, name] = _first(kind, name, a, b) or float("nan")
        for label, first, last in _SEGMENTS:
            found.setdefault(label, []).append(1000 * (times[last] - times[first]))
        found.setdefault("= hop", []).append(1000 * (b - a))
    return {label: statistics.median(values) for label, values in found.items()}


async def _chain(connection: str, hops: int, azurite_pid: int) -> None:
    from durable_host.engine.runtime import Engine, EngineSettings
    from durable_host.functions import FunctionInvoker, load_app

    index = load_app(ROOT / "bench" / "app")
    settings = EngineSettings(hub_name="tl" + uuid.uuid4().hex[:10])
    engine = Engine(connection, settings, index, FunctionInvoker(index))
    await engine.start()

    async def run(count: int) -> None:
        instance = await engine.client.start_new("sequence", None, json.dumps(json.dumps(count)))
        status = await engine.client.wait_for_completion(instance, timeout=600)
        assert status is not None and status.runtime_status.name == "Completed", status

    process, thread = f"/proc/{azurite_pid}/stat", f"/proc/{azurite_pid}/task/{azurite_pid}/stat"
    try:
        await run(2)  # warm-up: imports, connections
        MARKS.clear()
        az, main_thread = _cpu_seconds(process), _cpu_seconds(thread)
        started, cpu = time.perf_counter(), time.process_time()
        await run(hops)
        wall = (time.perf_counter() - started) * 1000 / hops
        host = (time.process_time() - cpu) * 1000 / hops
        az = (_cpu_seconds(process) - az) * 1000 / hops
        main_thread = (_cpu_seconds(thread) - main_thread) * 1000 / hops
    finally:
        await engine.stop()
        await engine.storage.delete_task_hub()
    print(f"{hops} hops: {wall:.2f} ms per hop end to end; host CPU {host:.2f} ms per hop;")
    print(f"Azurite CPU {az:.2f} ms per hop (its main thread {main_thread:.2f})")
    for label, value in sorted(segments().items()):
        print(f"  {value:7.3f} ms  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="folder holding durable_host")
    parser.add_argument("--hops", type=int, default=50)
    args = parser.parse_args()
    sys.path.insert(0, str(args.source.resolve()))
    _stamp_all()
    from durable_host.server.azurite import AzuriteProcess

    with AzuriteProcess(ROOT) as azurite:
        assert azurite.pid is not None
        asyncio.run(_chain(azurite.connection_string, args.hops, azurite.pid))


if __name__ == "__main__":
    main()
