"""The SDK's actions as the host reads them (replay/actions.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from durable_host.engine.replay.actions import (
    CALL_ACTIVITY,
    WHEN_ALL,
    action_type,
    flatten_actions,
    parse_sdk_datetime,
)


def test_action_types_are_read_as_numbers_or_names() -> None:
    assert action_type({"actionType": 0}) == CALL_ACTIVITY
    assert action_type({"actionType": "WhenAll"}) == WHEN_ALL
    with pytest.raises(ValueError, match="'Teleport'"):
        action_type({"actionType": "Teleport"})


def test_schema_v2_is_one_list_and_v1_one_list_per_yield() -> None:
    a, b, c = ({"actionType": n} for n in (0, 5, 6))
    assert flatten_actions([[a, b, c]]) == [a, b, c]
    assert flatten_actions([[a], [b, c]]) == [a, b, c]
    assert flatten_actions(None) == []


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-07T09:30:15.250000Z",  # the SDK's own form
        "2026-12-07T09:30:15.2500000Z",  # seven digits, as .NET writes
        "2026-12-07T09:30:15.25+00:00",
    ],
)
def test_sdk_times_are_read_as_utc(text: str) -> None:
    expected = datetime(2026, 12, 7, 9, 30, 15, 250000, tzinfo=timezone.utc)
    assert parse_sdk_datetime(text) == expected


def test_a_time_without_fraction_is_read_too() -> None:
    assert parse_sdk_datetime("2026-12-07T09:30:15Z") == datetime(
        2026, 12, 7, 9, 30, 15, tzinfo=timezone.utc
    )
