"""Every durable pattern of the app, started and followed over plain HTTP as the README shows."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from activities.builds import polls_until_done
from tests.e2e.host_process import HostProcess
from tests.e2e.user import start, wait_for_status, wait_until_done

ORDER = {
    "orderId": "A-1001",
    "customer": "ada@contoso.example",
    "country": "NL",
    "lines": [{"sku": "KB-101", "quantity": 2}, {"sku": "CB-404", "quantity": 3}],
}


def _completed(body: dict[str, Any]) -> Any:
    assert body["runtimeStatus"] == "Completed", body
    return body["output"]


async def test_chaining_confirms_an_order(host: HostProcess, http: aiohttp.ClientSession) -> None:
    started = await start(http, host.base_url, "process_order", ORDER)
    output = _completed(await wait_until_done(http, started))
    # 2 x 49.99 + 3 x 9.99 = 129.95; 21% NL tax rounds to 27.29; free shipping above 100.
    assert output["status"] == "confirmed"
    assert output["totalCents"] == 12995 + 2729
    assert output["currency"] == "EUR"
    assert output["reservationId"].startswith("rsv-")
    assert output["paymentId"].startswith("pay-")
    # The console shows each function run, like `func start`.
    assert re.search(r"Executed 'Functions\.charge_payment' \(Succeeded", host.output)


async def test_chaining_rejects_an_order_out_of_stock(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    order = {**ORDER, "orderId": "A-1002", "lines": [{"sku": "MN-303", "quantity": 9}]}
    started = await start(http, host.base_url, "process_order", order)
    output = _completed(await wait_until_done(http, started))
    assert output["status"] == "rejected"
    assert "Only 5 unit(s) of MN-303 in stock" in output["reason"]


async def test_sub_orchestrations_run_each_order_as_its_own_instance(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    batch = {
        "orders": [
            {
                "orderId": "B-1",
                "customer": "a@x.example",
                "country": "DE",
                "lines": [{"sku": "MS-202", "quantity": 1}],
            },
            {
                "orderId": "B-2",
                "customer": "b@x.example",
                "country": "FR",
                "lines": [{"sku": "MN-303", "quantity": 9}],
            },
        ]
    }
    started = await start(http, host.base_url, "process_order_batch", batch, instance_id="batch-7")
    output = _completed(await wait_until_done(http, started))
    assert output["orders"] == 2
    assert output["confirmed"] == ["B-1"]
    assert list(output["rejected"]) == ["B-2"]
    # 24.99 + 19% DE tax (4.75) + 6.95 shipping.
    assert output["revenueCents"] == 2499 + 475 + 695

    child_url = started["statusQueryGetUri"].replace("batch-7", "batch-7:order:B-1")
    child = _completed(await wait_until_done(http, {"statusQueryGetUri": child_url}))
    assert child["orderId"] == "B-1"
    assert child["status"] == "confirmed"


async def test_fan_out_fan_in_merges_the_word_counts(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    request = {
        "top": 3,
        "documents": [
            {"name": "q1", "text": "Revenue grew in the north region."},
            {"name": "q2", "text": "Revenue held; margin fell."},
            {"name": "q3", "text": "North region margin grew, revenue grew."},
        ],
    }
    started = await start(http, host.base_url, "analyze_documents", request)
    output = _completed(await wait_until_done(http, started))
    assert output["documents"] == 3
    assert output["wordsPerDocument"] == {"q1": 6, "q2": 4, "q3": 6}
    assert output["totalWords"] == 16
    assert output["topWords"] == [
        {"word": "grew", "count": 3},
        {"word": "revenue", "count": 3},
        {"word": "margin", "count": 2},
    ]


async def test_async_http_api_reports_progress_while_running(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    request = {"dataset": "sales-2024", "rows": 120000, "stepDelaySeconds": 1}
    started = await start(http, host.base_url, "export_report", request)
    url = started["statusQueryGetUri"]
    seen: list[dict[str, Any]] = []

    def record(status: int, body: dict[str, Any]) -> bool:
        if status == 202 and body["customStatus"] and body["customStatus"] not in seen:
            seen.append(body["customStatus"])
        return status == 200

    output = _completed(await wait_for_status(http, url, record))
    # The timer between steps keeps each stage visible for a second: the client sees them move.
    assert {"stage": "transform", "completedSteps": 1, "totalSteps": 3, "percent": 33} in seen
    percents = [progress["percent"] for progress in seen]
    assert percents == sorted(percents)
    assert output["dataset"] == "sales-2024"
    assert output["rows"] == 120000 - 120000 // 97
    assert output["location"] == f"exports/sales-2024/{output['checksum']}.csv"
    _, final = await _get(http, url)
    assert final["customStatus"] == {
        "stage": "done",
        "completedSteps": 3,
        "totalSteps": 3,
        "percent": 100,
    }


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as response:
        return response.status, await response.json()


def _build_id_needing(polls: int) -> str:
    return next(f"build-{n}" for n in range(1000) if polls_until_done(f"build-{n}") == polls)


async def test_monitor_polls_until_the_build_succeeds(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    build_id = _build_id_needing(2)
    request = {"buildId": build_id, "pollIntervalSeconds": 1, "expirySeconds": 30}
    started = await start(http, host.base_url, "monitor_build", request)
    running = await wait_for_status(
        http, started["statusQueryGetUri"], lambda status, body: bool(body["customStatus"])
    )
    assert running["customStatus"]["lastSeenState"] == "queued"
    output = _completed(await wait_until_done(http, started))
    assert output == {"buildId": build_id, "state": "succeeded", "polls": 2}


async def test_monitor_gives_up_at_the_expiry(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    request = {"buildId": "stuck-9", "pollIntervalSeconds": 1, "expirySeconds": 2}
    started = await start(http, host.base_url, "monitor_build", request)
    output = _completed(await wait_until_done(http, started))
    assert output["state"] == "expired"
    assert output["lastSeenState"] == "running"
    assert output["polls"] == 2


EXPENSE = {
    "expenseId": "EXP-77",
    "amount": 412.50,
    "submitter": "sam@contoso.example",
    "approver": "lena@contoso.example",
}


async def test_human_interaction_approval_event(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    started = await start(
        http, host.base_url, "expense_approval", {**EXPENSE, "timeoutSeconds": 300}
    )
    waiting = await wait_for_status(
        http, started["statusQueryGetUri"], lambda _, body: body["customStatus"] is not None
    )
    assert waiting["customStatus"]["state"] == "awaitingApproval"

    event_url = started["sendEventPostUri"].replace("{eventName}", "ApprovalDecision")
    decision = {"approved": True, "by": "lena", "comment": "within budget"}
    async with http.post(event_url, json=decision) as response:
        assert response.status == 202

    # The decision cancels the 5-minute timer, so the instance completes right away.
    output = _completed(await wait_until_done(http, started, timeout=15))
    assert output["status"] == "approved"
    assert output["decidedBy"] == "lena"
    assert output["comment"] == "within budget"
    assert len(output["notifications"]) == 2


async def test_human_interaction_escalates_at_the_deadline(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    expense = {**EXPENSE, "expenseId": "EXP-78", "timeoutSeconds": 1}
    started = await start(http, host.base_url, "expense_approval", expense)
    output = _completed(await wait_until_done(http, started))
    assert output["status"] == "escalated"
    assert output["escalatedTo"]
    assert len(output["notifications"]) == 2


async def test_bad_input_fails_the_instance_with_a_message_naming_the_field(
    host: HostProcess, http: aiohttp.ClientSession
) -> None:
    started = await start(http, host.base_url, "monitor_build", {"buildId": "b-1"})
    body = await wait_until_done(http, started)
    assert body["runtimeStatus"] == "Failed"
    assert "pollIntervalSeconds" in str(body["output"])
