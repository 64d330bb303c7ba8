"""Table entities over the thin REST client: point read, insert, upsert/update, transactions.

Entities are written as the tables SDK's serializer writes them (`entity_json.py`: the same
text) and read with its own (pure) converters, so EDM type annotations and the values a read
returns are exactly the SDK path's; only the request and
its pipeline are this module's. Transactions use `table_batch.py`'s multipart format.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import quote

from azure.data.tables import TableEntity
from azure.data.tables._deserialize import _convert_to_entity

from durable_host.taskhub.entity_json import entity_json
from durable_host.taskhub.rest_client import TABLE_VERSION, RestClient, Service
from durable_host.taskhub.table_batch import (
    TableBatchError,
    decode_batch_response,
    encode_batch,
    refused,
)

__all__ = ["BatchOperation", "BatchVerb", "RestTables"]

_JSON_HEADERS = {
    "DataServiceVersion": "3.0",
    "Content-Type": "application/json;odata=nometadata",
    "Accept": "application/json;odata=minimalmetadata",
}


class BatchVerb(Enum):
    """A write inside a transaction, named as the service's operations."""

    INSERT = "POST"
    INSERT_OR_REPLACE = "PUT"
    INSERT_OR_MERGE = "PATCH"


@dataclass(frozen=True)
class BatchOperation:
    """One write of a transaction; with `etag` (replace/merge), only into that version."""

    verb: BatchVerb
    entity: Mapping[str, Any]
    etag: str | None = None


@dataclass
class _Part:
    """A request inside a `$batch` body (what `encode_batch` reads)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None


def _key(value: str) -> str:
    return quote(value.replace("'", "''"), safe="")


def entity_path(table: str, partition_key: str, row_key: str) -> str:
    return f"{table}(PartitionKey='{_key(partition_key)}',RowKey='{_key(row_key)}')"


def _entity(raw: dict[str, Any]) -> TableEntity:
    # The SDK's own JSON-to-entity reader (typed values, metadata), which it leaves unannotated.
    entity: TableEntity = _convert_to_entity(raw)  # type: ignore[no-untyped-call]
    return entity


def _body(entity: Mapping[str, Any]) -> bytes:
    return entity_json(entity).encode("utf-8")


class RestTables:
    """The entity operations of a host's hot path, for any table of the account."""

    def __init__(self, client: RestClient) -> None:
        self._client = client

    async def get(self, table: str, partition_key: str, row_key: str) -> TableEntity | None:
        response = await self._client.request(
            Service.TABLE,
            "GET",
            entity_path(table, partition_key, row_key),
            headers=_JSON_HEADERS,
            ok=(200, 404),
        )
        if response.status == 404:
            return None
        return _entity(json.loads(response.body))

    async def query(self, table: str, filter_text: str) -> list[TableEntity]:
        """Every entity matching the OData filter, following continuation tokens."""
        entities: list[TableEntity] = []
        query = {"$filter": filter_text}
        while True:
            response = await self._client.request(
                Service.TABLE, "GET", f"{table}()", query=query, headers=_JSON_HEADERS
            )
            entities += [_entity(e) for e in json.loads(response.body)["value"]]
            next_pk = response.headers.get("x-ms-continuation-NextPartitionKey")
            next_rk = response.headers.get("x-ms-continuation-NextRowKey")
            if not next_pk and not next_rk:
                return entities
            query = {"$filter": filter_text, "NextPartitionKey": next_pk or ""}
            if next_rk:
                query["NextRowKey"] = next_rk

    async def insert(self, table: str, entity: Mapping[str, Any]) -> str:
        """Create the row; returns its ETag (409 EntityAlreadyExists when it exists)."""
        response = await self._client.request(
            Service.TABLE,
            "POST",
            table,
            headers={**_JSON_HEADERS, "Prefer": "return-no-content"},
            body=_body(entity),
        )
        return response.headers.get("ETag", "")

    async def write(
        self, table: str, entity: Mapping[str, Any], *, merge: bool, etag: str | None = None
    ) -> str:
        """Replace (PUT) or merge (PATCH) the row; without `etag` it is created if missing.

        With `etag`, only that version of the row is written (412 otherwise, 404 if gone).
        Returns the row's new ETag.
        """
        headers = dict(_JSON_HEADERS)
        if etag is not None:
            headers["If-Match"] = etag
        response = await self._client.request(
            Service.TABLE,
            "PATCH" if merge else "PUT",
            entity_path(table, str(entity["PartitionKey"]), str(entity["RowKey"])),
            headers=headers,
            body=_body(entity),
            replay_on_reset=True,  # the same merge again, or a conditional one that conflicts
        )
        return response.headers.get("ETag", "")

    async def transact(self, table: str, operations: Sequence[BatchOperation]) -> list[str]:
        """One entity group transaction; returns each operation's new ETag, in order.

        A refused transaction raises TableBatchError with the failing operation's status and
        code, as the SDK path does.
        """
        base = self._client.url(Service.TABLE, "")
        parts = [self._part(str(base), table, operation) for operation in operations]
        batch_id, changeset_id = str(uuid.uuid4()), str(uuid.uuid4())
        response = await self._client.request(
            Service.TABLE,
            "POST",
            "$batch",
            headers={
                "DataServiceVersion": "3.0",
                "MaxDataServiceVersion": "3.0;NetFx",
                "Content-Type": f"multipart/mixed; boundary=batch_{batch_id}",
                "Accept": "application/json",
            },
            body=encode_batch(parts, batch_id, changeset_id),
            ok=(202,),
            # Every history transaction carries its sentinel, created or ETag-guarded: a
            # repeat of one that landed conflicts, which the engine handles.
            replay_on_reset=True,
        )
        try:
            answers = decode_batch_response(response.headers.get("Content-Type", ""), response.body)
        except ValueError as exc:
            raise TableBatchError(response.status, None, f"unreadable batch answer: {exc}") from exc
        for answer in answers:
            if not 200 <= answer.status < 300:
                raise refused(answer)
        if len(answers) != len(parts):
            raise TableBatchError(
                response.status, None, f"the batch answered {len(answers)} of {len(parts)}"
            )
        return [answer.headers.get("etag", "") for answer in answers]

    @staticmethod
    def _part(base: str, table: str, operation: BatchOperation) -> _Part:
        entity = operation.entity
        headers = {
            "x-ms-version": TABLE_VERSION,
            "DataServiceVersion": "3.0",
            "Content-Type": "application/json",
            "Accept": "application/json;odata=minimalmetadata",
        }
        if operation.verb is BatchVerb.INSERT:
            headers["Prefer"] = "return-no-content"
            url = f"{base.split('?')[0].rstrip('/')}/{table}"
        else:
            path = entity_path(table, str(entity["PartitionKey"]), str(entity["RowKey"]))
            url = f"{base.split('?')[0].rstrip('/')}/{path}"
        if operation.etag is not None:
            headers["If-Match"] = operation.etag
        content = entity_json(entity)
        return _Part(operation.verb.value, url, headers, content)
