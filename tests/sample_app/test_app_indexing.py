"""What the worker sees when it indexes the app: names, trigger types, routes."""

from __future__ import annotations

import itertools
from typing import Any

EXPECTED_TRIGGERS = {
    "process_order": "orchestrationTrigger",
    "process_order_batch": "orchestrationTrigger",
    "analyze_documents": "orchestrationTrigger",
    "export_report": "orchestrationTrigger",
    "monitor_build": "orchestrationTrigger",
    "metrics_report": "orchestrationTrigger",
    "metrics_rollup": "orchestrationTrigger",
    "expense_approval": "orchestrationTrigger",
    "validate_order": "activityTrigger",
    "price_order": "activityTrigger",
    "reserve_stock": "activityTrigger",
    "charge_payment": "activityTrigger",
    "analyze_document": "activityTrigger",
    "run_export_step": "activityTrigger",
    "check_build_status": "activityTrigger",
    "request_approval": "activityTrigger",
    "record_decision": "activityTrigger",
    "escalate_approval": "activityTrigger",
    "store_rollup": "activityTrigger",
    "metric": "entityTrigger",
    "start_orchestration": "httpTrigger",
    "record_metric": "httpTrigger",
    "read_metric": "httpTrigger",
}


def _bindings(fn: Any) -> list[dict[str, Any]]:
    return [binding.get_dict_repr() for binding in fn.get_bindings()]


def _trigger(fn: Any) -> dict[str, Any]:
    [trigger] = [b for b in _bindings(fn) if str(b["type"]).endswith("Trigger")]
    return trigger


def test_every_function_is_indexed_with_its_trigger(functions: dict[str, Any]) -> None:
    assert {name: _trigger(fn)["type"] for name, fn in functions.items()} == EXPECTED_TRIGGERS


def test_function_names_are_unique_ignoring_case(app_module: Any) -> None:
    # The host addresses functions case-insensitively; get_functions() only checks exact names.
    # get_functions() may run once per app (the fixture did); build() is repeatable.
    names = [builder.build().get_function_name() for builder in app_module.app._function_builders]
    assert len({name.lower() for name in names}) == len(names) == len(EXPECTED_TRIGGERS)


def test_http_functions_take_a_durable_client_and_return_http(functions: dict[str, Any]) -> None:
    for name in ("start_orchestration", "record_metric", "read_metric"):
        types = {b["name"]: b["type"] for b in _bindings(functions[name])}
        assert types == {"req": "httpTrigger", "client": "durableClient", "$return": "http"}


def test_durable_triggers_have_no_return_binding(functions: dict[str, Any]) -> None:
    for name, trigger_type in EXPECTED_TRIGGERS.items():
        if trigger_type != "httpTrigger":
            assert [b["name"] for b in _bindings(functions[name])] == [
                _trigger(functions[name])["name"]
            ]


def _segments(route: str) -> list[list[str]]:
    """Route templates as segment lists; a trailing optional parameter gives two variants."""
    parts = route.strip("/").split("/")
    variants = [parts]
    if parts[-1].startswith("{") and parts[-1].endswith("?}"):
        variants.append(parts[:-1])
    return variants


def _could_overlap(a: str, b: str) -> bool:
    for left, right in itertools.product(_segments(a), _segments(b)):
        if len(left) == len(right) and all(
            x == y or x.startswith("{") or y.startswith("{")
            for x, y in zip(left, right, strict=True)
        ):
            return True
    return False


def test_http_routes_do_not_conflict(functions: dict[str, Any]) -> None:
    routes = {}
    for name, fn in functions.items():
        trigger = _trigger(fn)
        if trigger["type"] == "httpTrigger":
            routes[name] = (trigger["route"], {str(m).upper() for m in trigger["methods"]})
    assert routes == {
        "start_orchestration": ("orchestrators/{functionName}/{instanceId?}", {"POST"}),
        "record_metric": ("metrics/{key}", {"POST"}),
        "read_metric": ("metrics/{key}", {"GET"}),
    }
    for (a, (route_a, verbs_a)), (b, (route_b, verbs_b)) in itertools.combinations(
        routes.items(), 2
    ):
        assert not (verbs_a & verbs_b and _could_overlap(route_a, route_b)), (a, b)


def test_route_overlap_check_catches_conflicts() -> None:
    assert _could_overlap("metrics/{key}", "metrics/cpu")
    assert _could_overlap("orchestrators/{fn}/{id?}", "orchestrators/{name}")
    assert not _could_overlap("metrics/{key}", "orchestrators/{fn}/{id?}")


def test_http_functions_require_a_function_key_in_azure(functions: dict[str, Any]) -> None:
    for name in ("start_orchestration", "record_metric", "read_metric"):
        assert str(_trigger(functions[name])["authLevel"]).upper().endswith("FUNCTION")
