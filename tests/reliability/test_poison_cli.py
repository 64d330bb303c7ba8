"""`python -m durable_host poison list|replay|delete` against a real poison queue."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from durable_host.taskhub.storage import ReceivedMessage
from tests.conftest import PROJECT_DIR
from tests.reliability.conftest import APP_DIR, EngineFactory
from tests.reliability.test_poison import send_raw

pytestmark = pytest.mark.azurite

HUB_NAME_SETTING = "AzureFunctionsJobHost__extensions__durableTask__hubName"


async def cli(engines: EngineFactory, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["AzureWebJobsStorage"] = engines.connection_string
    env[HUB_NAME_SETTING] = engines.hub_name
    command = [sys.executable, "-m", "durable_host", "poison", *args, "--app-dir", str(APP_DIR)]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


async def park_one(engines: EngineFactory, partition: int) -> ReceivedMessage:
    """Take the next message of a control queue and park it, as the engine would."""
    storage = engines.build().storage
    [msg] = await storage.receive_control(partition, max_messages=1, visibility_timeout=30)
    await storage.move_to_poison(msg, "parked by the test")
    return msg


async def test_list_delete_and_replay(engines: EngineFactory) -> None:
    engine = engines.build()
    await engine.storage.create_if_not_exists()
    # A start whose message is parked before any host ran it: replaying it must run it.
    await engine.client.start_new("hello", "replay-me", None)
    started = await park_one(engines, engine.router.partition_of("replay-me"))
    garbage_queue = engine.names.control_queue(0)
    await send_raw(engines.connection_string, garbage_queue, "not { JSON")
    garbage = await park_one(engines, 0)

    listed = printed(await cli(engines, "list"))
    by_message = {item["messageId"]: item for item in listed}
    assert set(by_message) == {started.message_id, garbage.message_id}
    assert by_message[garbage.message_id]["body"] == "not { JSON"
    assert by_message[garbage.message_id]["queue"] == garbage_queue
    assert by_message[started.message_id]["reason"] == "parked by the test"

    unknown = await cli(engines, "replay", "--id", "no-such-id")
    assert unknown.returncode == 1
    assert "No poison record with id no-such-id" in unknown.stderr
    assert len(printed(await cli(engines, "list"))) == 2, "a failed replay must change nothing"

    deleted = printed(await cli(engines, "delete", "--id", by_message[garbage.message_id]["id"]))
    assert [d["messageId"] for d in deleted] == [garbage.message_id]
    replayed = printed(await cli(engines, "replay", "--all"))
    assert [r["messageId"] for r in replayed] == [started.message_id]
    assert printed(await cli(engines, "list")) == []

    await engine.start()
    status = await engine.client.wait_for_completion("replay-me", timeout=20)
    assert status is not None and status.runtime_status.name == "Completed"
    assert json.loads(status.output or "null") == ["a", "b"]
    assert await engine.storage.peek_count(engine.names.poison_queue) == 0


async def test_an_unknown_hub_is_reported(engines: EngineFactory) -> None:
    result = await cli(engines, "list")
    assert result.returncode == 1
    assert f"Task hub '{engines.hub_name}' has no poison queue" in result.stderr
