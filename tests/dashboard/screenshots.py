"""Take the dashboard screenshots shown in the README: `python -m tests.dashboard.screenshots`.

Starts Azurite (in memory) and a host on the dashboard tests' app, runs a few
orchestrations of every outcome, and saves the main pages to docs/.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from playwright.async_api import async_playwright

from durable_host.dashboard import DASHBOARD_PATH
from durable_host.engine.client.engine_client import EngineClient
from durable_host.server.azurite import AzuriteProcess
from durable_host.server.host import DurableHost, HostOptions
from tests.conftest import PROJECT_DIR
from tests.dashboard.conftest import APP_DIR, CHROMIUM, CHROMIUM_ARGS

HUB = "ShopHub"
OUT = PROJECT_DIR / "docs"


async def _sample_data(client: EngineClient) -> None:
    for i in range(3):
        await client.start_new("parent_order", f"order-{1040 + i}", json.dumps({"order": i}))
    for i in range(2):
        await client.start_new("await_approval", f"approval-{7 + i}", json.dumps({"amount": 120}))
    await client.start_new("failing_order", "order-1043", json.dumps({"sku": "X-1"}))
    await client.start_new("await_approval", "approval-6", json.dumps({"amount": 99}))
    for instance_id in ("order-1040", "order-1041", "order-1042", "order-1043"):
        await client.wait_for_completion(instance_id, timeout=30)
    await client.terminate("approval-6", "duplicate request")
    for key, amount in (("cart-17", 3), ("cart-18", 1)):
        await client.signal_entity("counter", key, "add", json.dumps(json.dumps(amount)))
    await client.wait_for_completion("approval-6", timeout=30)


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with AzuriteProcess(PROJECT_DIR) as azurite:
        environ = {
            "AzureWebJobsStorage": azurite.connection_string,
            "AzureFunctionsJobHost__extensions__durableTask__hubName": HUB,
        }
        host = DurableHost(HostOptions(app_dir=APP_DIR, port=0), environ=environ, echo=print)
        await host.start()
        try:
            assert host.engine is not None
            await _sample_data(host.engine.client)
            await _shoot(f"{host.base_url}{DASHBOARD_PATH}/{HUB}/")
        finally:
            await host.stop()


async def _shoot(base: str) -> None:
    pages = {
        "dashboard-instances.png": "",
        "dashboard-instance.png": "instance?id=order-1040",
        "dashboard-entities.png": "entities",
        "dashboard-functions.png": "functions",
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        for name, path in pages.items():
            await page.goto(base + path)
            await page.screenshot(path=str(Path(OUT, name)), full_page=True)
            print("saved", OUT / name)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
