"""A 10,000-event history opens without freezing the page: it is paged, and the time is printed.

The time is reported, not asserted (performance goals belong to bench/); the test checks
that the page holds one slice of the history and the timeline, and that paging moves on.
"""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Page, expect

from durable_host.dashboard.instance_page import EVENTS_PER_PAGE
from durable_host.server.host import DurableHost
from tests.dashboard.written_hub import write_completed_chain

pytestmark = pytest.mark.azurite

ACTIVITIES = 4_999  # with the start and end events: 10,002 events


async def test_a_ten_thousand_event_history_opens_paged(
    host: DurableHost, hub_url: str, page: Page
) -> None:
    assert host.engine is not None
    count = await write_completed_chain(host.engine.storage, "huge", activities=ACTIVITIES)
    assert count >= 10_000

    started = time.perf_counter()
    await page.goto(hub_url + "instance?id=huge")
    await expect(page.locator("#runtime-status")).to_have_text("Completed")
    elapsed = time.perf_counter() - started
    print(f"\nopening a {count}-event history in the dashboard took {elapsed:.2f} s")

    await expect(page.locator("#history h2")).to_contain_text(f"{count} events")
    await expect(page.locator("table.history tbody tr")).to_have_count(EVENTS_PER_PAGE)
    # Events 0-199: the two start events, then 99 activities with their ends.
    await expect(page.locator(".gantt .bar.activity")).to_have_count(99)
    await expect(page.locator(".gantt .bar.open")).to_have_count(0)
    pages = -(-count // EVENTS_PER_PAGE)
    await expect(page.locator("#history .pager")).to_contain_text(f"page 1 of {pages}")

    await page.click("#history >> text=Later events »")
    await expect(page.locator("#history .pager")).to_contain_text(f"page 2 of {pages}")
    first_cell = page.locator("table.history tbody tr").first.locator("td").first
    await expect(first_cell).to_have_text(str(EVENTS_PER_PAGE))

    await page.goto(hub_url + f"instance?id=huge&page={pages}")
    await expect(page.locator("table.history tbody tr").last).to_contain_text(
        "OrchestratorCompleted"
    )
