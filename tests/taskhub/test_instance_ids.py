"""The instance id rules: any instance's (the engine's start) and a client's (the HTTP API)."""

from __future__ import annotations

import pytest

from durable_host.errors import InvalidInstanceIdError
from durable_host.taskhub.instance_ids import (
    MAX_INSTANCE_ID_LENGTH,
    check_client_instance_id,
    check_instance_id,
)

TOO_LONG = "x" * (MAX_INSTANCE_ID_LENGTH + 1)


@pytest.mark.parametrize(
    ("instance_id", "message"),
    [("", "empty or white space"), ("  ", "empty or white space"), (TOO_LONG, "exceed 256")],
)
def test_no_instance_may_have(instance_id: str, message: str) -> None:
    for check in (check_instance_id, check_client_instance_id):
        with pytest.raises(InvalidInstanceIdError, match=message):
            check(instance_id)


@pytest.mark.parametrize(
    ("instance_id", "message"),
    [
        ("@counter@k", "must not start with @"),
        ("a/b", "must not contain /"),
        ("a\\b", "must not contain /"),
        ("a#b", "must not contain /"),
        ("a?b", "must not contain /"),
        ("a\x07b", "control characters"),
        ("a\x85b", "control characters"),
    ],
)
def test_a_client_may_not_name(instance_id: str, message: str) -> None:
    with pytest.raises(InvalidInstanceIdError, match=message):
        check_client_instance_id(instance_id)
    check_instance_id(instance_id)  # the engine keys such ids escaped


@pytest.mark.parametrize("instance_id", ["a", "order-17", "x" * MAX_INSTANCE_ID_LENGTH, "naïve"])
def test_accepted_ids(instance_id: str) -> None:
    check_instance_id(instance_id)
    check_client_instance_id(instance_id)


def test_it_is_a_value_error_for_python_callers() -> None:
    with pytest.raises(ValueError):
        check_instance_id(" ")
