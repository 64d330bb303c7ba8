"""local.settings.json as Core Tools reads it (or its sample, or defaults for Azurite), its
Values exported into the environment without overriding what is set, and connection names
resolved against those settings as the WebJobs SDK does."""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from durable_host.errors import ConfigurationError
from durable_host.server.host_json import read_json_object

__all__ = [
    "DEVELOPMENT_STORAGE",
    "LOCAL_SETTINGS",
    "LOCAL_SETTINGS_SAMPLE",
    "LocalSettings",
    "export_values",
    "load_local_settings",
    "resolve_connection_string",
]

LOCAL_SETTINGS = "local.settings.json"
LOCAL_SETTINGS_SAMPLE = "local.settings.sample.json"
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"


@dataclass(frozen=True)
class LocalSettings:
    """`local.settings.json` (or its fallback): app settings and the local HTTP port."""

    values: dict[str, str]
    source: Path | None
    local_http_port: int | None = None
    warnings: tuple[str, ...] = ()


def _read_local_settings(path: Path) -> tuple[dict[str, str], int | None]:
    data = read_json_object(path)
    if data.get("IsEncrypted") is True:
        raise ConfigurationError(
            f"{path.name}: IsEncrypted is true; durable_host cannot decrypt it. Decrypt it with "
            "`func settings decrypt` or write the values in plain text."
        )
    raw_values = data.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise ConfigurationError(f"{path.name}: Values must be a JSON object.")
    values: dict[str, str] = {}
    for key, value in raw_values.items():
        if value is None:
            continue
        values[str(key)] = value if isinstance(value, str) else json.dumps(value)
    host = data.get("Host") or {}
    port = host.get("LocalHttpPort") if isinstance(host, dict) else None
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise ConfigurationError(
            f"{path.name}: Host.LocalHttpPort must be an integer port number, got {port!r}."
        )
    return values, port


def load_local_settings(app_dir: Path) -> LocalSettings:
    """Read local.settings.json; if it is missing use local.settings.sample.json, else defaults."""
    app_dir = Path(app_dir)
    path = app_dir / LOCAL_SETTINGS
    if path.is_file():
        values, port = _read_local_settings(path)
        return LocalSettings(values=values, source=path, local_http_port=port)
    sample = app_dir / LOCAL_SETTINGS_SAMPLE
    if sample.is_file():
        values, port = _read_local_settings(sample)
        warning = (
            f"{LOCAL_SETTINGS} not found in {app_dir}; using the Values of "
            f"{LOCAL_SETTINGS_SAMPLE}. Copy it to {LOCAL_SETTINGS} to customise them."
        )
        return LocalSettings(values, sample, port, (warning,))
    warning = (
        f"{LOCAL_SETTINGS} not found in {app_dir}; using AzureWebJobsStorage="
        f"{DEVELOPMENT_STORAGE} (Azurite). Create {LOCAL_SETTINGS} to change it."
    )
    defaults = {"AzureWebJobsStorage": DEVELOPMENT_STORAGE, "FUNCTIONS_WORKER_RUNTIME": "python"}
    return LocalSettings(defaults, None, None, (warning,))


def export_values(values: Mapping[str, str], environ: MutableMapping[str, str]) -> list[str]:
    """Put app settings into the environment, never overriding what is already set.

    Returns the names that were skipped because the environment already had them.
    """
    skipped = []
    for key, value in values.items():
        if key in environ:
            skipped.append(key)
        else:
            environ[key] = value
    return skipped


def resolve_connection_string(connection_name: str, environ: Mapping[str, str]) -> str:
    """Resolve a connection name the way the WebJobs SDK does.

    Looks up `AzureWebJobs<name>`, then `ConnectionStrings:<name>`, then `<name>` itself, so the
    default `Storage` resolves to `AzureWebJobsStorage`.
    """
    candidates = [f"AzureWebJobs{connection_name}", f"ConnectionStrings:{connection_name}"]
    candidates.append(connection_name)
    for name in candidates:
        value = environ.get(name)
        if value:
            return value
    raise ConfigurationError(
        f"No storage connection string found for the connection {connection_name!r}: set "
        f"{candidates[0]} (for Azurite: {DEVELOPMENT_STORAGE}) in Values of "
        f"{LOCAL_SETTINGS} or in the environment."
    )
