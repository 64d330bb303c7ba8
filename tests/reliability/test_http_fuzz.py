"""The Durable HTTP API against bad input: docs/openapi.yaml fuzzed with schemathesis.

A real `python -m durable_host start` (loopback only) serves the repository's app; every
generated request must get an answer below 500 within the timeout, and the host must still
be running afterwards. Examples are bounded and derandomized, so a run is short and repeatable.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.transport import Response

from tests.conftest import PROJECT_DIR
from tests.e2e.host_process import HostProcess

pytestmark = pytest.mark.azurite

SCHEMA_PATH = Path(PROJECT_DIR) / "docs" / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(SCHEMA_PATH)
WEBHOOK = "/runtime/webhooks/durabletask"
EXAMPLES_PER_OPERATION = 25
REQUEST_TIMEOUT = 20.0
# Requests sent by the fuzz test; docs/reliability.md quotes the figure.
SENT: list[str] = []


@pytest.fixture(scope="module")
def fuzz_host(azurite: str) -> Iterator[HostProcess]:
    process = HostProcess(PROJECT_DIR, storage=azurite, hub_name="fuzz" + _suffix()).start()
    try:
        yield process
        assert process.process.poll() is None, f"the host died:\n{process.output}"
    finally:
        code = process.stop()
    assert code == 0, f"the host exited with {code} on SIGTERM:\n{process.output}"


def _suffix() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


def loopback(host: HostProcess) -> str:
    # The banner says localhost; the host listens on 127.0.0.1 only.
    return host.base_url.replace("://localhost:", "://127.0.0.1:")


def documented_server_error(case: schemathesis.Case[Any], response: Response) -> bool:
    """The only 500 the API gives on purpose: the caller asked for it on a Failed instance."""
    if response.status_code != 500 or case.operation.label != "GET /instances/{instanceId}":
        return False
    asked = str((case.query or {}).get("returnInternalServerErrorOnFailure")).lower() == "true"
    return asked and response.json().get("runtimeStatus") == "Failed"


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gets_a_server_error(case: schemathesis.Case[Any], fuzz_host: HostProcess) -> None:
    SENT.append(case.operation.label)
    response = case.call(base_url=loopback(fuzz_host) + WEBHOOK, timeout=REQUEST_TIMEOUT)
    assert response.status_code < 500 or documented_server_error(case, response), (
        f"{case.method} {response.request.url} -> {response.status_code}: {response.text[:500]}"
    )


def test_the_fuzzer_sent_requests_to_every_operation(fuzz_host: HostProcess) -> None:
    operations = {result.ok().label for result in SCHEMA.get_all_operations()}  # type: ignore[union-attr]
    assert set(SENT) == operations
    assert len(SENT) >= 2 * len(operations)
    print(f"\nfuzzed {len(SENT)} requests over {len(operations)} operations")
    assert fuzz_host.process.poll() is None


# --------------------------------------------------------------------------- targeted bad input


def raw_exchange(host: HostProcess, head: str) -> str:
    """Send a request head only, as a client announcing a huge body would; return the answer."""
    address = urlsplit(loopback(host))
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head.encode("ascii"))
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, _, body = data.partition(b"\r\n\r\n")
        lengths = [
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ]
        while len(body) < (lengths[0] if lengths else 0):
            body += sock.recv(65536)
    return (header + b"\r\n\r\n" + body).decode("utf-8", "replace")


@pytest.mark.parametrize(
    "path", [WEBHOOK + "/orchestrators/process_order", "/api/orchestrators/process_order"]
)
def test_an_oversize_body_is_refused_with_413_before_it_is_read(
    fuzz_host: HostProcess, path: str
) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 104857601\r\n\r\n"
    )
    answer = raw_exchange(fuzz_host, head)
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert "larger than the host's limit of 104857600 bytes" in answer


@pytest.mark.parametrize("char", ["/", "\\", "#", "?"])
def test_instance_ids_with_reserved_characters_are_refused(
    fuzz_host: HostProcess, char: str
) -> None:
    instance_id = quote(f"order{char}1", safe="")
    url = f"{loopback(fuzz_host)}{WEBHOOK}/orchestrators/process_order/{instance_id}"
    response = requests.post(url, json={"orderId": "x"}, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 400, response.text
    assert "must not contain /, \\, #, ?" in response.json()["ExceptionMessage"]
    missing = requests.get(
        f"{loopback(fuzz_host)}{WEBHOOK}/instances/{instance_id}", timeout=REQUEST_TIMEOUT
    )
    assert missing.status_code == 404


def test_unicode_and_escape_characters_round_trip_in_instance_ids(fuzz_host: HostProcess) -> None:
    # '^' is the table key escape character and must survive the escaping unchanged.
    instance_id = "commande-été-注文-^2-😀"
    base = f"{loopback(fuzz_host)}{WEBHOOK}"
    started = requests.post(
        f"{base}/orchestrators/process_order/{quote(instance_id, safe='')}",
        json={"orderId": "x"},
        timeout=REQUEST_TIMEOUT,
    )
    assert started.status_code == 202, started.text
    assert started.json()["id"] == instance_id
    status = requests.get(started.json()["statusQueryGetUri"], timeout=REQUEST_TIMEOUT)
    assert status.status_code in (200, 202), status.text
    assert status.json()["instanceId"] == instance_id
