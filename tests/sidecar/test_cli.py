"""`durable-host sidecar` as a user runs it: the README's durabletask app against the command,
and the token rule off loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest
from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.internal import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.worker import TaskHubGrpcWorker
from google.protobuf import empty_pb2

from durable_host.errors import ConfigurationError
from durable_host.server.sidecar import Sidecar, SidecarOptions
from tests.engine._helpers import drop_hub

LISTENING = re.compile(r"Durable Task sidecar listening on (http://\S+)")


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def greet(ctx: task.OrchestrationContext, names: list[str]) -> Any:
    greetings = []
    for name in names:
        greetings.append((yield ctx.call_activity(hello, input=name)))
    return greetings


def _address(process: subprocess.Popen[str], seen: list[str]) -> str:
    """The address from the banner; every line read is kept for the failure message."""
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        match = LISTENING.search(line)
        if match:
            return match.group(1).removeprefix("http://")
    raise AssertionError("the sidecar exited before listening:\n" + "".join(seen))


def test_the_readme_app_runs_against_the_command(
    azurite: str, hub_name: str, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "durable_host",
            "sidecar",
            "--port",
            "0",
            "--hub",
            hub_name,
            "--connection",
            azurite,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    # A deadline on the banner: a sidecar that never listens fails the test, never hangs it.
    timer = threading.Timer(120, process.kill)
    timer.start()
    try:
        address = _address(process, seen)
        timer.cancel()
        with TaskHubGrpcWorker(host_address=address) as worker:
            worker.add_orchestrator(greet)
            worker.add_activity(hello)
            worker.start()
            client = TaskHubGrpcClient(host_address=address)
            instance_id = client.schedule_new_orchestration(greet, input=["Tokyo", "Paris"])
            state = client.wait_for_orchestration_completion(instance_id, timeout=60)
            client.close()
        assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
        assert state.get_output() == ["Hello Tokyo!", "Hello Paris!"]
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        seen.append(rest)
        assert process.returncode == 0
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()
        _drop(azurite, hub_name)
    assert f"Task hub: {hub_name}" in "".join(seen)


def _drop(azurite: str, hub_name: str) -> None:
    import asyncio

    asyncio.run(drop_hub(azurite, hub_name))


async def test_beyond_loopback_it_needs_a_token_and_checks_it(
    azurite: str, hub_name: str, tmp_path: Path
) -> None:
    refused = Sidecar(
        SidecarOptions(host="0.0.0.0", port=0, hub=hub_name, connection=azurite),
        environ={},
        echo=lambda line: None,
    )
    with pytest.raises(ConfigurationError, match="--token"):
        await refused.start()
    lines: list[str] = []
    options = SidecarOptions(
        host="0.0.0.0", port=0, hub=hub_name, connection=azurite, work_dir=tmp_path
    )
    sidecar = Sidecar(options, environ={"DURABLE_HOST_SIDECAR_TOKEN": "s3cret"}, echo=lines.append)
    await sidecar.start()
    try:
        assert sidecar.address is not None
        port = sidecar.address.rsplit(":", 1)[1]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.TaskHubSidecarServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
                await stub.Hello(empty_pb2.Empty())
            assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
            await stub.Hello(empty_pb2.Empty(), metadata=[("authorization", "Bearer s3cret")])
    finally:
        await sidecar.stop()
        await drop_hub(azurite, hub_name)
    assert "authorization: Bearer" in "\n".join(lines)
    assert os.environ.get("DURABLE_HOST_SIDECAR_TOKEN") is None
