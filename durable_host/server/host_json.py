"""host.json read with .NET configuration semantics: keys are case-insensitive, numbers and
booleans may be strings, and `AzureFunctionsJobHost__a__b` environment variables override the
file's `a.b`. Bad values raise ConfigurationError naming the file and the dotted key."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from durable_host.errors import ConfigurationError
from durable_host.taskhub.timestamps import parse_timespan

__all__ = ["HOST_JSON", "ConfigSection", "apply_env_overrides", "read_json_object"]

HOST_JSON = "host.json"
_ENV_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in host.json or local.settings.json; ConfigurationError (line and
    column) when it is not one.

    Imports nothing heavy: the CLI checks host.json with it before the SDK is imported, since
    the SDK parses ./host.json on import and fails with a bare traceback.
    """
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path.name}: must be a JSON object.")
    return data


class ConfigSection:
    """A case-insensitive view of one JSON object of host.json, with its dotted path."""

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self._data = {str(k).lower(): v for k, v in data.items()}
        self._path = path

    def where(self, key: str) -> str:
        return f"{HOST_JSON}: {self._path}{key}" if self._path else f"{HOST_JSON}: {key}"

    def raw(self, key: str) -> Any:
        return self._data.get(key.lower())

    def section(self, key: str) -> ConfigSection:
        value = self.raw(key)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"{self.where(key)} must be a JSON object, got {value!r}.")
        return ConfigSection(value, f"{self._path}{key}.")

    def string(self, key: str, default: str) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ConfigurationError(f"{self.where(key)} must be a string, got {value!r}.")
        return value

    def integer(self, key: str, default: int, *, low: int, high: int | None = None) -> int:
        value = self.raw(key)
        if value is None:
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            number = int(value)
        if number is None or number < low or (high is not None and number > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ConfigurationError(
                f"{self.where(key)} must be an integer {bounds}, got {value!r}."
            )
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ConfigurationError(f"{self.where(key)} must be true or false, got {value!r}.")

    def timespan(self, key: str, default: timedelta) -> timedelta:
        value = self.raw(key)
        if value is None:
            return default
        try:
            parsed = parse_timespan(value)
        except ValueError:
            parsed = timedelta(-1)
        if parsed <= timedelta(0):
            raise ConfigurationError(
                f"{self.where(key)} must be a positive TimeSpan like '00:00:30', got {value!r}."
            )
        return parsed


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """`AzureFunctionsJobHost__a__b=v` sets host.json's `a.b` (keys matched case-insensitively)."""
    for name, value in environ.items():
        if not name.startswith(_ENV_OVERRIDE_PREFIX):
            continue
        keys = [k for k in name[len(_ENV_OVERRIDE_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = data
        for key in keys[:-1]:
            existing = next((k for k in node if k.lower() == key.lower()), key)
            child = node.get(existing)
            if not isinstance(child, dict):
                child = {}
                node[existing] = child
            node = child
        leaf = next((k for k in node if k.lower() == keys[-1].lower()), keys[-1])
        node[leaf] = value
