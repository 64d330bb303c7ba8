"""Each activity called directly, as the worker calls the user function with decoded input."""

from __future__ import annotations

from typing import Any

import pytest

from activities.builds import polls_until_done
from orchestrators._validation import InvalidInputError

ORDER = {
    "orderId": "A-1",
    "customer": "ada@contoso.example",
    "country": "de",
    "lines": [{"sku": "ms-202", "quantity": 2}],
}


def test_validate_order_normalises_sku_and_country(activity: Any) -> None:
    assert activity("validate_order", ORDER) == {
        "orderId": "A-1",
        "customer": "ada@contoso.example",
        "country": "DE",
        "lines": [{"sku": "MS-202", "quantity": 2}],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"country": "XX"}, "Order A-1: we do not ship to 'XX'; choose one of DE, FR, NL, US."),
        ({"lines": []}, "Order A-1: field 'lines' must hold at least 1 item(s), got 0."),
        (
            {"lines": [{"sku": "ZZ-1", "quantity": 1}]},
            "Order A-1, line 1: unknown SKU 'ZZ-1'; known SKUs are CB-404, KB-101, MN-303, MS-202.",
        ),
        (
            {"lines": [{"sku": "KB-101", "quantity": 0}]},
            "Order A-1, line 1: field 'quantity' must be at least 1 and at most 1000, got 0.",
        ),
        (
            {"lines": [{"sku": "KB-101", "quantity": True}]},
            "Order A-1, line 1: field 'quantity' must be an integer, got bool true.",
        ),
    ],
)
def test_validate_order_names_the_bad_field(
    activity: Any, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        activity("validate_order", {**ORDER, **change})
    assert str(raised.value) == message


def test_price_order_adds_tax_and_shipping_in_cents(activity: Any) -> None:
    priced = activity("price_order", activity("validate_order", ORDER))
    assert priced["lines"] == [
        {"sku": "MS-202", "quantity": 2, "unitPriceCents": 2499, "lineTotalCents": 4998}
    ]
    assert priced["subtotalCents"] == 4998
    assert priced["taxCents"] == 950  # 19 % of 49.98, rounded half up
    assert priced["shippingCents"] == 695  # below the free-shipping threshold
    assert priced["totalCents"] == 4998 + 950 + 695


def test_shipping_is_free_from_one_hundred_euros(activity: Any) -> None:
    big = {**ORDER, "lines": [{"sku": "KB-101", "quantity": 3}]}
    assert activity("price_order", activity("validate_order", big))["shippingCents"] == 0


def test_reserve_stock_is_deterministic_and_refuses_short_stock(activity: Any) -> None:
    priced = activity("price_order", activity("validate_order", ORDER))
    first = activity("reserve_stock", priced)
    assert first["reservationId"] == activity("reserve_stock", priced)["reservationId"]
    assert first["reservationId"].startswith("rsv-")
    short = {**priced, "lines": [{**priced["lines"][0], "sku": "MN-303", "quantity": 6}]}
    with pytest.raises(Exception, match=r"Only 5 unit\(s\) of MN-303 in stock"):
        activity("reserve_stock", short)


def test_charge_payment_declines_over_the_credit_limit(activity: Any) -> None:
    reserved = {"orderId": "A-1", "reservationId": "rsv-1", "totalCents": 1200, "currency": "EUR"}
    receipt = activity("charge_payment", reserved)
    assert receipt["amountCents"] == 1200 and receipt["status"] == "captured"
    with pytest.raises(Exception, match="declined: over the credit limit of 500000 cents"):
        activity("charge_payment", {**reserved, "totalCents": 500001})


def test_analyze_document_counts_words_without_stop_words(activity: Any) -> None:
    result = activity("analyze_document", {"name": "memo", "text": "The cat and the Cat's cat."})
    assert result == {"name": "memo", "words": 6, "topWords": {"cat": 2, "cat's": 1}}
    with pytest.raises(InvalidInputError, match="field 'text' must be a string"):
        activity("analyze_document", {"name": "memo"})


def test_export_steps_chain_their_results(activity: Any) -> None:
    extract = activity("run_export_step", {"step": "extract", "dataset": "d", "rows": 1001})
    assert extract == {"step": "extract", "rows": 1001, "batches": 3}
    transform = activity(
        "run_export_step", {"step": "transform", "dataset": "d", "previous": extract}
    )
    assert transform == {"step": "transform", "rows": 991, "rejectedRows": 10}
    publish = activity(
        "run_export_step", {"step": "publish", "dataset": "d", "previous": transform}
    )
    assert publish["rows"] == 991
    assert publish["location"] == f"exports/d/{publish['checksum']}.csv"
    with pytest.raises(InvalidInputError, match="steps are extract, transform, publish"):
        activity("run_export_step", {"step": "zip", "dataset": "d", "previous": {}})


def test_build_status_finishes_after_its_poll_count(activity: Any) -> None:
    needed = polls_until_done("build-42")
    assert 2 <= needed <= 5
    states = [
        activity("check_build_status", {"buildId": "build-42", "poll": poll})["state"]
        for poll in range(needed)
    ]
    assert states == ["queued"] + ["running"] * (needed - 2) + ["succeeded"]
    failing = {"buildId": "build-fail-1", "poll": 10}
    assert activity("check_build_status", failing)["state"] == "failed"
    stuck = {"buildId": "stuck-1", "poll": 1000}
    assert activity("check_build_status", stuck)["state"] == "running"


def test_approval_messages_name_the_people_involved(activity: Any) -> None:
    request = {
        "expenseId": "EXP-1",
        "amount": 12.5,
        "submitter": "sam",
        "approver": "lena",
        "deadline": "2025-03-02T09:00:00Z",
    }
    ask = activity("request_approval", request)
    assert ask["to"] == "lena"
    assert ask["subject"] == (
        "Approve expense EXP-1 of 12.50 EUR from sam before 2025-03-02T09:00:00Z"
    )
    decision = {**request, "approved": False, "decidedBy": "lena", "comment": ""}
    assert activity("record_decision", decision)["subject"] == "Expense EXP-1 was rejected by lena"
    assert activity("escalate_approval", request)["to"] == "finance-managers@contoso.example"


def test_store_rollup_keeps_the_window_figures(activity: Any) -> None:
    summary = {"count": 2, "sum": 3.0, "min": 1.0, "max": 2.0, "last": 2.0, "mean": 1.5}
    record = activity(
        "store_rollup", {"key": "cpu", "cycle": 3, "closedAt": "t", "summary": summary}
    )
    assert record == {
        "key": "cpu",
        "cycle": 3,
        "closedAt": "t",
        "count": 2,
        "mean": 1.5,
        "min": 1.0,
        "max": 2.0,
    }
