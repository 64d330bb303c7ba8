"""Entity group transactions (OData `$batch`) written and read here, sent by the SDK's pipeline.

`TableClient.submit_transaction` formats the multipart request and parses the multipart
answer with azure-core's helpers, which go through the standard library's `email` package:
about 7 ms of CPU for a four-row checkpoint on a 2-core machine, the largest single cost of
an orchestration episode (docs/performance.md). The format is small and fixed: one batch
holding one changeset of HTTP requests, answered by one changeset of HTTP responses. So this
module writes and reads it directly. The operations themselves are still built by the SDK
(`TableBatchOperations`: key quoting, EDM type annotations, If-Match headers), and the
request still goes through the table client's pipeline (authentication, retries, transport),
as `submit_transaction` sends it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.data.tables._table_batch import TableBatchOperations
from azure.data.tables.aio import TableClient

from durable_host.taskhub.connections import replay_after_reset

__all__ = [
    "PartResponse",
    "TableBatchError",
    "decode_batch_response",
    "encode_batch",
    "refused",
    "submit_batch",
]

_BOUNDARY = re.compile(r'boundary="?([^";\s]+)"?', re.IGNORECASE)
_STATUS_LINE = re.compile(rb"^HTTP/\d\.\d (\d{3})")


class BatchPart(Protocol):
    """A request inside the batch: azure-core's HttpRequest, or the thin client's own."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def headers(self) -> Any: ...
    @property
    def content(self) -> Any: ...


@dataclass(frozen=True)
class PartResponse:
    """One operation's answer inside a batch response."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class TableBatchError(HttpResponseError):
    """The service refused the transaction; `status_code` and `error_code` are the failing
    operation's, as TableTransactionError's are, so storage_errors() maps both alike."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message=message)
        self.status_code = status
        self.error_code = code


def encode_batch(requests: Sequence[BatchPart], batch_id: str, changeset_id: str) -> bytes:
    """The `$batch` body: one changeset with every request, as `submit_transaction` sends."""
    out: list[str] = [
        f"--batch_{batch_id}\r\n",
        f"Content-Type: multipart/mixed; boundary=changeset_{changeset_id}\r\n\r\n",
    ]
    for number, request in enumerate(requests):
        body = request.content
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if body is not None and not isinstance(body, str):
            raise TypeError(f"a batch operation has a {type(body).__name__} body")
        out.append(
            f"--changeset_{changeset_id}\r\n"
            "Content-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            f"Content-ID: {number}\r\n\r\n"
            f"{request.method} {request.url} HTTP/1.1\r\n"
        )
        for name, value in request.headers.items():
            if name.lower() != "content-length":
                out.append(f"{name}: {value}\r\n")
        if body is not None:
            out.append(f"Content-Length: {len(body.encode('utf-8'))}\r\n\r\n{body}\r\n")
        else:
            out.append("\r\n\r\n")
    out.append(f"--changeset_{changeset_id}--\r\n\r\n--batch_{batch_id}--\r\n")
    return "".join(out).encode("utf-8")


def decode_batch_response(content_type: str, body: bytes) -> list[PartResponse]:
    """Every HTTP response in a multipart answer, in order (changesets are flattened).

    Accepts CRLF (Azure) and bare LF (Azurite) line ends.
    """
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ValueError(f"the batch response has no multipart boundary ({content_type!r})")
    delimiter = b"--" + match.group(1).encode("ascii")
    parts: list[PartResponse] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        headers, payload = _split_head(_drop_line_end(chunk))
        kind = headers.get("content-type", "").lower()
        if kind.startswith("multipart/mixed"):
            parts.extend(decode_batch_response(headers["content-type"], payload))
        elif kind.startswith("application/http"):
            parts.append(_http_response(payload))
    return parts


async def submit_batch(table: TableClient, operations: Iterable[Any]) -> list[dict[str, str]]:
    """`table.submit_transaction(operations)`, without azure-core's multipart helpers.

    Returns one `{"etag": ...}` per operation (empty for deletes), as the SDK does. Raises
    TableBatchError for a refused transaction and HttpResponseError for a refused request.
    """
    builder = TableBatchOperations(
        config=table._client._config,  # the SDK's own submit_transaction builds it so
        endpoint=f"{table.scheme}://{table._primary_hostname}",
        table_name=table.table_name,
        is_cosmos_endpoint=table._cosmos_endpoint,
    )
    for operation in operations:
        builder.add_operation(operation)
    if not builder.requests:
        return []
    batch_id, changeset_id = uuid.uuid4(), uuid.uuid4()
    request = HttpRequest(
        method="POST",
        url=f"{table.scheme}://{table._primary_hostname}/$batch",
        headers={
            "x-ms-version": table.api_version,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary=batch_{batch_id}",
            "Accept": "application/json",
        },
        content=encode_batch(builder.requests, str(batch_id), str(changeset_id)),
    )

    async def send() -> tuple[Any, bytes]:
        response = await table._client.send_request(request, stream=True)
        return response, await response.read()

    # Safe to replay: see connections.py (every history batch is ETag-guarded).
    response, body = await replay_after_reset(send, what=f"write a batch to {table.table_name}")
    if response.status_code != 202:
        error = HttpResponseError(response=response)
        # Table errors are OData v3 bodies, which azure-core does not read: take the header's.
        code = getattr(error, "error_code", None) or response.headers.get("x-ms-error-code")
        error.error_code = code  # type: ignore[attr-defined]
        raise error
    try:
        parts = decode_batch_response(response.headers.get("Content-Type", ""), body)
    except ValueError as exc:
        raise TableBatchError(
            response.status_code, None, f"unreadable batch answer: {exc}"
        ) from exc
    for part in parts:
        if not 200 <= part.status < 300:
            raise refused(part)
    if len(parts) != len(builder.requests):
        raise TableBatchError(
            response.status_code,
            None,
            f"the batch answered {len(parts)} operations of {len(builder.requests)}",
        )
    return [{"etag": p.headers["etag"]} if "etag" in p.headers else {} for p in parts]


def _drop_line_end(chunk: bytes) -> bytes:
    """The rest of the delimiter line."""
    if chunk.startswith(b"\r\n"):
        return chunk[2:]
    if chunk.startswith(b"\n"):
        return chunk[1:]
    return chunk


def _split_head(data: bytes) -> tuple[dict[str, str], bytes]:
    """Header lines up to the first empty line, and what follows it."""
    crlf, lf = data.find(b"\r\n\r\n"), data.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf <= lf):
        head, rest = data[:crlf], data[crlf + 4 :]
    elif lf != -1:
        head, rest = data[:lf], data[lf + 2 :]
    else:
        head, rest = data, b""
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _http_response(payload: bytes) -> PartResponse:
    line_end = payload.find(b"\n")
    status_line = payload[: line_end if line_end != -1 else len(payload)]
    match = _STATUS_LINE.match(status_line)
    if match is None:
        raise ValueError(f"a batch part has no HTTP status line ({status_line[:60]!r})")
    headers, body = _split_head(payload[line_end + 1 :] if line_end != -1 else b"")
    return PartResponse(int(match.group(1)), headers, body.rstrip(b"\r\n"))


def refused(part: PartResponse) -> TableBatchError:
    code: str | None = part.headers.get("x-ms-error-code")
    message = part.body.decode("utf-8", "replace")[:200]
    try:
        error = json.loads(part.body)["odata.error"]
        code = str(error["code"])
        message = str(error["message"]["value"]).splitlines()[0]
    except (ValueError, KeyError, TypeError):
        pass  # not the OData error body: keep the header's code and the raw text
    return TableBatchError(part.status, code, f"{code or part.status}: {message}")
