from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from durable_host.errors import MessageFormatError
from durable_host.taskhub.events import OrchestrationStatus
from durable_host.taskhub.instances import InstanceRecord, instance_merge_row

UTC = timezone.utc
CREATED = datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
UPDATED = datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC)
DONE = datetime(2025, 1, 1, 0, 0, 6, tzinfo=UTC)

FULL = InstanceRecord(
    instance_id="orders/42",
    name="hello_chain",
    runtime_status=OrchestrationStatus.Completed,
    version="",
    execution_id="5c2e9f0d6a7b4c1e8f3a2b1c0d9e8f7a",
    input='"World"',
    output='["Hello Tokyo!"]',
    custom_status='{"stage":3}',
    created_time=CREATED,
    last_updated_time=UPDATED,
    completed_time=DONE,
    generation=1,
    tags={"owner": "me"},
    task_hub_name="TestHubName",
)

# Written by hand from docs/task-hub-layout.md §4.
FULL_ROW = {
    "PartitionKey": "orders^042",
    "RowKey": "",
    "Name": "hello_chain",
    "RuntimeStatus": "Completed",
    "Version": "",
    "ExecutionId": "5c2e9f0d6a7b4c1e8f3a2b1c0d9e8f7a",
    "Input": '"World"',
    "Output": '["Hello Tokyo!"]',
    "CustomStatus": '{"stage":3}',
    "CreatedTime": CREATED,
    "LastUpdatedTime": UPDATED,
    "CompletedTime": DONE,
    "Generation": 1,
    "Tags": '{"owner":"me"}',
    "TaskHubName": "TestHubName",
}


def test_to_row_golden() -> None:
    row = FULL.to_row()
    assert row == FULL_ROW
    assert type(row["Generation"]) is int


def test_from_row_golden() -> None:
    assert InstanceRecord.from_row(FULL_ROW) == FULL


def test_pending_row_leaves_unset_columns_out_and_writes_null_custom_status_and_tags() -> None:
    record = InstanceRecord(
        instance_id="abc",
        name="hello",
        runtime_status=OrchestrationStatus.Pending,
        created_time=CREATED,
    )
    assert record.to_row() == {
        "PartitionKey": "abc",
        "RowKey": "",
        "Name": "hello",
        "RuntimeStatus": "Pending",
        "CustomStatus": "null",
        "CreatedTime": CREATED,
        "Generation": 0,
        # SetNewExecutionAsync writes TagsSerializer.Serialize(null) (issue 27, item 7).
        "Tags": "null",
    }
    assert InstanceRecord.from_row(record.to_row()) == record


@pytest.mark.parametrize("status", list(OrchestrationStatus))
def test_every_status_round_trips_by_name(status: OrchestrationStatus) -> None:
    record = InstanceRecord(instance_id="x", name="n", runtime_status=status)
    row = record.to_row()
    assert row["RuntimeStatus"] == status.name
    assert InstanceRecord.from_row(row) == record


def test_blob_name_columns_and_scheduled_start() -> None:
    record = InstanceRecord(
        instance_id="x",
        name="n",
        runtime_status=OrchestrationStatus.Pending,
        scheduled_start_time=DONE,
        input="",
        input_blob_name="x/input.json.gz",
        output_blob_name="x/output.json.gz",
    )
    row = record.to_row()
    assert row["InputBlobName"] == "x/input.json.gz"
    assert row["OutputBlobName"] == "x/output.json.gz"
    assert row["ScheduledStartTime"] == DONE
    assert InstanceRecord.from_row(row) == record


def test_from_row_reads_dotnet_written_row() -> None:
    # As a real provider row comes back: naive UTC datetimes from some readers, a
    # .NET-style Tags $type, string dates, and columns we do not model.
    row = {
        "PartitionKey": "a^1b",
        "RowKey": "",
        "Name": "Hello",
        "RuntimeStatus": "Running",
        "CreatedTime": datetime(2025, 1, 1),
        "LastUpdatedTime": "2025-01-01T00:00:05.0000000Z",
        "Generation": 0,
        "Tags": '{"$type":"System.Collections.Generic.Dictionary`2","k":"v"}',
        "CustomStatus": "null",
        "SomeFutureColumn": 1,
    }
    record = InstanceRecord.from_row(row)
    assert record.instance_id == "a\\b"
    assert record.runtime_status is OrchestrationStatus.Running
    assert record.created_time == datetime(2025, 1, 1, tzinfo=UTC)
    assert record.last_updated_time == UPDATED
    assert record.tags == {"k": "v"}
    assert record.custom_status is None


def test_other_timezones_are_stored_as_utc_and_naive_rejected() -> None:
    plus1 = timezone(timedelta(hours=1))
    record = InstanceRecord(
        instance_id="x",
        name="n",
        runtime_status=OrchestrationStatus.Running,
        created_time=datetime(2025, 1, 1, 1, tzinfo=plus1),
    )
    assert record.to_row()["CreatedTime"] == datetime(2025, 1, 1, tzinfo=UTC)
    assert record.to_row()["CreatedTime"].tzinfo == UTC
    naive = InstanceRecord(
        instance_id="x",
        name="n",
        runtime_status=OrchestrationStatus.Running,
        created_time=datetime(2025, 1, 1),
    )
    with pytest.raises(ValueError, match="naive"):
        naive.to_row()


def test_merge_row_for_a_checkpoint() -> None:
    assert instance_merge_row(
        "abc",
        custom_status=None,
        execution_id="e1",
        last_updated_time=UPDATED,
        task_hub_name="MyHub",
        runtime_status=OrchestrationStatus.Running,
        output=None,
    ) == {
        "PartitionKey": "abc",
        "RowKey": "",
        "CustomStatus": "null",
        "ExecutionId": "e1",
        "LastUpdatedTime": UPDATED,
        "TaskHubName": "MyHub",
        "RuntimeStatus": "Running",
    }


def test_merge_row_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError, match="runtimeStatus"):
        instance_merge_row("abc", runtimeStatus="Running")


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ({"RowKey": "", "RuntimeStatus": "Running"}, "PartitionKey"),
        ({"PartitionKey": "a", "RowKey": "", "RuntimeStatus": "Sleeping"}, "Sleeping"),
        ({"PartitionKey": "a", "RowKey": ""}, "RuntimeStatus"),
        ({"PartitionKey": "a", "RuntimeStatus": "Running", "Generation": "1"}, "Generation"),
        ({"PartitionKey": "a", "RuntimeStatus": "Running", "CreatedTime": "soon"}, "CreatedTime"),
        ({"PartitionKey": "a", "RuntimeStatus": "Running", "Tags": "[1]"}, "Tags"),
    ],
)
def test_bad_rows_name_the_column(row: dict[str, Any], needle: str) -> None:
    with pytest.raises(MessageFormatError, match=needle):
        InstanceRecord.from_row(row)
