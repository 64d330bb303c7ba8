"""Queue message bodies: `MessageData` ⇄ the Newtonsoft JSON text of a control or work-item queue.

Written as DT.AS 2.x does (raw UTF-8 JSON, `$type` first in every object);
read in that form or base64 of it (DT.AS 1.x and other writers).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from durable_host.errors import MessageFormatError
from durable_host.taskhub.dotnet_members import describe, lookup, value_from_json, value_to_json
from durable_host.taskhub.event_json import event_from_json, event_to_json
from durable_host.taskhub.events import MessageData, OrchestrationInstance, TaskMessage

__all__ = [
    "MESSAGE_DATA_TYPE",
    "TASK_MESSAGE_TYPE",
    "decode_message",
    "encode_message",
    "message_from_json",
]

MESSAGE_DATA_TYPE = "DurableTask.AzureStorage.MessageData"
TASK_MESSAGE_TYPE = "DurableTask.Core.TaskMessage"


def _instance_to_json(instance: OrchestrationInstance, *, with_type: bool) -> dict[str, Any]:
    result: dict[str, Any] = value_to_json(instance, with_type=with_type)
    return result


def encode_message(msg: MessageData) -> str:
    """The queue body of `msg`: compact Newtonsoft-style JSON, raw UTF-8 (DT.AS 2.x)."""
    body: dict[str, Any] = {"$type": MESSAGE_DATA_TYPE, "ActivityId": msg.activity_id}
    tm = msg.task_message
    body["TaskMessage"] = (
        None
        if tm is None
        else {
            "$type": TASK_MESSAGE_TYPE,
            "Event": event_to_json(tm.event, with_type=True),
            "SequenceNumber": tm.sequence_number,
            "OrchestrationInstance": _instance_to_json(tm.orchestration_instance, with_type=True),
        }
    )
    body["CompressedBlobName"] = msg.compressed_blob_name
    body["SequenceNumber"] = msg.sequence_number
    if msg.episode is not None:
        body["Episode"] = msg.episode
    # DT.AS writes Sender without a $type.
    body["Sender"] = _instance_to_json(msg.sender, with_type=False)
    body["SerializableTraceContext"] = msg.serializable_trace_context
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _excerpt(body: str) -> str:
    return repr(body[:60] + ("..." if len(body) > 60 else ""))


def decode_message(body: str | bytes) -> MessageData:
    """Parse a queue body: raw JSON, or base64 of it (DT.AS 1.x and other writers)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError(
                f"queue message is not UTF-8 text: {body[:40]!r}; move it to the poison queue"
            ) from None
    text = body.lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise MessageFormatError(
                f"queue message is neither JSON nor base64 JSON: {_excerpt(body)}"
            ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MessageFormatError(
            f"queue message is not valid JSON ({exc.msg} at char {exc.pos}): {_excerpt(text)}"
        ) from None
    if not isinstance(data, dict):
        raise MessageFormatError(f"queue message is not a JSON object: {_excerpt(text)}")
    return message_from_json(data)


def _opt(lowered: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = lowered.get(key.lower())
    if value is None:
        return None
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise MessageFormatError(f"{where}.{key} has unexpected value {describe(value)}")


def message_from_json(data: Mapping[str, Any]) -> MessageData:
    """`MessageData` from the parsed queue body."""
    lowered = lookup(data)
    activity_id = _opt(lowered, "ActivityId", str, "MessageData")
    if activity_id is None:
        raise MessageFormatError(f"queue message has no ActivityId: {describe(data)}")
    task_message = None
    raw_tm = lowered.get("taskmessage")
    if raw_tm is not None:
        task_message = _task_message_from_json(raw_tm)
    elif lowered.get("compressedblobname") is None:
        raise MessageFormatError(
            f"queue message has neither TaskMessage nor CompressedBlobName: {describe(data)}"
        )
    raw_sender = lowered.get("sender")
    sender = (
        OrchestrationInstance("", "")
        if raw_sender is None
        else value_from_json(raw_sender, OrchestrationInstance, "MessageData.Sender")
    )
    trace = lowered.get("serializabletracecontext")
    if trace is not None and not isinstance(trace, str):
        trace = json.dumps(trace, ensure_ascii=False, separators=(",", ":"))
    return MessageData(
        activity_id=activity_id,
        task_message=task_message,
        sequence_number=_opt(lowered, "SequenceNumber", int, "MessageData") or 0,
        compressed_blob_name=_opt(lowered, "CompressedBlobName", str, "MessageData"),
        episode=_opt(lowered, "Episode", int, "MessageData"),
        sender=sender,
        serializable_trace_context=trace,
    )


def _task_message_from_json(data: Any) -> TaskMessage:
    if not isinstance(data, Mapping):
        raise MessageFormatError(f"TaskMessage must be a JSON object, got {describe(data)}")
    lowered = lookup(data)
    if lowered.get("event") is None:
        raise MessageFormatError(f"TaskMessage has no Event: {describe(data)}")
    event = event_from_json(lowered["event"], where="TaskMessage.Event")
    raw_instance = lowered.get("orchestrationinstance")
    if raw_instance is None:
        raise MessageFormatError(f"TaskMessage has no OrchestrationInstance: {describe(data)}")
    instance = value_from_json(
        raw_instance, OrchestrationInstance, "TaskMessage.OrchestrationInstance"
    )
    return TaskMessage(
        event=event,
        orchestration_instance=instance,
        sequence_number=_opt(lowered, "SequenceNumber", int, "TaskMessage") or 0,
    )
