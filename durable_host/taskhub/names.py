"""Every task hub resource name, the hub-name rules and the partition hash.

Names follow DurableTask.AzureStorage (docs/task-hub-layout.md §1): queues and
blob containers are lower-cased (Azure requires it), tables keep the hub's case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from durable_host.errors import ConfigurationError

__all__ = [
    "DEFAULT_HUB_NAME",
    "DEFAULT_PARTITION_COUNT",
    "HUB_NAME_RE",
    "MAX_PARTITION_COUNT",
    "TaskHubNames",
    "fnv1a32",
    "partition_index",
    "sanitize_hub_name",
    "validate_hub_name",
]

DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_PARTITION_COUNT = 4
MAX_PARTITION_COUNT = 16

# The extension's ValidateHubName (DF Options/AzureStorageOptions.cs 199-217): valid as a table
# name (a letter, then letters and digits) and at most 50 characters, though its message says 45.
HUB_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{2,49}")
# A default hub name derived from WEBSITE_SITE_NAME (IsSanitizedHubName, 224-258).
_SANITIZED_MAX = 45
_SANITIZED_PADDING = "Hub"
_NO_USABLE_NAME = "DefaultTaskHub"

_FNV_OFFSET_BASIS = 2166136261
_FNV_PRIME = 16777619


def validate_hub_name(name: str) -> str:
    """Return `name` if it is a valid task hub name, else raise ConfigurationError."""
    if not isinstance(name, str) or not HUB_NAME_RE.fullmatch(name):
        raise ConfigurationError(
            f"Task hub name {name!r} is invalid: it must be 3-50 characters, only letters "
            "and digits, starting with a letter. Set extensions.durableTask.hubName in "
            f"host.json to a name like {sanitize_hub_name(str(name))!r}."
        )
    return name


def sanitize_hub_name(raw: str) -> str:
    """The hub name the extension derives from `raw` (WEBSITE_SITE_NAME) when host.json names
    none: its letters and digits (.NET `char.IsLetterOrDigit`, one UTF-16 unit each), a `t`
    in front of a leading digit, the first 45, `Hub` added to a shorter name than 3, and
    `DefaultTaskHub` when nothing is left (DF Options/AzureStorageOptions.cs 224-258).
    """
    kept = [ch for ch in raw if ord(ch) <= 0xFFFF and (ch.isalpha() or ch.isdecimal())]
    if not kept:
        return _NO_USABLE_NAME
    if kept[0].isdecimal():
        kept.insert(0, "t")
    name = "".join(kept[:_SANITIZED_MAX])
    return name + _SANITIZED_PADDING if len(name) < 3 else name


def _validate_partition_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int):
        raise ConfigurationError(
            f"partitionCount must be an integer from 1 to {MAX_PARTITION_COUNT}, got {count!r}."
        )
    if not 1 <= count <= MAX_PARTITION_COUNT:
        raise ConfigurationError(
            f"partitionCount {count} is out of range: set "
            f"extensions.durableTask.storageProvider.partitionCount in host.json "
            f"to a value from 1 to {MAX_PARTITION_COUNT}."
        )
    return count


def fnv1a32(data: bytes) -> int:
    """32-bit FNV-1a hash, as DurableTask.AzureStorage's `Fnv1aHashHelper`."""
    h = _FNV_OFFSET_BASIS
    for byte in data:
        h ^= byte
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def partition_index(instance_id: str, partition_count: int) -> int:
    """The control-queue index that owns `instance_id` (case-sensitive, UTF-8)."""
    _validate_partition_count(partition_count)
    return fnv1a32(instance_id.encode("utf-8")) % partition_count


@dataclass(frozen=True)
class TaskHubNames:
    """Names of every queue, table and blob container of one task hub."""

    hub: str
    partition_count: int = DEFAULT_PARTITION_COUNT

    def __post_init__(self) -> None:
        validate_hub_name(self.hub)
        _validate_partition_count(self.partition_count)

    @property
    def _lower(self) -> str:
        return self.hub.lower()

    def control_queue(self, partition: int) -> str:
        if not 0 <= partition < self.partition_count:
            raise ValueError(
                f"partition {partition} is out of range for a hub with "
                f"{self.partition_count} partitions (0..{self.partition_count - 1})."
            )
        return f"{self._lower}-control-{partition:02d}"

    @property
    def control_queues(self) -> list[str]:
        return [self.control_queue(i) for i in range(self.partition_count)]

    def control_queue_for(self, instance_id: str) -> str:
        """The control queue that owns `instance_id`."""
        return self.control_queue(partition_index(instance_id, self.partition_count))

    @property
    def work_item_queue(self) -> str:
        return f"{self._lower}-workitems"

    @property
    def poison_queue(self) -> str:
        """Where undecodable or endlessly failing messages are parked.

        Not part of DurableTask.AzureStorage (which only logs poison messages);
        our addition so a bad message is kept for inspection, never retried
        forever and never silently dropped.
        """
        return f"{self._lower}-poison"

    @property
    def history_table(self) -> str:
        return f"{self.hub}History"

    @property
    def instances_table(self) -> str:
        return f"{self.hub}Instances"

    @property
    def partitions_table(self) -> str:
        return f"{self.hub}Partitions"

    @property
    def large_messages_container(self) -> str:
        return f"{self._lower}-largemessages"

    @property
    def leases_container(self) -> str:
        return f"{self._lower}-leases"

    @property
    def app_lease_container(self) -> str:
        return f"{self._lower}-applease"

    @property
    def app_lease_info_blob(self) -> str:
        return f"{self._lower}-appleaseinfo"
