"""The dashboard served by `durable-host start`, used in a real Chromium as a user would."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Page, expect

from durable_host.engine.client.engine_client import EngineClient
from durable_host.taskhub.events import OrchestrationStatus
from tests.dashboard.conftest import eventually

pytestmark = pytest.mark.azurite

Running = OrchestrationStatus.Running


async def _status_of(client: EngineClient, instance_id: str) -> OrchestrationStatus | None:
    status = await client.get_status(instance_id)
    return status.runtime_status if status else None


async def _wait_status(client: EngineClient, instance_id: str, wanted: OrchestrationStatus) -> None:
    async def reached() -> bool:
        return await _status_of(client, instance_id) == wanted

    await eventually(reached, f"{instance_id} to be {wanted.name}")


async def _started_waiting(client: EngineClient, instance_id: str) -> None:
    await client.start_new("await_approval", instance_id, json.dumps("order"))
    await _wait_status(client, instance_id, Running)


async def test_the_list_shows_instances_and_filters_by_status(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    await _started_waiting(client, "approval-1")
    done = await client.start_new("parent_order", "parent-1")
    await client.wait_for_completion(done, timeout=30)

    await page.goto(hub_url)
    rows = page.locator("table.instances tbody tr")
    await expect(rows).to_have_count(4)  # the parent, its two children, the approval
    await expect(page.locator(".counts a[data-status=Running]")).to_contain_text("1")
    await expect(page.locator(".counts a[data-status=Completed]")).to_contain_text("3")

    await page.check("input[name=status][value=Running]")
    await page.click("text=Apply filters")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("approval-1")
    await expect(rows.first.locator(".badge")).to_have_text("Running")


async def test_an_instance_shows_its_timeline_and_links_to_children_and_back(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    await client.start_new("parent_order", "parent-2")
    await client.wait_for_completion("parent-2", timeout=30)

    await page.goto(hub_url)
    await page.click("text=parent-2")
    await expect(page.locator("#runtime-status")).to_have_text("Completed")
    bars = page.locator(".gantt .bar")
    await expect(bars).to_have_count(4)  # two activities, two sub-orchestrations
    await expect(page.locator(".gantt .bar.activity")).to_have_count(2)
    await expect(page.locator("#value-output pre")).to_contain_text('"a"')

    await page.locator(".gantt-label a").first.click()
    await expect(page.locator("h1")).to_contain_text("child_step")
    await page.click("a.parent-link")
    await expect(page.locator("h1")).to_contain_text("parent_order")


async def test_raising_an_event_completes_a_waiting_orchestration(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    await _started_waiting(client, "approval-2")
    await page.goto(hub_url + "instance?id=approval-2")
    await expect(page.locator("#value-custom_status pre")).to_contain_text("Approval")

    form = page.locator("form.raise")
    await form.locator("input[name=event_name]").fill("Approval")
    await form.locator("textarea[name=data]").fill("{not json")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".field-error")).to_contain_text("Not valid JSON")

    await form.locator("textarea[name=data]").fill('{"approved": true}')
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".flash.ok")).to_have_text("Event raised.")
    result = await client.wait_for_completion("approval-2", timeout=30)
    assert result is not None and json.loads(result.output or "") == {
        "decision": {"approved": True}
    }
    await page.reload()
    await expect(page.locator("#runtime-status")).to_have_text("Completed")


async def test_terminate_and_purge_from_the_instance_page(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    await _started_waiting(client, "approval-3")
    await page.goto(hub_url + "instance?id=approval-3")
    await page.fill("form.lifecycle input[name=reason]", "not needed")
    await page.click("button[value=terminate]")
    await expect(page.locator(".flash.ok")).to_have_text("Termination requested.")
    await _wait_status(client, "approval-3", OrchestrationStatus.Terminated)

    await page.reload()
    await expect(page.locator("#runtime-status")).to_have_text("Terminated")
    await page.click("button[value=purge]")
    await expect(page.locator(".flash.ok")).to_contain_text("Purged instance approval-3")
    assert await client.get_status("approval-3") is None
    await expect(page.locator("table.instances")).not_to_contain_text("approval-3")


async def test_an_entity_shows_its_state_and_takes_a_signal(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    await client.signal_entity("counter", "cart-1", "add", json.dumps(json.dumps(5)))

    async def has_state() -> bool:
        return await client.read_entity("counter", "cart-1") is not None

    await eventually(has_state, "the counter's first state")
    await page.goto(hub_url)
    await page.click("nav.sections >> text=Entities")
    await page.click("text=cart-1")
    await expect(page.locator("#entity-state pre")).to_have_text("5")

    await page.fill("input[name=operation]", "add")
    await page.fill("textarea[name=input]", "2")
    await page.click("form.signal button[type=submit]")
    await expect(page.locator(".flash.ok")).to_contain_text("Signalled add")

    async def is_seven() -> bool:
        state = await client.read_entity("counter", "cart-1")
        return state is not None and state.state == "7"

    await eventually(is_seven, "the signalled add to reach the counter")
    await page.reload()
    await expect(page.locator("#entity-state pre")).to_have_text("7")


async def test_a_bulk_terminate_on_a_filtered_set_names_the_count_first(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    for i in range(3):
        await _started_waiting(client, f"bulk-{i}")
    await _started_waiting(client, "keep-running")

    await page.goto(hub_url)
    await page.fill("input[name=prefix]", "bulk-")
    await page.click("text=Apply filters")
    await expect(page.locator("table.instances tbody tr")).to_have_count(3)
    await page.click("button[value=terminate]")
    await expect(page.locator("h1")).to_have_text("Terminate 3 instances?")
    await page.click("#confirm-bulk")
    await expect(page.locator(".flash.ok")).to_have_text("Terminated 3 instance(s).")

    for i in range(3):
        await _wait_status(client, f"bulk-{i}", OrchestrationStatus.Terminated)
    assert await _status_of(client, "keep-running") == Running


async def test_the_functions_page_counts_instances_per_orchestrator(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    await client.start_new("failing_order", "fail-1", json.dumps("x"))
    await client.wait_for_completion("fail-1", timeout=30)
    await page.goto(hub_url + "functions")
    row = page.locator("table.functions tr", has_text="failing_order")
    await expect(row.locator("td").nth(1)).to_have_text("1")
    await expect(page.locator("table.functions").nth(1)).to_contain_text("echo")


async def test_a_large_input_is_cut_with_a_link_to_the_whole_value(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    large = {"lines": [f"line {i:05d}" for i in range(2_000)]}
    await client.start_new("await_approval", "large-1", json.dumps(large))
    await page.goto(hub_url + "instance?id=large-1")
    card = page.locator("#value-input")
    await expect(card.locator(".cut")).to_contain_text("Cut at")
    await expect(card.locator("pre")).not_to_contain_text("line 01999")

    async with page.expect_download() as download_info:
        await card.locator(".cut a").click()
    download = await download_info.value
    path = await download.path()
    assert json.loads(path.read_text(encoding="utf-8")) == large


async def test_suspend_resume_and_restart_from_the_instance_page(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    await _started_waiting(client, "approval-4")
    await page.goto(hub_url + "instance?id=approval-4")
    await page.click("button[value=suspend]")
    await expect(page.locator(".flash.ok")).to_have_text("Suspension requested.")
    await _wait_status(client, "approval-4", OrchestrationStatus.Suspended)
    await page.click("button[value=resume]")
    await expect(page.locator(".flash.ok")).to_have_text("Resumption requested.")
    await _wait_status(client, "approval-4", Running)

    await page.click("button[value=restart]")
    await expect(page.locator(".flash.ok")).to_have_text("Restarted as this instance.")
    new_id = page.url.split("id=")[1].split("&")[0]
    assert new_id != "approval-4"
    await _wait_status(client, new_id, Running)
    restarted = await client.get_status(new_id)
    assert restarted is not None and restarted.input == json.dumps("order")


async def test_a_string_holding_json_is_shown_formatted_with_the_raw_value_a_click_away(
    client: EngineClient, hub_url: str, page: Page
) -> None:
    # The sample app's starter passes its request body on as a string: on main the input
    # showed as one escaped line, "{\"orders\": [{\"orderId\": ...".
    body = json.dumps({"orders": [{"orderId": "A-1", "quantity": 2}]})
    await client.start_new("await_approval", "approval-json", json.dumps(body))
    await _wait_status(client, "approval-json", Running)

    await page.goto(hub_url + "instance?id=approval-json")
    value = page.locator("#value-input")
    await expect(value.locator(".holds-json")).to_have_text(
        "A string holding JSON, shown formatted."
    )
    await expect(value.locator("pre.json").first).to_have_text(
        json.dumps(json.loads(body), indent=2)
    )
    raw = value.locator("details.raw pre")
    await expect(raw).to_be_hidden()
    await value.locator("details.raw summary").click()
    await expect(raw).to_have_text(json.dumps(body))
