"""`entity_json` writes the text the tables SDK's serializer and `json.dumps` write (the oracle)."""

from __future__ import annotations

import enum
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.data.tables import EdmType, EntityProperty, TableEntity
from azure.data.tables._serialize import _add_entity_properties
from hypothesis import given, settings
from hypothesis import strategies as st

from durable_host.taskhub.entity_json import entity_json
from durable_host.taskhub.events import (
    ExecutionStarted,
    OrchestrationInstance,
    OrchestrationStatus,
    TaskScheduled,
)
from durable_host.taskhub.history_rows import event_to_row
from durable_host.taskhub.instances import InstanceRecord, instance_merge_row

UTC = timezone.utc


class Color(enum.Enum):
    RED = "red"


class Text(str):
    pass


def _sdk(entity: Any) -> str:
    return json.dumps(_add_entity_properties(entity))


def _same(entity: Any) -> None:
    try:
        expected = _sdk(entity)
    except Exception as exc:  # the SDK refuses some values: the same error here
        with pytest.raises(type(exc)):
            entity_json(entity)
        return
    assert entity_json(entity) == expected


VALUES = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.sampled_from(["", "é", "\u2028", '\x00\x1f"\\/', "\ud800", "😀"]),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**31) - 2, max_value=2**31 + 1),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(1100, 1, 1), timezones=st.just(UTC)
    ),
    st.datetimes(timezones=st.sampled_from([timezone(timedelta(hours=5)), timezone.utc])),
    st.binary(max_size=8),
    st.uuids(),
    st.just(Color.RED),
    st.builds(Text, st.text(max_size=4)),
    st.builds(lambda v: EntityProperty(v, EdmType.INT64), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: (v, "Edm.String"), st.text(max_size=4)),
)
NAMES = st.one_of(
    st.text(min_size=1, max_size=12), st.sampled_from(["PartitionKey", "RowKey", "é"])
)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=8))
def test_any_entity_is_written_as_the_sdk_writes_it(entity: dict[str, Any]) -> None:
    _same(entity)


def test_naive_and_non_utc_times_and_early_years_are_the_sdks() -> None:
    for value in (
        datetime(2024, 3, 1, 10, 0, 0, 123456),
        datetime(2024, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=-3))),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    ):
        _same({"T": value})


def test_a_table_entity_keeps_the_sdks_text() -> None:
    entity = TableEntity(PartitionKey="p", RowKey="r", Name="x")
    _same(entity)


def test_the_hosts_own_rows_are_written_as_the_sdk_writes_them() -> None:
    now = datetime(2026, 12, 7, 21, 10, 0, 600987, tzinfo=UTC)
    instance = OrchestrationInstance(instance_id="i d", execution_id="e")
    events = [
        ExecutionStarted(
            event_id=-1, timestamp=now, orchestration_instance=instance, name="n", input='"é"'
        ),
        TaskScheduled(event_id=0, timestamp=now, name="noop", input='["1"]'),
    ]
    for index, event in enumerate(events):
        _same(event_to_row(event, instance_id="i d", execution_id="e", index=index))
    record = InstanceRecord(
        instance_id="i d", name="n", runtime_status=OrchestrationStatus.Running,
        created_time=now, last_updated_time=now, execution_id="e", input='"x"', tags={"a": "b"},
    )  # fmt: skip
    _same(record.to_row())
    _same(instance_merge_row("i d", runtime_status=OrchestrationStatus.Completed, output="1"))


def test_a_uuid_key_and_an_unsupported_value() -> None:
    _same({"Id": uuid.UUID(int=5)})
    _same({"Bad": object()})
