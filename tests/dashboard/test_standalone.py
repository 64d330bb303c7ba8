"""`durable-host dashboard` on task hubs no app runs: read-only, several hubs, one page."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Page, expect

from durable_host.cli.dashboard_command import READY_LINE
from durable_host.dashboard import DASHBOARD_PATH, account_label
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from tests.conftest import PROJECT_DIR
from tests.dashboard.written_hub import write_completed_chain

pytestmark = pytest.mark.azurite

_READY = re.compile(re.escape(READY_LINE) + r" (http://\S+/) ")


@pytest.fixture
async def two_hubs(azurite: str) -> AsyncIterator[list[str]]:
    names = ["sa" + uuid.uuid4().hex[:10], "sb" + uuid.uuid4().hex[:10]]
    storages = [TaskHubStorage(azurite, TaskHubNames(n, partition_count=2)) for n in names]
    try:
        for storage, order in zip(storages, ("order-a", "order-b"), strict=True):
            await storage.create_if_not_exists()
            await write_completed_chain(storage, order, activities=3)
        yield names
    finally:
        for storage in storages:
            await storage.delete_task_hub()
            await storage.close()


@contextlib.asynccontextmanager
async def standalone(azurite: str, hubs: list[str]) -> AsyncIterator[str]:
    """`python -m durable_host dashboard` on `hubs`; yields its URL, stops it with SIGTERM."""
    args = ["-m", "durable_host", "dashboard", "--connection", azurite, "--port", "0"]
    for hub in hubs:
        args += ["--hub", hub]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=PROJECT_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        url = await asyncio.wait_for(_ready_url(process.stdout), timeout=60)
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0


async def _ready_url(stdout: asyncio.StreamReader) -> str:
    seen = []
    while line := (await stdout.readline()).decode():
        seen.append(line)
        match = _READY.search(line)
        if match:
            return match.group(1)
    raise AssertionError("the dashboard exited before it was ready:\n" + "".join(seen))


async def test_the_standalone_dashboard_browses_hubs_without_an_app_read_only(
    azurite: str, two_hubs: list[str], page: Page
) -> None:
    first, second = two_hubs
    async with standalone(azurite, two_hubs) as url:
        assert url.endswith(DASHBOARD_PATH + "/")
        await page.goto(url)
        await expect(page.locator("h1")).to_have_text("Task hubs")
        await page.click(f"text={first}")
        await expect(page.locator("table.instances tbody tr")).to_have_count(1)
        await expect(page.locator(".pill.readonly")).to_have_text("read-only")
        await expect(page.locator("form.bulk")).to_have_count(0)

        await page.click("text=order-a")
        await expect(page.locator("#runtime-status")).to_have_text("Completed")
        await expect(page.locator(".gantt .bar.activity")).to_have_count(3)
        await expect(page.locator(".card.actions")).to_have_count(0)

        await page.click("details.hub-switch summary")
        await page.click(f"details.hub-switch >> text={second}")
        await expect(page.locator("table.instances")).to_contain_text("order-b")
        await expect(page.locator("table.instances")).not_to_contain_text("order-a")

        # Read-only means refused, not only hidden.
        action = f"{url}{second}/instance/action"
        origin = url.split(DASHBOARD_PATH)[0]
        async with aiohttp.ClientSession() as session:
            form = {"id": "order-b", "action": "purge"}
            async with session.post(action, data=form, headers={"Origin": origin}) as response:
                assert response.status == 403
        await page.goto(f"{url}{second}/instance?id=order-b")
        await expect(page.locator("#runtime-status")).to_have_text("Completed")


async def test_a_hub_that_is_not_there_is_named_at_start(azurite: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "durable_host", "dashboard", "--connection", azurite, "--hub", "NoSuchHub"),
        cwd=PROJECT_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    account = account_label(azurite)
    assert f"Task hub NoSuchHub is not in storage account {account}" in stderr.decode()
