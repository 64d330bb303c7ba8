"""Azurite's table store answers the same with the lookup patch (durable_host/server/patches,
applied by `npm ci`; see docs/azurite-tables.md): point reads, writes and deletes start from
the PartitionKey index, and queries that pin one partition start from that partition.

The data set has the task hub's shapes: many partitions sharing the same RowKeys (History),
and many partitions whose only RowKey is "" (Instances). Every answer is compared with the
same question asked of the data set in Python.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

PROJECT_DIR = Path(__file__).resolve().parents[2]
GENERATOR = (
    PROJECT_DIR / "node_modules/azurite/dist/src/table/persistence/LokiTableStoreQueryGenerator.js"
)

PARTITIONS = [f"p{i:02d}" for i in range(25)]
ROW_KEYS = [f"r{i:02d}" for i in range(12)]
INSTANCES = [f"i{i:02d}" for i in range(10)]

Key = tuple[str, str]


def _data_set() -> dict[Key, dict[str, Any]]:
    rows: dict[Key, dict[str, Any]] = {}
    for p, pk in enumerate(PARTITIONS):
        for r, rk in enumerate(ROW_KEYS):
            rows[pk, rk] = {"PartitionKey": pk, "RowKey": rk, "Value": f"{pk}/{rk}", "N": p * r}
    for n, pk in enumerate(INSTANCES):
        rows[pk, ""] = {"PartitionKey": pk, "RowKey": "", "Value": f"{pk}/", "N": n}
    return rows


@pytest.fixture
async def table(azurite: str, hub_name: str) -> AsyncIterator[TableClient]:
    async with TableServiceClient.from_connection_string(azurite) as service:
        client = await service.create_table(hub_name + "Tables")
        by_partition: dict[str, list[dict[str, Any]]] = {}
        for row in _data_set().values():
            by_partition.setdefault(row["PartitionKey"], []).append(row)
        for rows in by_partition.values():
            await client.submit_transaction([("create", row) for row in rows])
        try:
            yield client
        finally:
            await service.delete_table(client.table_name)


def _plain(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: entity[k] for k in ("PartitionKey", "RowKey", "Value", "N")}


async def _query(
    table: TableClient, query: str, per_page: int | None = None
) -> list[dict[str, Any]]:
    pages = table.query_entities(query, results_per_page=per_page).by_page()
    return [_plain(entity) async for page in pages async for entity in page]


def _expected(predicate: Any) -> list[dict[str, Any]]:
    rows = [row for row in _data_set().values() if predicate(row)]
    return sorted(rows, key=lambda row: (row["PartitionKey"], row["RowKey"]))


async def test_point_reads_find_each_entity_among_identical_row_keys(table: TableClient) -> None:
    for (pk, rk), row in _data_set().items():
        assert _plain(await table.get_entity(pk, rk)) == row
    with pytest.raises(ResourceNotFoundError):
        await table.get_entity("p99", ROW_KEYS[0])
    with pytest.raises(ResourceNotFoundError):
        await table.get_entity(PARTITIONS[0], "r99")


async def test_merge_update_and_delete_touch_only_their_partition(table: TableClient) -> None:
    expected = _data_set()
    await table.update_entity(
        {"PartitionKey": "p07", "RowKey": "r03", "Value": "merged"}, mode=UpdateMode.MERGE
    )
    expected["p07", "r03"]["Value"] = "merged"
    await table.update_entity(
        {"PartitionKey": "i04", "RowKey": "", "Value": "replaced", "N": -1},
        mode=UpdateMode.REPLACE,
    )
    expected["i04", ""].update(Value="replaced", N=-1)
    await table.upsert_entity(
        {"PartitionKey": "p11", "RowKey": "r03", "N": 1000}, mode=UpdateMode.MERGE
    )
    expected["p11", "r03"]["N"] = 1000
    await table.delete_entity("p08", "r03")
    del expected["p08", "r03"]
    await table.delete_entity("i05", "")
    del expected["i05", ""]

    with pytest.raises(ResourceNotFoundError):
        await table.get_entity("p08", "r03")
    with pytest.raises(ResourceNotFoundError):
        await table.update_entity({"PartitionKey": "p08", "RowKey": "r03", "N": 1})
    with pytest.raises(ResourceExistsError):
        await table.create_entity({"PartitionKey": "p09", "RowKey": "r03"})
    await table.create_entity({"PartitionKey": "p08", "RowKey": "r03", "Value": "again", "N": 0})
    expected["p08", "r03"] = {"PartitionKey": "p08", "RowKey": "r03", "Value": "again", "N": 0}

    assert await _query(table, "") == sorted(
        expected.values(), key=lambda row: (row["PartitionKey"], row["RowKey"])
    )


async def test_a_stale_etag_and_a_failed_batch_leave_the_entity_as_it_was(
    table: TableClient,
) -> None:
    first = await table.get_entity("p12", "r05")
    await table.update_entity(
        {"PartitionKey": "p12", "RowKey": "r05", "N": 1}, mode=UpdateMode.MERGE
    )
    with pytest.raises(ResourceModifiedError):
        await table.update_entity(
            {"PartitionKey": "p12", "RowKey": "r05", "N": 2},
            mode=UpdateMode.MERGE,
            etag=first.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    # The batch merges r00 then fails on r01 (exists): the rollback looks r00 up again.
    with pytest.raises(TableTransactionError):
        await table.submit_transaction(
            [
                (
                    "update",
                    {"PartitionKey": "p13", "RowKey": "r00", "Value": "x"},
                    {"mode": "merge"},
                ),
                ("create", {"PartitionKey": "p13", "RowKey": "r01"}),
            ]
        )
    assert (await table.get_entity("p12", "r05"))["N"] == 1
    assert _plain(await table.get_entity("p13", "r00")) == _data_set()["p13", "r00"]
    assert _plain(await table.get_entity("p14", "r00")) == _data_set()["p14", "r00"]


QUERIES: list[tuple[str, Any]] = [
    ("PartitionKey eq 'p07'", lambda r: r["PartitionKey"] == "p07"),
    ("'p07' eq PartitionKey", lambda r: r["PartitionKey"] == "p07"),
    ("PartitionKey eq 'i03'", lambda r: r["PartitionKey"] == "i03"),
    ("PartitionKey eq 'nowhere'", lambda r: False),
    (
        "PartitionKey eq 'p07' and RowKey ge 'r05'",
        lambda r: r["PartitionKey"] == "p07" and r["RowKey"] >= "r05",
    ),
    (
        "RowKey eq 'r03' and PartitionKey eq 'p07'",
        lambda r: (r["PartitionKey"], r["RowKey"]) == ("p07", "r03"),
    ),
    (
        "PartitionKey eq 'p07' and (RowKey eq 'r01' or RowKey eq 'r10')",
        lambda r: r["PartitionKey"] == "p07" and r["RowKey"] in ("r01", "r10"),
    ),
    (
        "N gt 20 and (RowKey lt 'r03' and PartitionKey eq 'p20')",
        lambda r: r["N"] > 20 and r["RowKey"] < "r03" and r["PartitionKey"] == "p20",
    ),
    (
        "PartitionKey eq 'p07' or PartitionKey eq 'p08'",
        lambda r: r["PartitionKey"] in ("p07", "p08"),
    ),
    (
        # 'and' binds tighter: an 'or' at the top level, so no single partition.
        "PartitionKey eq 'p07' and RowKey eq 'r01' or RowKey eq 'r02'",
        lambda r: (r["PartitionKey"], r["RowKey"]) == ("p07", "r01") or r["RowKey"] == "r02",
    ),
    ("not (PartitionKey eq 'p07')", lambda r: r["PartitionKey"] != "p07"),
    (
        "PartitionKey ne 'p07' and RowKey eq 'r04'",
        lambda r: r["PartitionKey"] != "p07" and r["RowKey"] == "r04",
    ),
    (
        "PartitionKey eq 'p07' and PartitionKey eq 'p08'",
        lambda r: False,
    ),
    ("RowKey eq ''", lambda r: r["RowKey"] == ""),
]


@pytest.mark.parametrize(("query", "predicate"), QUERIES, ids=[q for q, _ in QUERIES])
async def test_queries_answer_as_the_filter_reads(
    table: TableClient, query: str, predicate: Any
) -> None:
    assert await _query(table, query) == _expected(predicate)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("PartitionKey eq 'p07'", lambda r: r["PartitionKey"] == "p07"),
        ("RowKey eq 'r03' or RowKey eq ''", lambda r: r["RowKey"] in ("r03", "")),
        (
            "PartitionKey ge 'p05' and PartitionKey lt 'p09'",
            lambda r: "p05" <= r["PartitionKey"] < "p09",
        ),
        ("", lambda r: True),
    ],
)
async def test_continuation_tokens_page_through_partitions(
    table: TableClient, query: str, predicate: Any
) -> None:
    expected = _expected(predicate)
    pages = table.query_entities(query, results_per_page=5).by_page()
    seen = [[_plain(entity) async for entity in page] async for page in pages]
    assert len(seen) >= len(expected) // 5 > 1
    assert [row for page in seen for row in page] == expected


def _pinned(filters: list[str]) -> list[str | None]:
    script = (
        "const g = require(process.argv[1]).default;"
        "const filters = JSON.parse(process.argv[2]);"
        "console.log(JSON.stringify(filters.map((f) => g.partitionKeyPinnedBy(f) ?? null)));"
    )
    result = subprocess.run(
        ["node", "-e", script, str(GENERATOR), json.dumps(filters)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    ids: list[str | None] = json.loads(result.stdout)
    return ids


def test_the_patched_azurite_knows_which_filters_pin_one_partition() -> None:
    cases = {
        "PartitionKey eq 'a'": "a",
        "'a' eq PartitionKey": "a",
        "RowKey eq 'b' and PartitionKey eq 'a'": "a",
        "(PartitionKey eq 'it''s') and (RowKey gt '')": "it's",
        "X eq 1 and (Y eq 2 and PartitionKey eq '')": "",
        "PartitionKey eq 'a' or RowKey eq 'b'": None,
        "PartitionKey eq 'a' and RowKey eq 'b' or RowKey eq 'c'": None,
        "not (PartitionKey eq 'a')": None,
        "PartitionKey ne 'a'": None,
        "PartitionKey ge 'a'": None,
        "PartitionKey eq 5": None,
        "partitionkey eq 'a'": None,
        "": None,
        "PartitionKey eq": None,
    }
    assert dict(zip(cases, _pinned(list(cases)), strict=True)) == cases


async def test_point_operations_in_a_long_partition_find_the_row_by_its_row_key(
    azurite: str, hub_name: str
) -> None:
    # One partition longer than any RowKey is repeated (History of a fan-out): the lookup
    # starts from the RowKey index and must still check the partition; "1" and "01" compare
    # equal as numbers in LokiJS's index but are different keys.
    async with TableServiceClient.from_connection_string(azurite) as service:
        table = await service.create_table(hub_name + "Long")
        try:
            long_keys = [f"r{i:02d}" for i in range(40)] + ["1", "01"]
            await table.submit_transaction(
                [("create", {"PartitionKey": "long", "RowKey": k, "V": k}) for k in long_keys]
            )
            for pk in ("a", "b"):
                await table.submit_transaction(
                    [("create", {"PartitionKey": pk, "RowKey": k, "V": pk}) for k in ("x1", "r03")]
                )
            for key in long_keys:
                assert (await table.get_entity("long", key))["V"] == key
            with pytest.raises(ResourceNotFoundError):
                await table.get_entity("long", "x1")
            assert (await table.get_entity("b", "r03"))["V"] == "b"
            await table.update_entity(
                {"PartitionKey": "long", "RowKey": "01", "V": "m"}, mode=UpdateMode.MERGE
            )
            assert (await table.get_entity("long", "1"))["V"] == "1"
            assert (await table.get_entity("long", "01"))["V"] == "m"
            with pytest.raises(ResourceExistsError):
                await table.create_entity({"PartitionKey": "long", "RowKey": "r03"})
            await table.create_entity({"PartitionKey": "c", "RowKey": "r03", "V": "c"})
            await table.delete_entity("long", "r03")
            with pytest.raises(ResourceNotFoundError):
                await table.get_entity("long", "r03")
            assert [(await table.get_entity(pk, "r03"))["V"] for pk in "abc"] == ["a", "b", "c"]
        finally:
            await service.delete_table(table.table_name)
