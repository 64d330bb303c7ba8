"""Entity group transactions written and read without azure-core's multipart helpers.

The format tests need no storage: the standard library's email parser (what azure-core
uses) is the oracle for what we write, and answers captured from Azure and Azurite are
what we read. The Azurite tests check the service accepts our batches and that refusals
keep their status and code.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.data.tables import UpdateMode
from azure.data.tables._table_batch import TableBatchOperations
from azure.data.tables.aio import TableClient, TableServiceClient

from durable_host.errors import CheckpointConflictError
from durable_host.taskhub.storage_errors import storage_errors
from durable_host.taskhub.table_batch import (
    TableBatchError,
    decode_batch_response,
    encode_batch,
    submit_batch,
)

ACCOUNT = "http://127.0.0.1:10002/devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
OFFLINE = (
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
    f"TableEndpoint={ACCOUNT};"
)


def _sdk_requests(operations: list[Any]) -> list[Any]:
    table = TableClient.from_connection_string(OFFLINE, "History")
    builder = TableBatchOperations(
        config=table._client._config,
        endpoint=f"{table.scheme}://{table._primary_hostname}",
        table_name=table.table_name,
        is_cosmos_endpoint=False,
    )
    for operation in operations:
        builder.add_operation(operation)
    return list(builder.requests)


def test_the_body_is_one_changeset_of_the_sdk_requests_as_the_email_parser_reads_it() -> None:
    requests = _sdk_requests(
        [
            ("upsert", {"PartitionKey": "o'k", "RowKey": "0000000000000000", "Name": "é"}),
            ("create", {"PartitionKey": "o'k", "RowKey": "sentinel"}),
            ("delete", {"PartitionKey": "o'k", "RowKey": "0000000000000001"}),
        ]
    )
    body = encode_batch(requests, "b1", "c1")

    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: multipart/mixed; boundary=batch_b1\r\n\r\n" + body
    )
    (changeset,) = message.iter_parts()
    assert changeset.get_content_type() == "multipart/mixed"
    assert changeset.get_boundary() == "changeset_c1"
    parts = list(changeset.iter_parts())
    assert [p["Content-ID"] for p in parts] == ["0", "1", "2"]
    assert {p["Content-Type"] for p in parts} == {"application/http"}
    assert {p["Content-Transfer-Encoding"] for p in parts} == {"binary"}
    for part, request in zip(parts, requests, strict=True):
        raw = part.get_payload(decode=True)
        assert isinstance(raw, bytes)
        head, _, content = raw.partition(b"\r\n\r\n")
        request_line, *header_lines = head.decode().split("\r\n")
        assert request_line == f"{request.method} {request.url} HTTP/1.1"
        headers = dict(line.split(": ", 1) for line in header_lines)
        assert request.headers, "the SDK's request has no headers to compare"
        for name, value in request.headers.items():
            assert headers[name] == value
        if request.content is None:
            assert content.strip() == b""
            assert "Content-Length" not in headers
        else:
            assert content.rstrip(b"\r\n") == request.content.encode()
            assert int(headers["Content-Length"]) == len(request.content.encode())
            assert json.loads(content)["PartitionKey"] == "o'k"


AZURE_ANSWER = (
    b"--batchresponse_1\r\n"
    b"Content-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    b"--changesetresponse_2\r\n"
    b"Content-Type: application/http\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
    b"Cache-Control: no-cache\r\n"
    b"DataServiceVersion: 1.0;\r\n"
    b"ETag: W/\"datetime'2026-11-29T05%3A51%3A22.7149247Z'\"\r\n\r\n\r\n"
    b"--changesetresponse_2\r\n"
    b"Content-Type: application/http\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 201 Created\r\n"
    b"Location: https://a.table.core.windows.net/History(PartitionKey='x',RowKey='sentinel')\r\n"
    b"ETag: W/\"datetime'2026-11-29T05%3A51%3A22.7149260Z'\"\r\n\r\n\r\n"
    b"--changesetresponse_2--\r\n"
    b"--batchresponse_1--\r\n"
)


def test_an_azure_answer_with_crlf_lines_gives_each_status_and_etag() -> None:
    parts = decode_batch_response("multipart/mixed; boundary=batchresponse_1", AZURE_ANSWER)
    assert [p.status for p in parts] == [204, 201]
    assert parts[0].headers["etag"] == "W/\"datetime'2026-11-29T05%3A51%3A22.7149247Z'\""
    assert parts[1].headers["etag"].endswith("7149260Z'\"")
    assert parts[1].body == b""


def test_an_azurite_answer_with_bare_lf_lines_reads_the_same() -> None:
    lf_answer = AZURE_ANSWER.replace(b"\r\n", b"\n")
    crlf = decode_batch_response("multipart/mixed; boundary=batchresponse_1", AZURE_ANSWER)
    lf = decode_batch_response('multipart/mixed; boundary="batchresponse_1"', lf_answer)
    assert lf == crlf


def test_a_refused_operation_keeps_its_status_code_and_message() -> None:
    answer = (
        b"--batchresponse_9\n"
        b"Content-Type: multipart/mixed; boundary=changesetresponse_8\n\n"
        b"--changesetresponse_8\n"
        b"Content-Type: application/http\n"
        b"Content-Transfer-Encoding: binary\n\n"
        b"HTTP/1.1 412 Precondition Failed\n"
        b"Content-ID: 2\n"
        b"Content-Type: application/json;odata=minimalmetadata;charset=utf-8\n\n"
        b'{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"lang":"en-US",'
        b'"value":"1:The update condition specified in the request was not satisfied.\\n'
        b'RequestId:896ae969"}}}\n'
        b"--changesetresponse_8--\n"
        b"--batchresponse_9--\n"
    )
    (part,) = decode_batch_response("multipart/mixed; boundary=batchresponse_9", answer)
    assert part.status == 412
    assert json.loads(part.body)["odata.error"]["code"] == "UpdateConditionNotSatisfied"


def test_an_answer_without_a_boundary_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="no multipart boundary"):
        decode_batch_response("application/json", b"{}")


def test_a_part_without_a_status_line_is_refused_clearly() -> None:
    answer = (
        b"--batchresponse_1\r\nContent-Type: application/http\r\n\r\n"
        b"garbage\r\n--batchresponse_1--\r\n"
    )
    with pytest.raises(ValueError, match="no HTTP status line"):
        decode_batch_response("multipart/mixed; boundary=batchresponse_1", answer)


# --------------------------------------------------------------------------- on Azurite


@pytest.fixture
async def table(azurite: str) -> AsyncIterator[TableClient]:
    service = TableServiceClient.from_connection_string(azurite)
    name = "batch" + uuid.uuid4().hex[:10]
    client = await service.create_table(name)
    try:
        yield client
    finally:
        await service.delete_table(name)
        await client.close()
        await service.close()


async def test_a_batch_writes_every_row_and_returns_the_etags_the_service_stores(
    table: TableClient,
) -> None:
    when = datetime(2026, 11, 29, 5, 51, 22, 123456, tzinfo=timezone.utc)
    row = {
        "PartitionKey": "it's über",
        "RowKey": "0000000000000000",
        "Text": 'quote " and newline \n',
        "Number": 7,
        "Flag": True,
        "Ratio": 0.5,
        "When": when,
        "Bytes": b"\x00\x01",
    }
    results = await submit_batch(
        table,
        [
            ("upsert", row, {"mode": UpdateMode.REPLACE}),
            ("create", {"PartitionKey": "it's über", "RowKey": "sentinel"}),
        ],
    )

    stored = await table.get_entity("it's über", "0000000000000000")
    sentinel = await table.get_entity("it's über", "sentinel")
    assert [r["etag"] for r in results] == [stored.metadata["etag"], sentinel.metadata["etag"]]
    assert {k: stored[k] for k in ("Text", "Number", "Flag", "Ratio", "Bytes")} == {
        "Text": row["Text"],
        "Number": 7,
        "Flag": True,
        "Ratio": 0.5,
        "Bytes": b"\x00\x01",
    }
    assert stored["When"] == when


async def test_a_stale_etag_is_refused_as_a_conflict(table: TableClient) -> None:
    (created,) = await submit_batch(table, [("create", {"PartitionKey": "p", "RowKey": "s"})])
    await submit_batch(
        table,
        [
            (
                "update",
                {"PartitionKey": "p", "RowKey": "s", "X": 1},
                {"etag": created["etag"], "match_condition": MatchConditions.IfNotModified},
            )
        ],
    )
    stale = [
        ("upsert", {"PartitionKey": "p", "RowKey": "r"}, {"mode": UpdateMode.REPLACE}),
        (
            "update",
            {"PartitionKey": "p", "RowKey": "s", "X": 2},
            {
                "mode": UpdateMode.MERGE,
                "etag": created["etag"],
                "match_condition": MatchConditions.IfNotModified,
            },
        ),
    ]
    with pytest.raises(TableBatchError) as refused:
        await submit_batch(table, stale)
    assert refused.value.status_code == 412
    assert refused.value.error_code == "UpdateConditionNotSatisfied"
    with pytest.raises(CheckpointConflictError), storage_errors("checkpoint", conflict=True):
        await submit_batch(table, stale)
    # Nothing of the refused transaction was applied.
    assert [e["RowKey"] async for e in table.list_entities()] == ["s"]


async def test_creating_an_existing_row_is_refused_as_a_conflict(table: TableClient) -> None:
    await submit_batch(table, [("create", {"PartitionKey": "p", "RowKey": "s"})])
    with pytest.raises(TableBatchError) as refused:
        await submit_batch(table, [("create", {"PartitionKey": "p", "RowKey": "s"})])
    assert refused.value.status_code == 409
    assert refused.value.error_code == "EntityAlreadyExists"


async def test_deletes_return_no_etags_and_remove_the_rows(table: TableClient) -> None:
    rows = [{"PartitionKey": "p", "RowKey": f"{i:016X}"} for i in range(3)]
    await submit_batch(table, [("upsert", r) for r in rows])
    assert await submit_batch(table, [("delete", r) for r in rows]) == [{}, {}, {}]
    assert [e async for e in table.list_entities()] == []


async def test_a_batch_for_a_missing_table_is_an_http_error(azurite: str) -> None:
    async with TableClient.from_connection_string(
        azurite, "nosuchtable" + uuid.uuid4().hex[:6]
    ) as t:
        with pytest.raises(HttpResponseError) as refused:
            await submit_batch(t, [("upsert", {"PartitionKey": "p", "RowKey": "r"})])
    assert refused.value.status_code in (400, 404)
    # The SDK sets error_code on its errors at run time; azure-core does not declare it.
    assert getattr(refused.value, "error_code", None) == "TableNotFound"


async def test_an_empty_batch_sends_nothing(table: TableClient) -> None:
    assert await submit_batch(table, []) == []
