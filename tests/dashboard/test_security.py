"""The dashboard follows the Durable HTTP API's key rule, and refuses posts from other sites."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from durable_host.dashboard import DASHBOARD_PATH
from durable_host.dashboard.security import KEY_COOKIE
from durable_host.server.host import DurableHost, HostOptions
from tests.dashboard.conftest import APP_DIR

pytestmark = pytest.mark.azurite

KEY = "a-dashboard-test-key"


@pytest.fixture
async def public_host(azurite: str, hub_name: str) -> AsyncIterator[DurableHost]:
    # 0.0.0.0 is not loopback: keys are on. The test still calls it over 127.0.0.1.
    environ = {
        "AzureWebJobsStorage": azurite,
        "AzureFunctionsJobHost__extensions__durableTask__hubName": hub_name,
        "FUNCTIONS_KEY": KEY,
    }
    host = DurableHost(
        HostOptions(app_dir=APP_DIR, host="0.0.0.0", port=0), environ=environ, echo=lambda _: None
    )
    await host.start()
    yield host
    await host.stop()


async def test_off_loopback_every_page_needs_the_host_key(
    public_host: DurableHost, hub_name: str
) -> None:
    base = f"http://127.0.0.1:{public_host.port}{DASHBOARD_PATH}"
    pages = [f"{base}/{hub_name}/", f"{base}/{hub_name}/entities", f"{base}/static/dashboard.css"]
    async with aiohttp.ClientSession() as session:
        for url in pages:
            async with session.get(url) as response:
                assert response.status == 401, url
            async with session.get(url, headers={"x-functions-key": "wrong"}) as response:
                assert response.status == 401, url
            async with session.get(url, headers={"x-functions-key": KEY}) as response:
                assert response.status == 200, url
        action = f"{base}/{hub_name}/instance/action"
        async with session.post(action, data={"id": "x", "action": "purge"}) as response:
            assert response.status == 401

    # A browser opens the link with ?code= once; the cookie it gets carries the key after.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(f"{base}/{hub_name}/", params={"code": KEY}) as response:
            assert response.status == 200
            assert KEY_COOKIE in response.cookies
            assert response.cookies[KEY_COOKIE]["httponly"]
        async with browser.get(f"{base}/{hub_name}/entities") as response:
            assert response.status == 200


async def test_a_post_from_another_origin_is_refused(host: DurableHost, hub_name: str) -> None:
    assert host.engine is not None
    await host.engine.client.start_new("await_approval", "stays", '"x"')
    action = f"{host.base_url}{DASHBOARD_PATH}/{hub_name}/instance/action"
    form = {"id": "stays", "action": "purge"}
    async with aiohttp.ClientSession() as session:
        for headers in ({"Origin": "http://evil.example"}, {}):
            async with session.post(action, data=form, headers=headers) as response:
                assert response.status == 403
        own = {"Origin": host.base_url}
        async with session.post(action, data=form, headers=own, allow_redirects=False) as response:
            assert response.status == 303
    assert await host.engine.client.get_status("stays") is None


async def test_a_rebinding_page_cannot_drive_the_dashboard_or_the_api(
    host: DurableHost, hub_name: str
) -> None:
    # A page on evil.example that resolves to 127.0.0.1 sends its own name in Host and Origin.
    assert host.engine is not None
    client = host.engine.client
    await client.start_new("await_approval", "target", '"x"')
    evil = f"evil.example:{host.port}"
    headers = {"Host": evil, "Origin": f"http://{evil}"}
    dashboard = f"{host.base_url}{DASHBOARD_PATH}/{hub_name}/instance/action"
    terminate = f"{host.base_url}/runtime/webhooks/durabletask/instances/target/terminate"
    async with aiohttp.ClientSession() as session:
        form = {"id": "target", "action": "suspend"}
        async with session.post(dashboard, data=form, headers=headers) as response:
            assert response.status == 403
            assert "--allowed-host evil.example" in await response.text()
        async with session.post(terminate, headers=headers) as response:
            assert response.status == 403
            assert "--allowed-host evil.example" in await response.text()
        async with session.get(f"{host.base_url}/api/anything", headers=headers) as response:
            assert response.status == 403
    status = await client.get_status("target")
    assert status is not None and status.runtime_status.name in ("Pending", "Running")


async def test_an_allowed_host_name_is_answered(azurite: str, hub_name: str) -> None:
    environ = {
        "AzureWebJobsStorage": azurite,
        "AzureFunctionsJobHost__extensions__durableTask__hubName": hub_name,
    }
    options = HostOptions(app_dir=APP_DIR, port=0, allowed_hosts=("forwarded.example",))
    async with DurableHost(options, environ=environ, echo=lambda _: None) as host:
        page = f"{host.base_url}{DASHBOARD_PATH}/{hub_name}/"
        async with aiohttp.ClientSession() as session:
            for name, status in (("forwarded.example", 200), ("other.example", 403)):
                headers = {"Host": f"{name}:{host.port}"}
                async with session.get(page, headers=headers) as response:
                    assert response.status == status, name
