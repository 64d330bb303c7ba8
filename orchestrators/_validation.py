"""Input checks shared by the pattern modules.

Orchestrators and activities receive JSON from HTTP callers; a wrong shape must fail with a
message naming the field, what was expected and what arrived, instead of a KeyError deep in the
pattern's code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class InvalidInputError(ValueError):
    """The input of a pattern does not have the documented shape."""


def require_mapping(value: Any, what: str) -> Mapping[str, Any]:
    # The Python client's raise_event encodes data twice (azure-functions-durable-python#295),
    # so an object can arrive as its JSON text; accept both forms.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{what} must be a JSON object, got {_describe(value)}.")
    return value


def require_str(data: Mapping[str, Any], field: str, what: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            f"{what}: field '{field}' must be a non-empty string, got {_describe(value)}."
        )
    return value.strip()


def require_int(
    data: Mapping[str, Any],
    field: str,
    what: str,
    *,
    minimum: int,
    maximum: int | None = None,
    default: int | None = None,
) -> int:
    value = data.get(field, default)
    # bool is an int in Python but never a sensible count or duration.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInputError(
            f"{what}: field '{field}' must be an integer, got {_describe(value)}."
        )
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise InvalidInputError(
            f"{what}: field '{field}' must be at least {minimum}{upper}, got {value}."
        )
    return value


def require_number(data: Mapping[str, Any], field: str, what: str, *, minimum: float) -> float:
    value = data.get(field)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidInputError(
            f"{what}: field '{field}' must be a number, got {_describe(value)}."
        )
    if value < minimum:
        raise InvalidInputError(f"{what}: field '{field}' must be at least {minimum}, got {value}.")
    return float(value)


def require_list(data: Mapping[str, Any], field: str, what: str, *, min_items: int) -> list[Any]:
    value = data.get(field)
    if not isinstance(value, list):
        raise InvalidInputError(
            f"{what}: field '{field}' must be a JSON array, got {_describe(value)}."
        )
    if len(value) < min_items:
        raise InvalidInputError(
            f"{what}: field '{field}' must hold at least {min_items} item(s), got {len(value)}."
        )
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null or missing)"
    text = json.dumps(value, default=str)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def failure_reason(error: Exception) -> str:
    """The host's failure Reason from an activity or sub-orchestration exception.

    The SDK raises `Exception(f"{Reason} \\n {Details}")`; Details is the host's serialized
    .NET exception, which is noise in an orchestration's output.
    """
    return str(error).split(" \n ", 1)[0].strip()
