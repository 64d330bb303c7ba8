"""Activities of the order pipeline (function chaining; also run per order by the batch).

Prices are integer cents so totals never pick up float rounding. The catalog, stock levels
and tax rates are fixed tables: activities must be deterministic and never call the network.
"""

from __future__ import annotations

import hashlib
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import (
    InvalidInputError,
    require_int,
    require_list,
    require_mapping,
    require_str,
)

bp = df.Blueprint()

# sku -> (unit price in cents, units in stock)
CATALOG: dict[str, tuple[int, int]] = {
    "KB-101": (4999, 40),  # keyboard
    "MS-202": (2499, 120),  # mouse
    "MN-303": (18999, 5),  # monitor
    "CB-404": (999, 500),  # USB-C cable
}
TAX_RATE_PERCENT: dict[str, int] = {"NL": 21, "DE": 19, "FR": 20, "US": 0}
FREE_SHIPPING_FROM_CENTS = 10000
SHIPPING_CENTS = 695
# Orders above this are declined by the (simulated) payment provider.
CREDIT_LIMIT_CENTS = 500000


class OutOfStockError(Exception):
    """A line asks for more units than the warehouse holds."""


class PaymentDeclinedError(Exception):
    """The payment provider refused the charge."""


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]
    return f"{prefix}-{digest}"


@bp.activity_trigger(input_name="order")
def validate_order(order: Any) -> dict[str, Any]:
    """Check the order against the catalog and normalise it (upper-case SKUs and country)."""
    data = require_mapping(order, "Order")
    order_id = require_str(data, "orderId", "Order")
    what = f"Order {order_id}"
    customer = require_str(data, "customer", what)
    country = require_str(data, "country", what).upper()
    if country not in TAX_RATE_PERCENT:
        known = ", ".join(sorted(TAX_RATE_PERCENT))
        raise InvalidInputError(f"{what}: we do not ship to '{country}'; choose one of {known}.")
    lines = []
    for index, raw_line in enumerate(require_list(data, "lines", what, min_items=1)):
        line_what = f"{what}, line {index + 1}"
        line = require_mapping(raw_line, line_what)
        sku = require_str(line, "sku", line_what).upper()
        if sku not in CATALOG:
            known = ", ".join(sorted(CATALOG))
            raise InvalidInputError(f"{line_what}: unknown SKU '{sku}'; known SKUs are {known}.")
        quantity = require_int(line, "quantity", line_what, minimum=1, maximum=1000)
        lines.append({"sku": sku, "quantity": quantity})
    return {"orderId": order_id, "customer": customer, "country": country, "lines": lines}


@bp.activity_trigger(input_name="order")
def price_order(order: dict[str, Any]) -> dict[str, Any]:
    """Add unit prices, tax and shipping to a validated order."""
    lines = []
    subtotal = 0
    for line in order["lines"]:
        unit_price = CATALOG[line["sku"]][0]
        line_total = unit_price * line["quantity"]
        subtotal += line_total
        lines.append({**line, "unitPriceCents": unit_price, "lineTotalCents": line_total})
    # Round half up to whole cents, as invoices do.
    tax = (subtotal * TAX_RATE_PERCENT[order["country"]] + 50) // 100
    shipping = 0 if subtotal >= FREE_SHIPPING_FROM_CENTS else SHIPPING_CENTS
    return {
        **order,
        "lines": lines,
        "subtotalCents": subtotal,
        "taxCents": tax,
        "shippingCents": shipping,
        "totalCents": subtotal + tax + shipping,
        "currency": "EUR",
    }


@bp.activity_trigger(input_name="order")
def reserve_stock(order: dict[str, Any]) -> dict[str, Any]:
    """Reserve every line of a priced order, or fail naming the first short SKU."""
    for line in order["lines"]:
        in_stock = CATALOG[line["sku"]][1]
        if line["quantity"] > in_stock:
            raise OutOfStockError(
                f"Only {in_stock} unit(s) of {line['sku']} in stock, "
                f"order {order['orderId']} asks for {line['quantity']}."
            )
    return {**order, "reservationId": _stable_id("rsv", order["orderId"])}


@bp.activity_trigger(input_name="order")
def charge_payment(order: dict[str, Any]) -> dict[str, Any]:
    """Charge the customer for a reserved order."""
    if order["totalCents"] > CREDIT_LIMIT_CENTS:
        raise PaymentDeclinedError(
            f"Payment of {order['totalCents']} cents for order {order['orderId']} was declined: "
            f"over the credit limit of {CREDIT_LIMIT_CENTS} cents."
        )
    return {
        "paymentId": _stable_id("pay", order["orderId"], order["reservationId"]),
        "amountCents": order["totalCents"],
        "currency": order["currency"],
        "status": "captured",
    }
