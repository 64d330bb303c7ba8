"""`durable-host durable` for a `func durable` user (issue 26, item 12): what a script written
against Core Tools' DurableManager (azure-functions-core-tools 3ee97a6) depends on: the
output shape, where the connection string is looked up, and the options it passes.

No host runs: the commands work on storage alone (instances stay Pending).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from durable_host.cli import main

pytestmark = pytest.mark.usefixtures("restore_environ", "no_storage_env")

# DTFx's OrchestrationState as Json.NET writes it: [DataMember] fields, then properties.
CORE_TOOLS_FIELDS = [
    "CompletedTime",
    "CompressedSize",
    "CreatedTime",
    "Input",
    "LastUpdatedTime",
    "Name",
    "OrchestrationInstance",
    "OrchestrationStatus",
    "Output",
    "ParentInstance",
    "Size",
    "Status",
    "Tags",
    "Version",
    "Generation",
    "ScheduledStartTime",
    "FailureDetails",
]
PENDING = 6


def make_app(folder: Path, durable_task: dict[str, Any], values: dict[str, str] | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    durable_task = {"hubName": "ct" + uuid.uuid4().hex[:12], **durable_task}
    host = {"version": "2.0", "extensions": {"durableTask": durable_task}}
    (folder / "host.json").write_text(json.dumps(host))
    if values is not None:
        (folder / "local.settings.json").write_text(json.dumps({"Values": values}))
    return folder


def durable(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["durable", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_storage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AzureWebJobsStorage", "OrdersStorage", "ORDERSSTORAGE"):
        monkeypatch.delenv(name, raising=False)


def test_get_runtime_status_and_get_instances_print_the_orchestration_state_as_core_tools(
    tmp_path: Path, azurite: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path / "app", {}, {"AzureWebJobsStorage": azurite})
    where = ("--app-dir", str(app))
    code, _, err = durable(
        capsys, "start-new", "--function-name", "hello", "--id", "ct-1", "--input", '"ada"', *where
    )
    assert code == 0, err

    # FluentCommandLineParser's booleans: on/off and 1/0 beside true/false.
    code, out, err = durable(
        capsys, "get-runtime-status", "--id", "ct-1", "--show-input", "on", "--show-output", "1",
        *where,
    )  # fmt: skip
    assert code == 0, err
    state = json.loads(out)
    assert list(state) == CORE_TOOLS_FIELDS
    assert state["OrchestrationStatus"] == PENDING  # the enum's number (Pending)
    assert state["CompletedTime"] == "0001-01-01T00:00:00"  # default(DateTime): not completed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", state["CreatedTime"])
    assert state["OrchestrationInstance"] == {
        "InstanceId": "ct-1",
        "ExecutionId": state["OrchestrationInstance"]["ExecutionId"],
    }
    assert json.loads(json.loads(state["Input"])) == "ada"
    code, out, _ = durable(
        capsys, "get-runtime-status", "--id", "ct-1", "--show-input", "0", *where
    )
    assert json.loads(out)["Input"] is None

    code, out, err = durable(capsys, "get-instances", *where)
    assert code == 0, err
    listed = json.loads(out[: out.rindex("]") + 1])
    assert [list(i) for i in listed] == [CORE_TOOLS_FIELDS]
    assert listed[0]["OrchestrationStatus"] == PENDING
    assert out.splitlines()[-1] == "Continuation token for next set of results: ''"

    # Enum.Parse: the number, and names separated by spaces in one argument.
    for statuses in (["6"], ["running pending"], ["Running", "6"]):
        code, out, err = durable(capsys, "get-instances", "--runtime-status", *statuses, *where)
        assert code == 0, err
        assert len(json.loads(out[: out.rindex("]") + 1])) == 1, statuses
    code, _, err = durable(capsys, "get-instances", "--runtime-status", "9", *where)
    assert code == 1
    assert "Unknown runtime status '9'; use one of Running (0), Completed (1)," in err


def test_no_connection_configured_is_an_error_not_an_empty_azurite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No local.settings.json, nothing in the environment: on main an Azurite was started and
    # the list was empty; Core Tools says "No storage connection string found." (exit 1).
    app = make_app(tmp_path / "app", {}, None)
    code, out, err = durable(capsys, "get-instances", "--app-dir", str(app))
    assert (code, out) == (1, "")
    assert err.startswith("error: No storage connection string found")
    assert not (app / ".azurite").exists()


def test_the_connection_setting_is_looked_up_as_core_tools_does(
    tmp_path: Path,
    azurite: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(tmp_path / "app", {}, {"OrdersStorage": azurite})
    where = ("--app-dir", str(app))
    # The name as given, matched case-insensitively in local.settings.json's Values.
    code, out, err = durable(
        capsys, "get-instances", "--connection-string-setting", "ordersstorage", *where
    )
    assert code == 0, err
    assert out.splitlines()[0] == "[]"

    # Not AzureWebJobs<name> first: on main `Storage` found AzureWebJobsStorage.
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    code, out, err = durable(
        capsys, "get-instances", "--connection-string-setting", "Storage", *where
    )
    assert code == 1
    assert "No storage connection string found: no setting 'Storage'" in err
    assert "AzureWebJobsStorage is set: pass --connection-string-setting AzureWebJobsStorage" in err


def test_host_json_names_the_connection_setting_as_in_core_tools(
    tmp_path: Path, azurite: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # durableTask.AzureStorageConnectionStringName (the 1.x key DurableManager reads); on main
    # it was ignored and the command looked for AzureWebJobsStorage.
    app = make_app(
        tmp_path / "app",
        {"AzureStorageConnectionStringName": "OrdersStorage"},
        {"OrdersStorage": azurite},
    )
    code, out, err = durable(capsys, "get-instances", "--app-dir", str(app))
    assert code == 0, err
    assert out.splitlines()[0] == "[]"


def test_script_root_and_prefix_name_the_app_and_the_base_of_input_files(
    tmp_path: Path,
    azurite: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(tmp_path / "app", {}, {"AzureWebJobsStorage": azurite})
    (app / "order.json").write_text('{"orderId": "A-1"}')
    monkeypatch.chdir(tmp_path)
    code, _, err = durable(
        capsys, "start-new", "--function-name", "process_order", "--id", "sr-1",
        "--input", "@order.json", "--script-root", "app",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = durable(
        capsys, "get-runtime-status", "--id", "sr-1", "--show-input", "--prefix", "app"
    )
    assert code == 0, err
    assert json.loads(json.loads(json.loads(out)["Input"])) == {"orderId": "A-1"}
    code, _, err = durable(capsys, "get-instances", "--script-root", "nowhere")
    assert code == 1
    assert err.strip() == f'error: "{tmp_path / "nowhere"}" doesn\'t exist.'
