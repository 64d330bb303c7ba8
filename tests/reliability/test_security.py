"""Security basics: loopback by default, keys off loopback, no secrets on the console or in git."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from durable_host.cli.program import build_parser
from durable_host.server.azurite import DEV_ACCOUNT_KEY
from durable_host.server.host import DurableHost, HostOptions
from tests.conftest import PROJECT_DIR


def test_the_host_listens_on_loopback_unless_told_otherwise() -> None:
    assert HostOptions(app_dir=PROJECT_DIR).host == "127.0.0.1"
    args = build_parser().parse_args(["start"])
    assert args.host == "127.0.0.1"


def test_local_state_and_settings_are_kept_out_of_git() -> None:
    ignored = (PROJECT_DIR / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".azurite/" in ignored
    assert "local.settings.json" in ignored


@pytest.mark.azurite
async def test_off_loopback_the_api_needs_the_key_and_no_key_is_logged(
    azurite: str, hub_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # 0.0.0.0 is not loopback: keys are on. The test still calls it over 127.0.0.1.
    lines: list[str] = []
    environ = {
        "AzureWebJobsStorage": azurite,
        "AzureFunctionsJobHost__extensions__durableTask__hubName": hub_name,
        "FUNCTIONS_KEY": "a-test-host-key",
    }
    host = DurableHost(
        HostOptions(app_dir=PROJECT_DIR, host="0.0.0.0", port=0), environ=environ, echo=lines.append
    )
    await host.start()
    try:
        base = f"http://127.0.0.1:{host.port}/runtime/webhooks/durabletask/instances"
        async with aiohttp.ClientSession() as session:
            async with session.get(base) as response:
                assert response.status == 401
            async with session.get(base, headers={"x-functions-key": "wrong"}) as response:
                assert response.status == 401
            async with session.get(base, params={"code": "a-test-host-key"}) as response:
                assert response.status == 200
    finally:
        await host.stop()
    console = "\n".join(lines) + caplog.text
    assert "Host key" in console  # the user is told the key is needed...
    assert DEV_ACCOUNT_KEY not in console  # ...but never the storage account key
    assert "AccountKey=" not in console
