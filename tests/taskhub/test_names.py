import pytest

from durable_host.errors import ConfigurationError
from durable_host.taskhub.names import (
    DEFAULT_HUB_NAME,
    TaskHubNames,
    fnv1a32,
    partition_index,
    sanitize_hub_name,
    validate_hub_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0x811C9DC5),
        ("a", 0xE40C292C),
        ("foobar", 0xBF9CF968),
        ("abc123", 951228933),
        ("@counter@mykey", 0xCC6A5E00),
    ],
)
def test_fnv1a32_matches_spec_check_values(text: str, expected: int) -> None:
    assert fnv1a32(text.encode("utf-8")) == expected


def test_fnv1a32_intermediate_values_of_worked_example() -> None:
    expected = [0xE40C292C, 0x4D2505CA, 0x1A47E90B, 0x9934264E, 0xA9189534, 0x38B29A05]
    assert [fnv1a32(b"abc123"[: i + 1]) for i in range(6)] == expected


def test_partition_index_examples() -> None:
    names = TaskHubNames("MyHub")
    assert partition_index("abc123", 4) == 1
    assert names.control_queue_for("abc123") == "myhub-control-01"
    assert names.control_queue_for("@counter@mykey") == "myhub-control-00"


def test_partition_index_is_case_sensitive_and_utf8() -> None:
    assert fnv1a32("é".encode()) != fnv1a32(b"e")
    assert {partition_index(x, 16) for x in ("Abc123", "abc123")} == {
        fnv1a32(b"Abc123") % 16,
        fnv1a32(b"abc123") % 16,
    }


@pytest.mark.parametrize("count", [0, 17, -1])
def test_partition_count_out_of_range(count: int) -> None:
    with pytest.raises(ConfigurationError, match="1 to 16"):
        partition_index("x", count)
    with pytest.raises(ConfigurationError, match="1 to 16"):
        TaskHubNames("MyHub", count)


def test_all_names() -> None:
    names = TaskHubNames("MyHub", partition_count=3)
    assert names.control_queue(0) == "myhub-control-00"
    assert names.control_queues == ["myhub-control-00", "myhub-control-01", "myhub-control-02"]
    assert names.work_item_queue == "myhub-workitems"
    assert names.history_table == "MyHubHistory"
    assert names.instances_table == "MyHubInstances"
    assert names.partitions_table == "MyHubPartitions"
    assert names.large_messages_container == "myhub-largemessages"
    assert names.leases_container == "myhub-leases"
    assert names.app_lease_container == "myhub-applease"
    assert names.app_lease_info_blob == "myhub-appleaseinfo"
    assert names.poison_queue == "myhub-poison"


def test_sixteen_partitions_two_digit_suffix() -> None:
    names = TaskHubNames("Hub1", 16)
    assert names.control_queues[-1] == "hub1-control-15"
    assert len(names.control_queues) == 16


def test_control_queue_rejects_partition_outside_hub() -> None:
    with pytest.raises(ValueError, match="out of range"):
        TaskHubNames("MyHub", 4).control_queue(4)


def test_default_partition_count_is_four() -> None:
    assert TaskHubNames(DEFAULT_HUB_NAME).partition_count == 4
    assert DEFAULT_HUB_NAME == "TestHubName"


# Issue 27 item 8: the extension accepts up to 50 characters (AzureStorageOptions.cs 199-217).
@pytest.mark.parametrize("name", ["abc", "TestHubName", "a" * 45, "a" * 46, "a" * 50, "H2o"])
def test_valid_hub_names(name: str) -> None:
    assert validate_hub_name(name) == name


@pytest.mark.parametrize("name", ["ab", "a" * 51, "1abc", "my-hub", "my_hub", "hub name", "hübx"])
def test_invalid_hub_names_explain_the_fix(name: str) -> None:
    with pytest.raises(ConfigurationError, match="hubName") as info:
        validate_hub_name(name)
    assert "letters and digits" in str(info.value)
    with pytest.raises(ConfigurationError):
        TaskHubNames(name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("my-func-app", "myfuncapp"),
        # As the extension's IsSanitizedHubName (AzureStorageOptions.cs 224-258): a leading
        # digit gets a `t`, a short name `Hub`, nothing usable gives DefaultTaskHub.
        ("123app-x", "t123appx"),
        ("1app", "t1app"),
        ("ab", "abHub"),
        ("a", "aHub"),
        ("--", "DefaultTaskHub"),
        ("", "DefaultTaskHub"),
        ("a" * 60, "a" * 45),
        ("1" + "a" * 60, "t1" + "a" * 43),
    ],
)
def test_sanitize_hub_name_as_the_extension(raw: str, expected: str) -> None:
    assert sanitize_hub_name(raw) == expected
    assert validate_hub_name(sanitize_hub_name(raw))


def test_sanitize_keeps_what_dotnet_calls_letters_and_digits() -> None:
    # char.IsLetterOrDigit is Unicode-aware (the result is then no valid table name, which
    # the extension finds out only at storage); an astral letter is two UTF-16 surrogates.
    assert sanitize_hub_name("hüb-app") == "hübapp"
    assert sanitize_hub_name("ab\U0001d400") == "abHub"
