"""The replayer on histories the engine recorded: every orchestrator of the app replays ok;
changed copies of an orchestrator are non-deterministic at the right event and source line."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from durable_host.cli import main
from durable_host.history_check import Verdict
from durable_host.history_check.recorded import read_recorded
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.names import TaskHubNames
from durable_host.taskhub.storage import TaskHubStorage
from durable_host.testing import replay_history
from tests.history_check.conftest import PARTITIONS, PROJECT_DIR, RecordedHub

pytestmark = pytest.mark.usefixtures("restore_environ")

ORCHESTRATORS = {
    "process_order",
    "process_order_batch",
    "analyze_documents",
    "export_report",
    "monitor_build",
    "metrics_report",
    "metrics_rollup",
    "expense_approval",
}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def hub_arguments(recorded: RecordedHub) -> tuple[str, ...]:
    return ("--connection", recorded.connection, "--hub", recorded.hub)


def app_arguments(recorded: RecordedHub) -> tuple[str, ...]:
    return (*hub_arguments(recorded), "--app-dir", str(PROJECT_DIR))


def export(capsys: pytest.CaptureFixture[str], hub: RecordedHub, instance_id: str) -> Any:
    code, out = run_cli(capsys, "export", *hub_arguments(hub), "--instance", instance_id)
    assert code == 0
    return json.loads(out)


def test_every_recorded_instance_replays_ok(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(capsys, "replay", *app_arguments(recorded), "--all", "--format", "json")
    reports = json.loads(out)
    assert code == 0, out
    assert {r["verdict"] for r in reports} == {"ok"}
    assert {r["name"] for r in reports} == ORCHESTRATORS
    # The batch's sub-orchestrations are instances of their own, replayed too.
    assert {r["instanceId"] for r in reports} >= {*recorded.statuses, "batch:order:B-1"}
    assert set(recorded.statuses.values()) == {"Completed", "Failed", "Running"}


def test_replay_by_status_and_by_instance(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = app_arguments(recorded)
    code, out = run_cli(capsys, "replay", *hub, "--status", "Running,Pending")
    assert code == 0
    assert out.splitlines() == ["expense-waiting (expense_approval): ok"]
    code, out = run_cli(capsys, "replay", *hub, "--instance", "order-ok", "--instance", "rollup")
    assert code == 0
    assert out.splitlines() == ["order-ok (process_order): ok", "rollup (metrics_rollup): ok"]


def test_an_exported_history_replays_through_replay_history(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = export(capsys, recorded, "expense-decided")
    assert document["instanceId"] == "expense-decided"
    assert document["name"] == "expense_approval"
    path = tmp_path / "history.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    report = replay_history(path, app_dir=PROJECT_DIR)
    assert report.verdict is Verdict.OK, report.describe()
    assert replay_history(document, app_dir=PROJECT_DIR).ok


async def test_replay_history_works_inside_a_running_event_loop(recorded: RecordedHub) -> None:
    names = TaskHubNames(recorded.hub, PARTITIONS)
    async with TaskHubStorage(recorded.connection, names) as storage:
        document = (await read_recorded(storage, "order-ok")).to_document()
    assert replay_history(document, app_dir=PROJECT_DIR).ok


# --------------------------------------------------------------------------- changed code

VALIDATE = '    valid = yield context.call_activity("validate_order", order)\n'
PRICE = '    priced = yield context.call_activity("price_order", valid)\n'
TIMER = "    yield context.create_timer(context.current_utc_datetime)\n"
CHARGE = (
    "    payment = yield context.call_activity_with_retry("
    '"charge_payment", PAYMENT_RETRY, reserved)\n'
)


def _reordered(text: str) -> tuple[str, str]:
    swapped = PRICE.replace("valid)", "order)") + VALIDATE.replace("order)", "priced)")
    return text.replace(VALIDATE + PRICE, swapped), PRICE.replace("valid)", "order)")


def _removed(text: str) -> tuple[str, str]:
    return text.replace(PRICE, "    priced = valid\n"), "reserved = yield"


def _renamed(text: str) -> tuple[str, str]:
    renamed = VALIDATE.replace("validate_order", "check_order")
    return text.replace(VALIDATE, renamed), renamed


def _timer_added(text: str) -> tuple[str, str]:
    return text.replace(VALIDATE, VALIDATE + TIMER), TIMER


def _last_removed(text: str) -> tuple[str, str]:
    return text.replace(CHARGE, '    payment = {"paymentId": "none"}\n'), "reserved = yield"


# edit, (expected, got) at the recorded sequence id
CHANGES = {
    "calls reordered": (
        _reordered,
        0,
        "call_activity('validate_order')",
        "call_activity('price_order')",
    ),
    "activity removed": (
        _removed,
        1,
        "call_activity('price_order')",
        "call_activity('reserve_stock')",
    ),
    "activity renamed": (
        _renamed,
        0,
        "call_activity('validate_order')",
        "call_activity('check_order')",
    ),
    "timer added": (_timer_added, 1, "call_activity('price_order')", "create_timer(...)"),
    "last activity removed": (_last_removed, 3, "call_activity('charge_payment')", "nothing"),
}


def changed_app(tmp_path: Path, edit: Any) -> tuple[Path, int]:
    """A copy of the app with orchestrators/chaining.py edited; returns it and the line of
    the statement the divergence must point at."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(PROJECT_DIR / "function_app.py", app)
    shutil.copy(PROJECT_DIR / "host.json", app)
    for package in ("orchestrators", "activities", "entities"):
        shutil.copytree(PROJECT_DIR / package, app / package)
    chaining = app / "orchestrators" / "chaining.py"
    original = chaining.read_text(encoding="utf-8")
    text, marker = edit(original)
    assert text != original, "the edit did not apply"
    chaining.write_text(text, encoding="utf-8")
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if marker.strip() in ln)
    return app, line


def test_an_unchanged_copy_replays_ok(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app, _ = changed_app(tmp_path, lambda text: (text + "\n", "def process_order"))
    assert replay_history(export(capsys, recorded, "order-ok"), app_dir=app).ok


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_changed_orchestrator_is_non_deterministic_at_the_right_event(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str], tmp_path: Path, change: str
) -> None:
    edit, seq, expected, got = CHANGES[change]
    document = export(capsys, recorded, "order-ok")
    app, line = changed_app(tmp_path, edit)

    report = replay_history(document, app_dir=app)

    assert report.verdict is Verdict.NON_DETERMINISTIC, report.describe()
    divergence = report.divergence
    assert divergence is not None
    assert (divergence.sequence_id, divergence.expected) == (seq, expected)
    assert divergence.got.startswith(got)
    event = document["history"][divergence.event_index]
    assert (event["EventType"], event["EventId"]) == (4, seq)  # the recorded TaskScheduled
    assert divergence.source is not None
    assert (divergence.source.path, divergence.source.line) == ("orchestrators/chaining.py", line)


def test_code_that_now_raises_fails_to_replay_with_the_exception(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def boom(text: str) -> tuple[str, str]:
        return text.replace(PRICE, PRICE + '    raise RuntimeError("boom")\n'), PRICE

    app, _ = changed_app(tmp_path, boom)
    report = replay_history(export(capsys, recorded, "order-ok"), app_dir=app)
    assert report.verdict is Verdict.FAILED
    assert report.error == "The orchestrator raised: Exception: boom"


def test_a_renamed_orchestrator_fails_to_replay(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def rename(text: str) -> tuple[str, str]:
        return text.replace("def process_order(", "def process_purchase("), "def process_purchase"

    app, _ = changed_app(tmp_path, rename)
    report = replay_history(export(capsys, recorded, "order-ok"), app_dir=app)
    assert report.verdict is Verdict.FAILED
    assert report.error is not None
    assert "The function 'process_order' doesn't exist" in report.error


def test_pending_instances_have_nothing_to_replay(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str]
) -> None:
    async def insert_pending() -> None:
        names = TaskHubNames(recorded.hub, PARTITIONS)
        async with TaskHubStorage(recorded.connection, names) as storage:
            await storage.insert_instance(
                InstanceRecord(
                    instance_id="pending-1",
                    name="process_order",
                    runtime_status=OrchestrationStatus.Pending,
                )
            )

    asyncio.run(insert_pending())
    hub = app_arguments(recorded)
    code = main(["replay", *hub, "--status", "Pending"])
    out, err = capsys.readouterr()
    assert (code, out) == (0, "")
    assert "pending-1: no history yet, skipped" in err
    assert "0 instance(s) replayed" in err
    assert main(["replay", *hub, "--instance", "pending-1"]) == 2
    assert "No history for instance 'pending-1'" in capsys.readouterr().err


def test_the_replay_command_exits_1_and_shows_where_the_code_differs(
    recorded: RecordedHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app, line = changed_app(tmp_path, _timer_added)
    argv = ["replay", *hub_arguments(recorded), "--instance", "order-ok", "--app-dir", str(app)]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "order-ok (process_order): non-deterministic",
        "  at history event #6, sequence id 1: expected call_activity('price_order'), "
        "got create_timer(...)",
        f"    at orchestrators/chaining.py:{line}: {TIMER.strip()}",
    ]
    assert "1 instance(s) replayed: 0 ok, 1 non-deterministic, 0 failed to replay." in err


def test_in_the_app_folder_replay_and_export_read_the_hub_and_storage_from_its_settings(
    recorded: RecordedHub,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    restore_environ: None,
) -> None:
    # As `durable-host durable` does: host.json names the hub (through an app setting here),
    # local.settings.json holds the connection string; no --connection, no --hub.
    app, _ = changed_app(tmp_path, lambda text: (text + "\n", "def process_order"))
    host = json.loads((app / "host.json").read_text())
    host["extensions"]["durableTask"]["hubName"] = "%REPLAY_HUB%"
    (app / "host.json").write_text(json.dumps(host))
    values = {"AzureWebJobsStorage": recorded.connection, "REPLAY_HUB": recorded.hub}
    (app / "local.settings.json").write_text(json.dumps({"Values": values}))
    monkeypatch.chdir(app)

    code, out = run_cli(capsys, "export", "--instance", "order-ok")
    assert code == 0
    assert json.loads(out)["instanceId"] == "order-ok"
    code, out = run_cli(capsys, "replay", "--instance", "order-ok")
    assert (code, out) == (0, "order-ok (process_order): ok\n")
