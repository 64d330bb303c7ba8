"""The host process as an operator sees it: banner, Ctrl-C/SIGTERM with work in flight, restart."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import aiohttp
from azure.data.tables import TableServiceClient

from tests.conftest import PROJECT_DIR
from tests.e2e.conftest import new_hub_name
from tests.e2e.host_process import STOP_DEADLINE, HostProcess
from tests.e2e.user import start, wait_for_status, wait_until_done


def test_banner_lists_the_functions_and_the_hub(host: HostProcess) -> None:
    port = host.base_url.rsplit(":", 1)[1]
    assert host.base_url == f"http://localhost:{port}"
    output = host.output
    assert (
        f"start_orchestration: [POST] http://localhost:{port}/api/orchestrators/"
        "{functionName}/{instanceId?}" in output
    )
    assert f"record_metric: [POST] http://localhost:{port}/api/metrics/{{key}}" in output
    for line in (
        "process_order: orchestrationTrigger [1.x JSON]",
        "expense_approval: orchestrationTrigger",
        "charge_payment: activityTrigger",
        "metric: entityTrigger",
        f"Task hub: {host.hub_name}",
    ):
        assert line in output


async def test_work_in_flight_survives_a_stop_and_completes_on_the_next_host(
    azurite: str, http: aiohttp.ClientSession
) -> None:
    hub = new_hub_name()
    first = HostProcess(PROJECT_DIR, storage=azurite, hub_name=hub).start()
    try:
        request = {"dataset": "inventory", "rows": 5000, "stepDelaySeconds": 3}
        started = await start(http, first.base_url, "export_report", request)
        # The second step has run and a 3 s durable timer is pending when the host stops.
        await wait_for_status(
            http,
            started["statusQueryGetUri"],
            lambda _, body: (body["customStatus"] or {}).get("stage") == "transform",
        )
    finally:
        code = first.stop()
    assert code == 0, first.output
    assert "Stopping the host (finishing in-flight work)..." in first.output

    second = HostProcess(PROJECT_DIR, storage=azurite, hub_name=hub).start()
    try:
        status_url = started["statusQueryGetUri"].replace(first.base_url, second.base_url)
        body = await wait_until_done(http, {"statusQueryGetUri": status_url}, timeout=60)
        assert body["runtimeStatus"] == "Completed", body
        assert body["output"]["dataset"] == "inventory"
        assert body["output"]["rows"] == 5000 - 5000 // 97
        # Only the remaining step ran on the second host: extract and transform were done.
        assert re.search(r"Executed 'Functions\.run_export_step' \(Succeeded", second.output)
        assert second.output.count("Executed 'Functions.run_export_step'") == 1
    finally:
        assert second.stop() == 0, second.output


def test_ctrl_c_stops_the_host_cleanly(azurite: str) -> None:
    process = HostProcess(PROJECT_DIR, storage=azurite, hub_name=new_hub_name()).start()
    process.process.send_signal(signal.SIGINT)
    assert process.stop(timeout=STOP_DEADLINE) == 0, process.output
    assert "Stopping the host" in process.output


def test_a_busy_port_is_a_clear_error_before_the_task_hub_is_touched(
    azurite: str, host: HostProcess
) -> None:
    port = host.base_url.rsplit(":", 1)[1]
    hub = new_hub_name()
    busy = HostProcess(PROJECT_DIR, storage=azurite, hub_name=hub)
    command = [sys.executable, "-m", "durable_host", "start", "--app-dir", str(PROJECT_DIR)]
    result = subprocess.run(
        [*command, "--port", port, "--host", "127.0.0.1"],
        env=busy.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    with TableServiceClient.from_connection_string(azurite) as tables:
        assert not list(tables.query_tables(f"TableName eq '{hub}Instances'"))
