from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from azure.storage.queue import QueueServiceClient

from durable_host.errors import ConfigurationError
from durable_host.server.azurite import (
    DEV_ACCOUNT_KEY,
    AzuriteProcess,
    development_storage_connection_string,
    is_listening,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_development_connection_string_names_every_endpoint() -> None:
    text = development_storage_connection_string()
    assert "AccountName=devstoreaccount1" in text
    assert "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1" in text
    assert "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1" in text
    assert "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1" in text


async def test_start_serves_all_three_services_then_stop_closes_them(tmp_path: Path) -> None:
    async with AzuriteProcess(PROJECT_DIR, location=tmp_path / "data") as process:
        ports = process.ports
        assert len(set(ports)) == 3
        assert all(is_listening("127.0.0.1", port) for port in ports)
        assert "127.0.0.1:" + str(process.queue_port) in process.connection_string
        assert DEV_ACCOUNT_KEY not in repr(process)
        client = QueueServiceClient.from_connection_string(process.connection_string)
        await asyncio.to_thread(client.create_queue, "probe")
        names = await asyncio.to_thread(lambda: [q.name for q in client.list_queues()])
        assert names == ["probe"]
    assert not process.running
    assert not any(is_listening("127.0.0.1", port) for port in ports)


async def test_node_flags_go_to_node_before_azurites_script(tmp_path: Path) -> None:
    flags = ["--cpu-prof", f"--cpu-prof-dir={tmp_path}"]
    async with AzuriteProcess(PROJECT_DIR, node_flags=flags) as process:
        # An answered request means Azurite's startup has run on to its SIGTERM handler
        # (registered after the listening lines), so stop() ends it gracefully.
        client = QueueServiceClient.from_connection_string(process.connection_string)
        await asyncio.to_thread(client.create_queue, "profiled")
    # Node writes the profile when Azurite exits after stop()'s SIGTERM.
    assert [p.suffix for p in tmp_path.iterdir()] == [".cpuprofile"]


def test_missing_node_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"Node\.js"):
        AzuriteProcess(PROJECT_DIR).start()


def test_port_in_use_is_a_clear_error(azurite: str) -> None:
    # The session Azurite already owns its queue port; a second one on that port must fail fast.
    port = int(azurite.split("QueueEndpoint=http://127.0.0.1:")[1].split("/")[0])
    with pytest.raises(ConfigurationError, match="port"):
        AzuriteProcess(PROJECT_DIR, queue_port=port, startup_timeout=20).start()
