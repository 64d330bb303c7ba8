"""The durabletask peer: workloads 1-3 with durabletask's worker and client (issue 22 item 4),
on durabletask's in-memory backend and on `durable-host sidecar` over the bench's Azurite.

Run by bench/run.py in the project's environment (durabletask is a dev dependency), one backend
per process: `peer_durabletask.py inmemory [--quick]` or
`peer_durabletask.py sidecar --connection CONN [--quick]`. Prints one JSON object on stdout:
{"backend", "version", "sequential", "fan_out", "concurrent", "cpu_s"}. Both backends serve from
the benchmark's own process (the in-memory backend's gRPC server, the sidecar on its thread),
so the same worker, client and process measure both.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import socket
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def noop(ctx: task.ActivityContext, value: int) -> int:
    return value


def stamp(ctx: task.ActivityContext, value: int) -> float:
    return time.perf_counter()


def stamped_sequence(ctx: task.OrchestrationContext, hops: int) -> Any:
    stamps = []
    for i in range(hops):
        stamps.append((yield ctx.call_activity(stamp, input=i)))
    return stamps


def sequence(ctx: task.OrchestrationContext, hops: int) -> Any:
    for i in range(hops):
        yield ctx.call_activity(noop, input=i)
    return hops


def fan_out(ctx: task.OrchestrationContext, count: int) -> Any:
    results = yield task.when_all([ctx.call_activity(noop, input=i) for i in range(count)])
    return len(results)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _finish(client: TaskHubGrpcClient, instance_id: str) -> Any:
    state = client.wait_for_orchestration_completion(instance_id, timeout=1800)
    if state is None or state.runtime_status != OrchestrationStatus.COMPLETED:
        raise RuntimeError(f"{instance_id} did not complete: {state}")
    return state.get_output()


def run(client: TaskHubGrpcClient, quick: bool) -> dict[str, Any]:
    hops, fan, orchestrations, runs = (10, 100, 20, 1) if quick else (50, 1000, 100, 3)
    out: dict[str, Any] = {"version": version("durabletask")}
    _finish(client, client.schedule_new_orchestration(sequence, input=2))  # warm-up
    per_hop: list[float] = []
    for _ in range(runs):
        stamps = _finish(client, client.schedule_new_orchestration(stamped_sequence, input=hops))
        per_hop += [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    out["sequential"] = {
        "hops": hops,
        "median_ms": statistics.median(per_hop),
        "p95_ms": _percentile(per_hop, 0.95),
    }
    _log(f"  sequential: median hop {out['sequential']['median_ms']:.2f} ms")
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        assert _finish(client, client.schedule_new_orchestration(fan_out, input=fan)) == fan
        seconds.append(time.perf_counter() - started)
    out["fan_out"] = {
        "activities": fan,
        "seconds": statistics.median(seconds),
        "runs_s": [round(s, 2) for s in seconds],
    }
    _log(f"  fan-out of {fan}: {out['fan_out']['seconds']:.2f} s")
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        ids = [client.schedule_new_orchestration(sequence, input=5) for _ in range(orchestrations)]
        assert all(_finish(client, i) == 5 for i in ids)
        rates.append(orchestrations / (time.perf_counter() - started))
    out["concurrent"] = {"orchestrations": orchestrations, "per_s": statistics.median(rates)}
    _log(f"  {orchestrations} x 5: {out['concurrent']['per_s']:.1f} orchestrations/s")
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _measure(address: str, quick: bool) -> dict[str, Any]:
    worker = TaskHubGrpcWorker(host_address=address)
    for orchestrator in (stamped_sequence, sequence, fan_out):
        worker.add_orchestrator(orchestrator)
    worker.add_activity(noop)
    worker.add_activity(stamp)
    worker.start()
    client = TaskHubGrpcClient(host_address=address)
    cpu = time.process_time()
    try:
        out = run(client, quick)
    finally:
        client.close()
        worker.stop()
    out["cpu_s"] = round(time.process_time() - cpu, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("backend", choices=("inmemory", "sidecar"))
    parser.add_argument("--connection", help="the sidecar's storage (the bench's Azurite)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("durabletask").setLevel(logging.WARNING)
    for name in ("durabletask-worker", "durabletask-client", "durabletask-async_client"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if args.backend == "inmemory":
        from durabletask.testing import create_test_backend

        port = _free_port()
        backend = create_test_backend(port=port)
        try:
            out = _measure(f"localhost:{port}", args.quick)
        finally:
            backend.stop()
    else:
        from durable_host.server.sidecar import SIDECAR_HUB_SETTINGS
        from durable_host.testing.sidecar import DurableTaskSidecar

        with DurableTaskSidecar(
            args.connection, virtual_time=False, hub_settings=SIDECAR_HUB_SETTINGS
        ) as sidecar:
            out = _measure(sidecar.address, args.quick)
    out["backend"] = args.backend
    print(json.dumps(out))


if __name__ == "__main__":
    main()
