"""OData filters for the Instances table: the text, and what Azurite returns for it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord
from durable_host.taskhub.odata import (
    datetime_literal,
    instances_filter,
    prefix_range,
    string_literal,
)
from durable_host.taskhub.storage import TaskHubStorage

T0 = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc)
RUNNING = OrchestrationStatus.Running
FAILED = OrchestrationStatus.Failed


def test_a_quote_in_a_value_is_doubled() -> None:
    assert string_literal("o'neil") == "'o''neil'"
    assert string_literal("''") == "''''''"
    assert prefix_range("Name", "it's") == "Name ge 'it''s' and Name lt 'it''t'"


def test_times_are_utc_literals() -> None:
    assert datetime_literal(T0) == "datetime'2025-03-04T05:06:07.890000Z'"
    two_hours_east = T0.astimezone(timezone(timedelta(hours=2)))
    assert datetime_literal(two_hours_east) == datetime_literal(T0)


def test_an_instance_id_prefix_is_matched_on_the_escaped_key() -> None:
    # '/' is stored as '^0' (key_escaping.py), so the range is over the escaped text.
    assert (
        instances_filter(instance_id_prefix="a/b")
        == "PartitionKey ge 'a^0b' and PartitionKey lt 'a^0c'"
    )


def test_no_condition_is_no_filter() -> None:
    assert instances_filter() is None
    assert instances_filter(statuses=frozenset(), instance_id_prefix="", name_prefix="") is None


def test_every_condition_in_one_filter() -> None:
    text = instances_filter(
        statuses=frozenset({RUNNING, FAILED}),
        created_from=T0,
        created_to=T0,
        instance_id_prefix="x'",
        name_prefix="Hel",
        updated_from=T0,
        orchestrations_only=True,
    )
    stamp = "datetime'2025-03-04T05:06:07.890000Z'"
    assert text == (
        "(RuntimeStatus eq 'Failed' or RuntimeStatus eq 'Running')"
        f" and CreatedTime ge {stamp} and CreatedTime le {stamp}"
        " and PartitionKey ge 'x''' and PartitionKey lt 'x('"
        " and Name ge 'Hel' and Name lt 'Hem'"
        f" and LastUpdatedTime ge {stamp}"
        " and (PartitionKey lt '@' or PartitionKey ge 'A')"
    )


def _record(instance_id: str, name: str, status: OrchestrationStatus) -> InstanceRecord:
    return InstanceRecord(
        instance_id=instance_id,
        name=name,
        runtime_status=status,
        created_time=T0,
        last_updated_time=T0,
    )


async def test_azurite_returns_what_the_filters_say(hub_storage: TaskHubStorage) -> None:
    rows = [
        _record("o'neil-1", "it's", RUNNING),
        _record("o'neil-2", "other", FAILED),
        _record("o'neim", "it's", RUNNING),
        _record("a/b-1", "plain", RUNNING),
        _record("@counter@k", "counter", RUNNING),
    ]
    for row in rows:
        await hub_storage.insert_instance(row)

    async def ids(**conditions: object) -> list[str]:
        found, _ = await hub_storage.query_instances(
            instances_filter(**conditions),  # type: ignore[arg-type]
            top=100,
            continuation_token=None,
        )
        return sorted(r.instance_id for r in found)

    assert await ids(instance_id_prefix="o'neil") == ["o'neil-1", "o'neil-2"]
    assert await ids(name_prefix="it'") == ["o'neil-1", "o'neim"]
    assert await ids(instance_id_prefix="a/") == ["a/b-1"]
    assert await ids(statuses=frozenset({FAILED})) == ["o'neil-2"]
    assert await ids(instance_id_prefix="@") == ["@counter@k"]
    assert "@counter@k" not in await ids(orchestrations_only=True)
    assert await ids(updated_from=T0 + timedelta(seconds=1)) == []
