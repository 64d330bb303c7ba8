from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from durable_host.errors import ConfigurationError
from durable_host.server.settings import (
    DEVELOPMENT_STORAGE,
    export_values,
    load_host_settings,
    load_local_settings,
    resolve_connection_string,
)


def write_host(tmp_path: Path, durable: dict[str, Any] | None = None, **top: object) -> Path:
    data: dict[str, Any] = {"version": "2.0", **top}
    if durable is not None:
        data.setdefault("extensions", {})["durableTask"] = durable
    (tmp_path / "host.json").write_text(json.dumps(data))
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    settings = load_host_settings(write_host(tmp_path), environ={})
    dt = settings.durable_task
    assert settings.route_prefix == "api"
    assert dt.hub_name == "TestHubName"
    assert dt.connection_name == "Storage"
    assert dt.partition_count == 4
    assert dt.max_queue_polling_interval == timedelta(seconds=30)
    assert dt.control_queue_batch_size == 32
    assert dt.control_queue_visibility_timeout == timedelta(minutes=5)
    assert dt.work_item_queue_visibility_timeout == timedelta(minutes=5)
    assert dt.max_concurrent_activity_functions >= 10
    assert dt.extended_sessions_enabled is False
    assert dt.extended_session_idle_timeout == timedelta(seconds=30)
    assert dt.local_rpc_endpoint_enabled is True
    assert dt.entity_message_reorder_window == timedelta(minutes=30)


def test_full_durable_task_section_case_insensitive(tmp_path: Path) -> None:
    durable = {
        "HubName": "MyHub1",
        "maxConcurrentActivityFunctions": "7",
        "maxConcurrentOrchestratorFunctions": 3,
        "extendedSessionsEnabled": "true",
        "extendedSessionIdleTimeoutInSeconds": 12,
        "localRpcEndpointEnabled": False,
        "entityMessageReorderWindowInMinutes": 0,
        "storageProvider": {
            "partitionCount": 8,
            "maxQueuePollingInterval": "00:00:02",
            "controlQueueBatchSize": 16,
            "controlQueueVisibilityTimeout": "00:02:00",
            "workItemQueueVisibilityTimeout": "00:01:00.5",
            "connectionName": "MyStorage",
        },
    }
    app = write_host(tmp_path, durable, extensions={"http": {"routePrefix": "/v1/"}})
    settings = load_host_settings(app, environ={})
    dt = settings.durable_task
    assert settings.route_prefix == "v1"
    assert dt.hub_name == "MyHub1"
    assert dt.partition_count == 8
    assert dt.max_queue_polling_interval == timedelta(seconds=2)
    assert dt.control_queue_batch_size == 16
    assert dt.control_queue_visibility_timeout == timedelta(minutes=2)
    assert dt.work_item_queue_visibility_timeout == timedelta(minutes=1, milliseconds=500)
    assert dt.max_concurrent_activity_functions == 7
    assert dt.max_concurrent_orchestrator_functions == 3
    assert dt.extended_sessions_enabled is True
    assert dt.extended_session_idle_timeout == timedelta(seconds=12)
    assert dt.local_rpc_endpoint_enabled is False
    assert dt.entity_message_reorder_window == timedelta(0)
    assert dt.connection_name == "MyStorage"


def test_empty_route_prefix(tmp_path: Path) -> None:
    app = write_host(tmp_path, extensions={"http": {"routePrefix": ""}})
    assert load_host_settings(app, environ={}).route_prefix == ""


def test_legacy_connection_string_name(tmp_path: Path) -> None:
    app = write_host(tmp_path, {"storageProvider": {"connectionStringName": "Old"}})
    assert load_host_settings(app, environ={}).durable_task.connection_name == "Old"


@pytest.mark.parametrize(
    ("durable", "message"),
    [
        (
            {"storageProvider": {"partitionCount": "x"}},
            "host.json: extensions.durableTask.storageProvider.partitionCount must be an "
            "integer from 1 to 16, got 'x'",
        ),
        (
            {"storageProvider": {"partitionCount": 17}},
            "storageProvider.partitionCount must be an integer from 1 to 16, got 17",
        ),
        (
            {"storageProvider": {"maxQueuePollingInterval": "soon"}},
            "storageProvider.maxQueuePollingInterval must be a positive TimeSpan",
        ),
        ({"hubName": "1bad"}, "host.json: extensions.durableTask.hubName must be 3-50"),
        ({"hubName": "ab"}, "extensions.durableTask.hubName must be 3-50"),
        ({"hubName": "has-dash"}, "use a name like 'hasdash'"),
        ({"extendedSessionsEnabled": "yes"}, "extendedSessionsEnabled must be true or false"),
        ({"storageProvider": []}, "extensions.durableTask.storageProvider must be a JSON object"),
        ({"hubName": 5}, "extensions.durableTask.hubName must be a string"),
    ],
)
def test_invalid_fields_name_file_and_field(
    tmp_path: Path, durable: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_host_settings(write_host(tmp_path, durable), environ={})
    assert message in str(info.value)


def test_version_required(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "1.0"}')
    with pytest.raises(ConfigurationError, match=r'host.json: version must be "2.0"'):
        load_host_settings(tmp_path, environ={})


def test_bad_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"host\.json not found"):
        load_host_settings(tmp_path, environ={})
    (tmp_path / "host.json").write_text('{"version": "2.0",')
    with pytest.raises(ConfigurationError, match=r"host.json: not valid JSON .* line 1"):
        load_host_settings(tmp_path, environ={})


def test_hub_name_from_site_name_and_app_setting_reference(tmp_path: Path) -> None:
    app = write_host(tmp_path)
    assert load_host_settings(app, {"WEBSITE_SITE_NAME": "my-app-01"}).durable_task.hub_name == (
        "myapp01"
    )
    # The extension's default names for sites it would otherwise refuse (issue 27, item 8).
    for site, hub in (("1app", "t1app"), ("ab", "abHub"), ("", "DefaultTaskHub")):
        settings = load_host_settings(app, {"WEBSITE_SITE_NAME": site})
        assert settings.durable_task.hub_name == hub
    assert load_host_settings(app, {}).durable_task.hub_name == "TestHubName"
    write_host(tmp_path, {"hubName": "H" + "a" * 49})
    assert load_host_settings(app, {}).durable_task.hub_name == "H" + "a" * 49
    write_host(tmp_path, {"hubName": "%MyHub%"})
    assert load_host_settings(app, {"MyHub": "FromSetting"}).durable_task.hub_name == (
        "FromSetting"
    )
    with pytest.raises(ConfigurationError, match="refers to the app setting %MyHub%"):
        load_host_settings(app, {})


def test_environment_overrides_host_json(tmp_path: Path) -> None:
    app = write_host(tmp_path, {"hubName": "FileHub", "storageProvider": {"partitionCount": 2}})
    env = {
        "AzureFunctionsJobHost__extensions__durableTask__hubName": "EnvHub",
        "AzureFunctionsJobHost__extensions__durableTask__storageProvider__partitionCount": "3",
    }
    dt = load_host_settings(app, env).durable_task
    assert (dt.hub_name, dt.partition_count) == ("EnvHub", 3)


# --------------------------------------------------------------------------- local settings


def test_local_settings_values_and_port(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {"AzureWebJobsStorage": "X", "Number": 5, "Null": None},
                "Host": {"LocalHttpPort": 7072},
            }
        )
    )
    local = load_local_settings(tmp_path)
    assert local.values == {"AzureWebJobsStorage": "X", "Number": "5"}
    assert local.local_http_port == 7072
    assert local.warnings == ()


def test_missing_local_settings_falls_back_to_sample_with_warning(tmp_path: Path) -> None:
    (tmp_path / "local.settings.sample.json").write_text(
        json.dumps({"Values": {"AzureWebJobsStorage": DEVELOPMENT_STORAGE, "A": "1"}})
    )
    local = load_local_settings(tmp_path)
    assert local.values["A"] == "1"
    assert local.source == tmp_path / "local.settings.sample.json"
    assert len(local.warnings) == 1
    assert "local.settings.json not found" in local.warnings[0]
    assert "local.settings.sample.json" in local.warnings[0]


def test_no_local_settings_at_all_uses_development_storage(tmp_path: Path) -> None:
    local = load_local_settings(tmp_path)
    assert local.values["AzureWebJobsStorage"] == DEVELOPMENT_STORAGE
    assert local.source is None
    assert "Azurite" in local.warnings[0]


def test_encrypted_or_malformed_local_settings(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text('{"IsEncrypted": true, "Values": {}}')
    with pytest.raises(ConfigurationError, match="IsEncrypted is true"):
        load_local_settings(tmp_path)
    path.write_text("{")
    with pytest.raises(ConfigurationError, match=r"local\.settings\.json: not valid JSON"):
        load_local_settings(tmp_path)


def test_export_values_never_overrides_environment() -> None:
    env = {"AzureWebJobsStorage": "from-env"}
    skipped = export_values({"AzureWebJobsStorage": "from-file", "Other": "1"}, env)
    assert env == {"AzureWebJobsStorage": "from-env", "Other": "1"}
    assert skipped == ["AzureWebJobsStorage"]


def test_resolve_connection_string() -> None:
    assert resolve_connection_string("Storage", {"AzureWebJobsStorage": "a"}) == "a"
    assert resolve_connection_string("My", {"ConnectionStrings:My": "b", "My": "c"}) == "b"
    assert resolve_connection_string("My", {"My": "c"}) == "c"
    with pytest.raises(ConfigurationError, match="set AzureWebJobsStorage"):
        resolve_connection_string("Storage", {})


def test_http_settings_default_async_sleep(tmp_path: Path) -> None:
    default = load_host_settings(write_host(tmp_path), environ={}).durable_task
    assert default.http_async_sleep_default == timedelta(seconds=30)
    durable = {"httpSettings": {"defaultAsyncRequestSleepTimeMilliseconds": 250}}
    dt = load_host_settings(write_host(tmp_path, durable), environ={}).durable_task
    assert dt.http_async_sleep_default == timedelta(milliseconds=250)


def test_a_misspelled_durable_task_key_is_a_warning_with_the_closest_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    durable = {"hubNmae": "MyOrdersHub", "storageProvider": {"partitionCont": 2}}
    with caplog.at_level("WARNING"):
        settings = load_host_settings(write_host(tmp_path, durable), environ={})
    # The real host ignores unknown keys, so does durable_host: the default hub is used.
    assert settings.durable_task.hub_name == "TestHubName"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "host.json: extensions.durableTask.hubNmae is not a setting the Durable extension "
        "reads; it is ignored (as the real host ignores it). Did you mean 'hubName'?",
        "host.json: extensions.durableTask.storageProvider.partitionCont is not a setting the "
        "Durable extension reads; it is ignored (as the real host ignores it). Did you mean "
        "'partitionCount'?",
    ]


def test_a_durable_functions_1x_key_is_a_warning_naming_where_2x_reads_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A 1.x host.json's durableTask section: on main the first had no hint, the second
    # suggested nothing useful.
    durable = {"AzureStorageConnectionStringName": "OrdersStorage", "PartitionCount": 2}
    with caplog.at_level("WARNING"):
        load_host_settings(write_host(tmp_path, durable), environ={})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    ignored = "is not a setting the Durable extension reads; it is ignored (as the real host "
    assert warnings == [
        f"host.json: extensions.durableTask.AzureStorageConnectionStringName {ignored}"
        "ignores it). It is the Durable Functions 1.x name: write "
        "storageProvider.connectionName (`durable-host durable` still reads it, as Core "
        "Tools' `func durable` does).",
        f"host.json: extensions.durableTask.PartitionCount {ignored}ignores it). Durable "
        "Functions 1.x read it here; 2.x reads storageProvider.partitionCount.",
    ]


def test_known_durable_task_keys_in_any_case_give_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    durable = {
        "HUBNAME": "MyHub1",
        "maxConcurrentEntityFunctions": 4,
        "tracing": {},
        "storageProvider": {"type": "azureStorage", "useTablePartitionManagement": True},
    }
    with caplog.at_level("WARNING"):
        load_host_settings(write_host(tmp_path, durable), environ={})
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


@pytest.mark.parametrize("provider", ["mssql", "Netherite"])
def test_another_storage_provider_is_refused(tmp_path: Path, provider: str) -> None:
    durable = {"storageProvider": {"type": provider, "connectionStringName": "SQLDB"}}
    with pytest.raises(ConfigurationError) as info:
        load_host_settings(write_host(tmp_path, durable), environ={})
    message = str(info.value)
    assert f"extensions.durableTask.storageProvider.type is '{provider}'" in message
    assert "Azure Storage provider only" in message
