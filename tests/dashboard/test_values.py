"""How the dashboard shows a stored payload (dashboard/render.json_value)."""

from __future__ import annotations

import json

import pytest

from durable_host.dashboard.render import json_value


def test_a_string_holding_a_json_object_is_shown_as_that_object_with_the_raw_value_kept() -> None:
    body = {"orders": [{"orderId": "A-1"}]}
    stored = json.dumps(json.dumps(body))  # "{\"orders\": ..." as the SDK stores a str input
    value = json_value(stored)
    assert value.holds_json
    assert value.text == json.dumps(body, indent=2)
    assert value.raw == stored
    assert value.size == len(stored)


@pytest.mark.parametrize(
    "stored",
    [
        json.dumps({"a": 1}),  # an object: shown as it is
        json.dumps("plain words"),
        json.dumps("42"),  # a string holding a number stays a string
        json.dumps("{not json"),
        "not JSON at all",
    ],
)
def test_other_values_are_not_marked(stored: str) -> None:
    value = json_value(stored)
    assert not value.holds_json
    assert value.raw == ""
