"""Host settings: host.json and the environment, as Core Tools reads them.

- `host.json` must have `"version": "2.0"`; `extensions.http.routePrefix` and
  `extensions.durableTask` are read with .NET configuration semantics (host_json.py): keys
  are case-insensitive, numbers and booleans may be strings, and an environment variable
  `AzureFunctionsJobHost__extensions__durableTask__hubName` overrides the file.
- `hubName` may reference an app setting as `%Name%`.
- local.settings.json is read by local_settings.py; its names are re-exported here, so a
  caller imports every setting from this one module.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from durable_host.errors import ConfigurationError
from durable_host.server.durable_task_keys import unknown_key_warnings
from durable_host.server.host_json import (
    HOST_JSON,
    ConfigSection,
    apply_env_overrides,
    read_json_object,
)
from durable_host.server.local_settings import (
    DEVELOPMENT_STORAGE,
    LOCAL_SETTINGS,
    LOCAL_SETTINGS_SAMPLE,
    LocalSettings,
    export_values,
    load_local_settings,
    resolve_connection_string,
)
from durable_host.taskhub.names import (
    DEFAULT_HUB_NAME,
    DEFAULT_PARTITION_COUNT,
    HUB_NAME_RE,
    MAX_PARTITION_COUNT,
    sanitize_hub_name,
)

__all__ = [
    "DEFAULT_CONNECTION_NAME",
    "DEVELOPMENT_STORAGE",
    "LOCAL_SETTINGS",
    "LOCAL_SETTINGS_SAMPLE",
    "DurableTaskSettings",
    "HostSettings",
    "LocalSettings",
    "export_values",
    "load_host_settings",
    "load_local_settings",
    "resolve_connection_string",
]

log = logging.getLogger(__name__)

# The Durable extension's default connection name; Functions resolves it as AzureWebJobsStorage.
DEFAULT_CONNECTION_NAME = "Storage"
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


# --------------------------------------------------------------------------- host.json


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
    # As the extension (DurableTaskOptions.cs 44-49): a set WEBSITE_SITE_NAME, even an empty
    # one, is the name; it is then sanitized (AzureStorageDurabilityProviderFactory.cs 110-117).
    site = environ.get("WEBSITE_SITE_NAME")
    return sanitize_hub_name(site) if site is not None else DEFAULT_HUB_NAME


def _hub_name(durable: ConfigSection, environ: Mapping[str, str]) -> str:
    hub_where = durable.where("hubName")
    hub_name = durable.string("hubName", "")
    hub_name = _resolve_app_setting_refs(hub_name, environ, hub_where) if hub_name else ""
    if not hub_name:
        hub_name = _default_hub_name(environ)
    if not HUB_NAME_RE.fullmatch(hub_name):
        raise ConfigurationError(
            f"{hub_where} must be 3-50 letters or digits starting with a letter, got "
            f"{hub_name!r}; use a name like {sanitize_hub_name(hub_name)!r}."
        )
    return hub_name


def _partition_lease(provider: ConfigSection) -> tuple[int, int]:
    """partitionLeaseDurationSeconds and partitionRenewIntervalSeconds, checked together."""
    lease = provider.integer("partitionLeaseDurationSeconds", 30, low=2)
    renew = provider.integer("partitionRenewIntervalSeconds", min(10, lease // 3), low=1)
    if renew * 2 > lease:
        raise ConfigurationError(
            f"{provider.where('partitionRenewIntervalSeconds')} ({renew}) must be at most half "
            f"of partitionLeaseDurationSeconds ({lease}), or leases expire between renewals."
        )
    return lease, renew


def _check_provider_type(provider: ConfigSection) -> None:
    """Refuse another storage provider: running its app on an Azure Storage hub would look
    like it works while its instances live elsewhere (Core Tools' `func durable` refuses too)."""
    kind = provider.string("type", "AzureStorage")
    if kind.strip().lower() != "azurestorage":
        raise ConfigurationError(
            f"{provider.where('type')} is {kind!r}: durable_host runs Durable Functions on the "
            "Azure Storage provider only (the DurableTask.AzureStorage task hub layout). Remove "
            f'"type" (or set it to "AzureStorage") to run this app here, or run it with Core '
            f"Tools (`func start`) to keep the {kind} provider."
        )


def _durable_task(root: ConfigSection, environ: Mapping[str, str]) -> DurableTaskSettings:
    extensions = root.section("extensions")
    durable = extensions.section("durableTask")
    for warning in unknown_key_warnings(extensions.raw("durableTask") or {}):
        log.warning("%s", warning)
    provider = durable.section("storageProvider")
    _check_provider_type(provider)
    connection = provider.string("connectionName", "") or provider.string(
        "connectionStringName", ""
    )
    lease, renew = _partition_lease(provider)
    return DurableTaskSettings(
        hub_name=_hub_name(durable, environ),
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
        data = read_json_object(path)
    except FileNotFoundError:
        raise ConfigurationError(
            f"{path} not found: the app folder must contain a host.json with "
            '{"version": "2.0"}. Pass the app folder with --app-dir.'
        ) from None
    apply_env_overrides(data, env)
    root = ConfigSection(data, "")
    version = root.raw("version")
    if version != "2.0":
        raise ConfigurationError(
            f'{HOST_JSON}: version must be "2.0" (the Functions v4 host schema), got {version!r}.'
        )
    http = root.section("extensions").section("http")
    prefix = http.string("routePrefix", "api").strip("/")
    return HostSettings(route_prefix=prefix, durable_task=_durable_task(root, env), path=path)
