"""Host settings: host.json, local.settings.json and the environment, as Core Tools reads them.

- `host.json` must have `"version": "2.0"`; `extensions.http.routePrefix` and
  `extensions.durableTask` are read with .NET configuration semantics: keys are
  case-insensitive, numbers and booleans may be strings, and an environment
  variable `AzureFunctionsJobHost__extensions__durableTask__hubName` overrides
  the file.
- `local.settings.json` `Values` go into the process environment without
  overriding variables that are already set (Core Tools does the same).
- `hubName` may reference an app setting as `%Name%`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from durable_host.errors import ConfigurationError
from durable_host.taskhub.names import (
    DEFAULT_HUB_NAME,
    DEFAULT_PARTITION_COUNT,
    MAX_PARTITION_COUNT,
    sanitize_hub_name,
)
from durable_host.taskhub.timestamps import parse_timespan

__all__ = [
    "DEFAULT_CONNECTION_NAME",
    "DEVELOPMENT_STORAGE",
    "DurableTaskSettings",
    "HostSettings",
    "LocalSettings",
    "export_values",
    "load_host_settings",
    "load_local_settings",
    "resolve_connection_string",
]

log = logging.getLogger(__name__)

HOST_JSON = "host.json"
LOCAL_SETTINGS = "local.settings.json"
LOCAL_SETTINGS_SAMPLE = "local.settings.sample.json"
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"
# The Durable extension's default connection name; Functions resolves it as AzureWebJobsStorage.
DEFAULT_CONNECTION_NAME = "Storage"
_ENV_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"
_HUB_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{2,44}")
_APP_SETTING_REF = re.compile(r"%([^%]+)%")


def _cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class DurableTaskSettings:
    """`extensions.durableTask` of host.json (Azure Storage provider)."""

    hub_name: str = DEFAULT_HUB_NAME
    connection_name: str = DEFAULT_CONNECTION_NAME
    partition_count: int = DEFAULT_PARTITION_COUNT
    max_queue_polling_interval: timedelta = timedelta(seconds=30)
    control_queue_batch_size: int = 32
    control_queue_visibility_timeout: timedelta = timedelta(minutes=5)
    work_item_queue_visibility_timeout: timedelta = timedelta(minutes=5)
    max_concurrent_activity_functions: int = field(default_factory=lambda: 10 * _cores())
    max_concurrent_orchestrator_functions: int = field(default_factory=lambda: 10 * _cores())
    extended_sessions_enabled: bool = False
    extended_session_idle_timeout: timedelta = timedelta(seconds=30)
    local_rpc_endpoint_enabled: bool = True
    # entityMessageReorderWindowInMinutes: how long an entity holds back a request whose
    # predecessor has not arrived (0: requests are not sorted).
    entity_message_reorder_window: timedelta = timedelta(minutes=30)
    # durable_host's own storageProvider keys (the extension fixes these at 30 s / 10 s):
    # short leases let tests move a killed host's partitions to the survivors quickly.
    partition_lease_duration: timedelta = timedelta(seconds=30)
    partition_renew_interval: timedelta = timedelta(seconds=10)
    # `tracing`: DistributedTracingEnabled with Version "V2" (V1, the Application Insights
    # correlation protocol, is not implemented: it reads as off).
    distributed_tracing: bool = False
    # httpSettings.defaultAsyncRequestSleepTimeMilliseconds (call_http's 202 polling).
    http_async_sleep_default: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class HostSettings:
    """What durable_host reads from host.json."""

    route_prefix: str = "api"
    durable_task: DurableTaskSettings = field(default_factory=DurableTaskSettings)
    path: Path | None = None


@dataclass(frozen=True)
class LocalSettings:
    """`local.settings.json` (or its fallback): app settings and the local HTTP port."""

    values: dict[str, str]
    source: Path | None
    local_http_port: int | None = None
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- host.json


class _Section:
    """A case-insensitive view of one JSON object of host.json, with its dotted path."""

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self._data = {str(k).lower(): v for k, v in data.items()}
        self._path = path

    def where(self, key: str) -> str:
        return f"{HOST_JSON}: {self._path}{key}" if self._path else f"{HOST_JSON}: {key}"

    def raw(self, key: str) -> Any:
        return self._data.get(key.lower())

    def section(self, key: str) -> _Section:
        value = self.raw(key)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"{self.where(key)} must be a JSON object, got {value!r}.")
        return _Section(value, f"{self._path}{key}.")

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


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
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


def _resolve_app_setting_refs(text: str, environ: Mapping[str, str], where: str) -> str:
    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigurationError(
                f"{where} refers to the app setting %{name}%, which is not set: add "
                f"{name} to Values in {LOCAL_SETTINGS} or to the environment."
            )
        return environ[name]

    return _APP_SETTING_REF.sub(lookup, text)


def _default_hub_name(environ: Mapping[str, str]) -> str:
    site = environ.get("WEBSITE_SITE_NAME")
    return sanitize_hub_name(site) if site else DEFAULT_HUB_NAME


def _durable_task(root: _Section, environ: Mapping[str, str]) -> DurableTaskSettings:
    durable = root.section("extensions").section("durableTask")
    provider = durable.section("storageProvider")
    hub_where = durable.where("hubName")
    hub_name = durable.string("hubName", "")
    hub_name = _resolve_app_setting_refs(hub_name, environ, hub_where) if hub_name else ""
    if not hub_name:
        hub_name = _default_hub_name(environ)
    if not _HUB_NAME_RE.fullmatch(hub_name):
        raise ConfigurationError(
            f"{hub_where} must be 3-45 letters or digits starting with a letter, got "
            f"{hub_name!r}; use a name like {sanitize_hub_name(hub_name)!r}."
        )
    connection = provider.string("connectionName", "") or provider.string(
        "connectionStringName", ""
    )
    lease = provider.integer("partitionLeaseDurationSeconds", 30, low=2)
    renew = provider.integer("partitionRenewIntervalSeconds", min(10, lease // 3), low=1)
    if renew * 2 > lease:
        raise ConfigurationError(
            f"{provider.where('partitionRenewIntervalSeconds')} ({renew}) must be at most half "
            f"of partitionLeaseDurationSeconds ({lease}), or leases expire between renewals."
        )
    return DurableTaskSettings(
        hub_name=hub_name,
        connection_name=connection or DEFAULT_CONNECTION_NAME,
        partition_count=provider.integer(
            "partitionCount", DEFAULT_PARTITION_COUNT, low=1, high=MAX_PARTITION_COUNT
        ),
        max_queue_polling_interval=provider.timespan(
            "maxQueuePollingInterval", timedelta(seconds=30)
        ),
        control_queue_batch_size=provider.integer("controlQueueBatchSize", 32, low=1, high=32),
        control_queue_visibility_timeout=provider.timespan(
            "controlQueueVisibilityTimeout", timedelta(minutes=5)
        ),
        work_item_queue_visibility_timeout=provider.timespan(
            "workItemQueueVisibilityTimeout", timedelta(minutes=5)
        ),
        max_concurrent_activity_functions=durable.integer(
            "maxConcurrentActivityFunctions", 10 * _cores(), low=1
        ),
        max_concurrent_orchestrator_functions=durable.integer(
            "maxConcurrentOrchestratorFunctions", 10 * _cores(), low=1
        ),
        extended_sessions_enabled=durable.boolean("extendedSessionsEnabled", False),
        extended_session_idle_timeout=timedelta(
            seconds=durable.integer("extendedSessionIdleTimeoutInSeconds", 30, low=0)
        ),
        local_rpc_endpoint_enabled=durable.boolean("localRpcEndpointEnabled", True),
        entity_message_reorder_window=timedelta(
            minutes=durable.integer("entityMessageReorderWindowInMinutes", 30, low=0)
        ),
        partition_lease_duration=timedelta(seconds=lease),
        partition_renew_interval=timedelta(seconds=renew),
        distributed_tracing=durable.section("tracing").boolean("DistributedTracingEnabled", False)
        and durable.section("tracing").string("Version", "V1").upper() == "V2",
        http_async_sleep_default=timedelta(
            milliseconds=durable.section("httpSettings").integer(
                "defaultAsyncRequestSleepTimeMilliseconds", 30000, low=0
            )
        ),
    )


def load_host_settings(app_dir: Path, environ: Mapping[str, str] | None = None) -> HostSettings:
    """Read `<app_dir>/host.json`; ConfigurationError names the file and the bad field."""
    env = os.environ if environ is None else environ
    path = Path(app_dir) / HOST_JSON
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigurationError(
            f"{path} not found: the app folder must contain a host.json with "
            '{"version": "2.0"}. Pass the app folder with --app-dir.'
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{HOST_JSON}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{HOST_JSON}: must be a JSON object.")
    _apply_env_overrides(data, env)
    root = _Section(data, "")
    version = root.raw("version")
    if version != "2.0":
        raise ConfigurationError(
            f'{HOST_JSON}: version must be "2.0" (the Functions v4 host schema), got {version!r}.'
        )
    http = root.section("extensions").section("http")
    prefix = http.string("routePrefix", "api").strip("/")
    return HostSettings(route_prefix=prefix, durable_task=_durable_task(root, env), path=path)


# --------------------------------------------------------------------------- local.settings.json


def _read_local_settings(path: Path) -> tuple[dict[str, str], int | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path.name}: must be a JSON object.")
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
