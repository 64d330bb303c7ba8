"""`durable-host durable <command>`: every `func durable` command against a real task hub.

A host runs the standalone app on one hub (the commands manage what it runs); a second hub
has no host at all, to show the commands work on storage alone.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from durable_host.cli import main
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.names import TaskHubNames
from tests.e2e.host_process import HostProcess

STANDALONE_APP = Path(__file__).resolve().parents[1] / "apps" / "standalone"
DEADLINE = 60.0
# Statuses print as the enum's number, as in Core Tools.
_FINAL = {OrchestrationStatus[n].value for n in ("Completed", "Failed", "Terminated", "Canceled")}


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def new_hub() -> str:
    return "cli" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> Path:
    """The app with its own host.json (naming the hub) and local.settings.json (the storage)."""
    folder = tmp_path_factory.mktemp("app")
    shutil.copy(STANDALONE_APP / "function_app.py", folder / "function_app.py")
    hub = {"version": "2.0", "extensions": {"durableTask": {"hubName": new_hub()}}}
    (folder / "host.json").write_text(json.dumps(hub))
    settings = {"Values": {"AzureWebJobsStorage": azurite, "FUNCTIONS_WORKER_RUNTIME": "python"}}
    (folder / "local.settings.json").write_text(json.dumps(settings))
    return folder


@pytest.fixture(scope="module")
def host(app_dir: Path, azurite: str) -> Iterator[HostProcess]:
    hub = json.loads((app_dir / "host.json").read_text())["extensions"]["durableTask"]["hubName"]
    process = HostProcess(app_dir, storage=azurite, hub_name=hub).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def durable(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    def run(command: str, *options: str) -> Run:
        capsys.readouterr()
        code = main(["durable", command, "--app-dir", str(app_dir), *options])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def wait_for_state(
    durable: Callable[..., Run],
    instance_id: str,
    done: Callable[[dict[str, Any]], bool],
    *extra: str,
) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while True:
        run = durable("get-runtime-status", "--id", instance_id, "--show-output", *extra)
        assert run.code == 0, run.err
        state: dict[str, Any] = json.loads(run.out)
        if done(state):
            return state
        if state["OrchestrationStatus"] in _FINAL:
            history = durable("get-history", "--id", instance_id).out
            raise AssertionError(f"the instance ended unexpectedly: {state}\n{history}")
        assert time.monotonic() < deadline, f"no matching state within {DEADLINE}s: {state}"
        time.sleep(0.1)


def status_is(*names: str) -> Callable[[dict[str, Any]], bool]:
    numbers = {OrchestrationStatus[name].value for name in names}
    return lambda state: state["OrchestrationStatus"] in numbers


def test_start_new_get_runtime_status_and_get_history(
    durable: Callable[..., Run], host: HostProcess
) -> None:
    started = durable("start-new", "--function-name", "hello", "--id", "hi-1", "--input", '"ada"')
    assert started.code == 0, started.err
    assert started.out.startswith("Started 'hello' at ")
    assert started.out.rstrip().endswith("Instance ID: 'hi-1'.")

    state = wait_for_state(durable, "hi-1", status_is("Completed"))
    assert state["Name"] == "hello"
    assert state["OrchestrationInstance"]["InstanceId"] == "hi-1"
    assert json.loads(state["Output"]) == "Hello ada!"
    assert state["Input"] is None  # only with --show-input, as in Core Tools
    with_input = durable("get-runtime-status", "--id", "hi-1", "--show-input", "true")
    # The stored input, as the Python SDK's client stores it: the JSON text as a JSON string.
    assert json.loads(json.loads(with_input.json["Input"])) == "ada"
    assert with_input.json["Output"] is None

    history = durable("get-history", "--id", "hi-1")
    assert history.code == 0, history.err
    types = [event["EventType"] for event in json.loads(history.out)]
    assert types[0] == "ExecutionStarted"  # chronological, as Core Tools sorts it
    for expected in ("ExecutionStarted", "TaskScheduled", "TaskCompleted", "ExecutionCompleted"):
        assert expected in types
    assert types.index("TaskScheduled") < types.index("TaskCompleted")


def test_raise_event_with_data_from_a_file(
    durable: Callable[..., Run], host: HostProcess, tmp_path: Path
) -> None:
    assert durable("start-new", "--function-name", "wait_for_approval", "--id", "ev-1").code == 0
    wait_for_state(durable, "ev-1", lambda s: s["Status"] == '"waiting"')
    data = tmp_path / "decision.json"
    data.write_text('{"approved": true, "by": "lena"}')

    raised = durable(
        "raise-event", "--id", "ev-1", "--event-name", "Approval", "--event-data", f"@{data}"
    )
    assert raised.code == 0, raised.err
    assert raised.out.strip() == "Raised event 'Approval' to instance 'ev-1'."
    state = wait_for_state(durable, "ev-1", status_is("Completed"))
    assert json.loads(state["Output"]) == {"decision": {"approved": True, "by": "lena"}}


def test_suspend_resume_then_terminate(durable: Callable[..., Run], host: HostProcess) -> None:
    assert durable("start-new", "--function-name", "wait_for_approval", "--id", "sr-1").code == 0
    wait_for_state(durable, "sr-1", lambda s: s["Status"] == '"waiting"')

    suspended = durable("suspend", "--id", "sr-1", "--reason", "lunch")
    assert suspended.out.strip() == "Sent a suspend message to instance 'sr-1'."
    wait_for_state(durable, "sr-1", status_is("Suspended"))
    resumed = durable("resume", "--id", "sr-1", "--reason", "back")
    assert resumed.code == 0, resumed.err
    wait_for_state(durable, "sr-1", status_is("Running"))

    terminated = durable("terminate", "--id", "sr-1", "--reason", "no longer needed")
    assert terminated.code == 0, terminated.err
    assert terminated.out.splitlines()[-1] == "Successfully terminated 'sr-1'"
    state = wait_for_state(durable, "sr-1", status_is("Terminated"))
    assert state["Output"] == "no longer needed"  # the reason is the output, as in DTFx

    again = durable("terminate", "--id", "sr-1")
    assert again.code == 1
    assert "already Terminated" in again.err


def test_rewind_a_failed_instance(
    durable: Callable[..., Run], host: HostProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "ready"
    started = durable(
        "start-new", "--function-name", "flaky", "--id", "rw-1", "--input", json.dumps(str(marker))
    )
    assert started.code == 0, started.err
    failed = wait_for_state(durable, "rw-1", status_is("Failed"))
    assert "does not exist yet" in failed["Output"]
    marker.write_text("now it does")

    rewound = durable("rewind", "--id", "rw-1", "--reason", "file is there now")
    assert rewound.code == 0, rewound.err
    assert rewound.out.splitlines() == [
        "Rewind message sent to instance 'rw-1'.",
        "Status before rewind: Failed",
        "Status after rewind: Pending",
    ]
    state = wait_for_state(durable, "rw-1", status_is("Completed"))
    assert json.loads(state["Output"]) == "found"


def test_commands_on_a_hub_no_host_runs(
    durable: Callable[..., Run], azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--task-hub-name and --connection-string-setting (from the environment) pick the hub;
    start-new, get-instances, terminate, purge-history and delete-task-hub need no host."""
    hub = new_hub()
    monkeypatch.setenv("OTHER_STORAGE", azurite)
    where = ("--task-hub-name", hub, "--connection-string-setting", "OTHER_STORAGE")
    for n in range(3):
        assert durable("start-new", "--function-name", "hello", "--id", f"p-{n}", *where).code == 0

    first = durable("get-instances", "--top", "2", "--json", *where)
    assert first.code == 0, first.err
    token = first.json["continuationToken"]
    assert len(first.json["instances"]) == 2 and token
    second = durable("get-instances", "--top", "2", "--continuation-token", token, *where)
    assert second.out.splitlines()[-1] == "Continuation token for next set of results: ''"
    printed = json.loads(second.out[: second.out.rindex("]") + 1])
    listed = first.json["instances"] + printed
    assert sorted(i["OrchestrationInstance"]["InstanceId"] for i in listed) == ["p-0", "p-1", "p-2"]
    assert {i["OrchestrationStatus"] for i in first.json["instances"]} == {"Pending"}  # --json
    assert {i["OrchestrationStatus"] for i in printed} == {6}  # as Core Tools prints it

    def count(*filters: str) -> int:
        return len(durable("get-instances", "--json", *filters, *where).json["instances"])

    assert count("--runtime-status", "pending") == 3
    assert count("--runtime-status", "completed", "failed") == 0
    assert count("--created-after", "2999-01-01T00:00:00Z") == 0
    assert count("--created-before", "2999-01-01T00:00:00Z") == 3

    queued = durable("terminate", "--id", "p-0", "--timeout", "0", *where)
    assert queued.out.strip() == "Sent a termination message to instance 'p-0'."
    waited = durable("terminate", "--id", "p-1", "--timeout", "0.5", *where)
    assert waited.code == 1
    assert "did not terminate within 0.5 seconds" in waited.err

    purged = durable("purge-history", "--runtime-status", "pending", *where)
    assert purged.code == 0, purged.err
    assert "whose runtime status matched one of the following: [Pending]" in purged.out
    assert purged.out.splitlines()[-1] == "Instances deleted: 3"
    assert count() == 0

    deleted = durable("delete-task-hub", *where)
    assert deleted.out.strip() == f"Task hub '{hub}' successfully deleted."
    assert not _hub_tables_exist(azurite, hub)


def _hub_tables_exist(connection: str, hub: str) -> bool:
    from azure.data.tables import TableServiceClient

    names = TaskHubNames(hub, 4)
    with TableServiceClient.from_connection_string(connection) as service:
        tables = {t.name for t in service.list_tables()}
    return names.instances_table in tables or names.history_table in tables


def test_errors_exit_non_zero_with_a_message(
    durable: Callable[..., Run], host: HostProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = durable("get-runtime-status", "--id", "nobody")
    assert missing.code == 1
    assert "Could not find an orchestration instance with id 'nobody'" in missing.err
    assert durable("get-history", "--id", "nobody").code == 1
    assert "No instance with ID 'nobody'" in durable("raise-event", "--id", "nobody").err

    bad_status = durable("get-instances", "--runtime-status", "sleepy")
    assert bad_status.code == 1
    assert "Unknown runtime status 'sleepy'" in bad_status.err
    no_file = durable("start-new", "--function-name", "hello", "--input", "@/no/such.json")
    assert no_file.code == 1
    assert "Could not find input file at '/no/such.json'" in no_file.err

    monkeypatch.delenv("NO_SUCH_SETTING", raising=False)
    unset = durable("get-instances", "--connection-string-setting", "NO_SUCH_SETTING")
    assert unset.code == 1
    assert "No storage connection string found" in unset.err
    assert "NO_SUCH_SETTING" in unset.err
