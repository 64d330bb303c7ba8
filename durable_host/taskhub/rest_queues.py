"""Queue messages over the thin REST client: send, receive, delete, update visibility.

The answers are read into the SDK's own `QueueMessage`, with the fields the SDK fills
(id, pop receipt, dequeue count, insertion/expiry/next-visible times, content as text), so
`QueueStore` handles a message the same whichever path fetched it.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from azure.storage.queue import QueueMessage

from durable_host.taskhub.rest_client import RestClient, Service, quote_path

__all__ = ["RestQueues"]

_XML = {"Content-Type": "application/xml"}

# A send's answer as Azurite and the service write it: one message, its five fields in this
# order, values of printable ASCII without markup or references (what an XML parser reads back
# unchanged). Any other answer is read by ElementTree.
_VALUE = rb"([\x20-\x25\x27-\x3b\x3d-\x7e]*)"
_SENT = re.compile(
    rb'<\?xml version="1\.0" encoding="(?:UTF|utf)-8"(?: standalone="yes")?\?>'
    rb"<QueueMessagesList><QueueMessage>"
    rb"<MessageId>" + _VALUE + rb"</MessageId><InsertionTime>" + _VALUE + rb"</InsertionTime>"
    rb"<ExpirationTime>" + _VALUE + rb"</ExpirationTime><PopReceipt>" + _VALUE + rb"</PopReceipt>"
    rb"<TimeNextVisible>" + _VALUE + rb"</TimeNextVisible></QueueMessage></QueueMessagesList>"
)
# RFC 1123 times already read: the messages sent within a second share them.
_TIMES_KEPT = 1024
_times: dict[str, datetime] = {}


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    known = _times.get(text)
    if known is None:
        if len(_times) >= _TIMES_KEPT:
            _times.clear()
        known = _times[text] = parsedate_to_datetime(text)
    return known


def _sent(body: bytes) -> QueueMessage | None:
    """A send's answer read as `_message` reads it, when it has the usual form; else None."""
    match = _SENT.fullmatch(body)
    if match is None:
        return None
    message_id, inserted, expires, receipt, visible = (v.decode("ascii") for v in match.groups())
    message = QueueMessage(content=None)
    message.id = message_id
    message.pop_receipt = receipt
    message.dequeue_count = None
    message.inserted_on = _time(inserted)
    message.expires_on = _time(expires)
    message.next_visible_on = _time(visible)
    return message


def _message(element: ElementTree.Element, queue: str) -> QueueMessage:
    message = QueueMessage(content=element.findtext("MessageText"))
    message.id = element.findtext("MessageId") or ""
    message.pop_receipt = element.findtext("PopReceipt")
    count = element.findtext("DequeueCount")
    message.dequeue_count = int(count) if count is not None else None
    message.inserted_on = _time(element.findtext("InsertionTime"))
    message.expires_on = _time(element.findtext("ExpirationTime"))
    message.next_visible_on = _time(element.findtext("TimeNextVisible"))
    return message


class RestQueues:
    """The four message operations of a host's hot path, for any queue of the account."""

    def __init__(self, client: RestClient) -> None:
        self._client = client

    async def send(
        self, queue: str, content: str, *, visibility_timeout: int | None, time_to_live: int
    ) -> QueueMessage:
        query = {"messagettl": str(time_to_live)}
        if visibility_timeout is not None:
            query["visibilitytimeout"] = str(visibility_timeout)
        body = (
            "<?xml version='1.0' encoding='utf-8'?>\n"
            f"<QueueMessage><MessageText>{escape(content)}</MessageText></QueueMessage>"
        ).encode()
        response = await self._client.request(
            Service.QUEUE,
            "POST",
            f"{quote_path(queue)}/messages",
            query=query,
            headers=_XML,
            body=body,
        )
        message = _sent(response.body)
        if message is None:
            element = ElementTree.fromstring(response.body).find("QueueMessage")
            if element is None:
                raise ValueError("the queue service's answer to a send names no message")
            message = _message(element, queue)
        message.content = content
        return message

    async def receive(
        self, queue: str, *, max_messages: int, visibility_timeout: int
    ) -> list[QueueMessage]:
        response = await self._client.request(
            Service.QUEUE,
            "GET",
            f"{quote_path(queue)}/messages",
            query={
                "numofmessages": str(max_messages),
                "visibilitytimeout": str(visibility_timeout),
            },
        )
        root = ElementTree.fromstring(response.body)
        return [_message(element, queue) for element in root.iter("QueueMessage")]

    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None:
        await self._client.request(
            Service.QUEUE,
            "DELETE",
            f"{quote_path(queue)}/messages/{quote_path(message_id)}",
            query={"popreceipt": pop_receipt},
        )

    async def update_visibility(
        self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: int
    ) -> str:
        """Returns the new pop receipt."""
        response = await self._client.request(
            Service.QUEUE,
            "PUT",
            f"{quote_path(queue)}/messages/{quote_path(message_id)}",
            query={"popreceipt": pop_receipt, "visibilitytimeout": str(visibility_timeout)},
        )
        return response.headers.get("x-ms-popreceipt", "")
