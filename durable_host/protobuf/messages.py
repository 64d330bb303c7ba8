"""The generated protobuf module of durabletask, found once and on demand."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

from durable_host.errors import SdkUnavailableError

# Where the durabletask package keeps the generated messages of orchestrator_service.proto.
PB_MODULE = "durabletask.internal.orchestrator_service_pb2"


@functools.cache
def messages() -> Any:
    """The `orchestrator_service_pb2` module; SdkUnavailableError without `durabletask`."""
    try:
        from durabletask.internal import orchestrator_service_pb2
    except ImportError as exc:
        raise SdkUnavailableError(
            "The Durable Task protobuf protocol (Durable Functions 2.x apps, durabletask "
            "workers) needs the 'durabletask' package, which is not installed here "
            f"({exc}). Install it in the app's environment: pip install durabletask"
        ) from exc
    return orchestrator_service_pb2


def string_value(text: str | None) -> Any:
    """A `google.protobuf.StringValue` for `text`, None for no value (the field stays unset)."""
    if text is None:
        return None
    from google.protobuf import wrappers_pb2

    return wrappers_pb2.StringValue(value=text)


def read_string(message: Any, name: str) -> str | None:
    """A StringValue field's text, None when unset."""
    return getattr(message, name).value if message.HasField(name) else None


def timestamp(value: datetime | None) -> Any:
    if value is None:
        return None
    from google.protobuf import timestamp_pb2

    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    return stamp


def read_timestamp(message: Any, name: str) -> datetime | None:
    """A Timestamp field as an aware UTC datetime, None when unset."""
    if not message.HasField(name):
        return None
    stamp: datetime = getattr(message, name).ToDatetime(tzinfo=timezone.utc)
    return stamp


def make(cls: Any, **fields: Any) -> Any:
    """`cls(**fields)` without the fields this durabletask's messages lack (older releases
    have no tags or trace contexts on some messages) and without empty ones."""
    known = cls.DESCRIPTOR.fields_by_name
    return cls(**{k: v for k, v in fields.items() if k in known and v is not None})
