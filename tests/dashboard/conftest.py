"""Fixtures: a host serving the dashboard app, and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (`make test`
installs it with apt-get when it is missing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response, async_playwright

from durable_host.dashboard import DASHBOARD_PATH
from durable_host.engine.client.engine_client import EngineClient
from durable_host.server.host import DurableHost, HostOptions

APP_DIR = Path(__file__).resolve().parent.parent / "apps" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEADLINE = 30.0


@pytest.fixture
async def host(azurite: str, hub_name: str) -> AsyncIterator[DurableHost]:
    environ = {
        "AzureWebJobsStorage": azurite,
        "AzureFunctionsJobHost__extensions__durableTask__hubName": hub_name,
    }
    lines: list[str] = []
    durable = DurableHost(HostOptions(app_dir=APP_DIR, port=0), environ=environ, echo=lines.append)
    await durable.start()
    try:
        yield durable
    finally:
        await durable.stop()
        assert durable.engine is None


@pytest.fixture
def client(host: DurableHost) -> EngineClient:
    assert host.engine is not None
    return host.engine.client


@pytest.fixture
def hub_url(host: DurableHost, hub_name: str) -> str:
    return f"{host.base_url}{DASHBOARD_PATH}/{hub_name}/"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    # Confirmation dialogs (terminate, purge) are accepted, as a user clicking OK.
    opened.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    problems = watch_for_problems(opened)
    try:
        yield opened
    finally:
        await context.close()
    assert not problems, "the page logged errors or made failing requests:\n" + "\n".join(problems)


def watch_for_problems(page: Page) -> list[str]:
    """Console errors, uncaught exceptions, and requests that failed or were answered 4xx/5xx
    (a user's browser console shows each one): every browser test fails on any of them."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"{response.status} {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})"))
    page.on("response", on_response)
    return problems


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check()` is true, up to DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
