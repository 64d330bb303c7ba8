"""A send's answer read without ElementTree gives what ElementTree's reading gives (the oracle)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from xml.etree import ElementTree

import pytest
from azure.storage.queue import QueueMessage

from durable_host.taskhub import rest_queues
from durable_host.taskhub.rest_client import Service, StorageAccount

HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
MESSAGE = (
    b"<QueueMessage><MessageId>36bbf791-50b3-446e-a2cf-5b9220772981</MessageId>"
    b"<InsertionTime>Mon, 07 Dec 2026 21:19:05 GMT</InsertionTime>"
    b"<ExpirationTime>Mon, 07 Dec 2026 21:29:05 GMT</ExpirationTime>"
    b"<PopReceipt>MDdEZWMyMDI2MjE6MTk6MDUxNzhk</PopReceipt>"
    b"<TimeNextVisible>Mon, 07 Dec 2026 21:19:05 GMT</TimeNextVisible></QueueMessage>"
)


def _fields(message: QueueMessage) -> dict[str, object]:
    return {
        name: getattr(message, name)
        for name in ("id", "content", "pop_receipt", "dequeue_count", "inserted_on",
                     "expires_on", "next_visible_on")
    }  # fmt: skip


def _by_elementtree(body: bytes) -> dict[str, object]:
    element = ElementTree.fromstring(body).find("QueueMessage")
    assert element is not None
    return _fields(rest_queues._message(element, "q"))


def _listed(message: bytes, head: bytes = HEAD) -> bytes:
    return head + b"<QueueMessagesList>" + message + b"</QueueMessagesList>"


READ_DIRECTLY = [
    _listed(MESSAGE),
    _listed(MESSAGE, b'<?xml version="1.0" encoding="utf-8"?>'),
    _listed(MESSAGE.replace(b"MDdEZWMyMDI2MjE6MTk6MDUxNzhk", b"")),
    _listed(MESSAGE.replace(b"MDdEZWMyMDI2MjE6MTk6MDUxNzhk", b" a>b=c/d+ ")),
    _listed(MESSAGE.replace(b"Mon, 07 Dec 2026 21:29:05 GMT", b"Tue, 08 Dec 2026 00:00:00 +0100")),
]
LEFT_TO_ELEMENTTREE = [
    _listed(MESSAGE.replace(b"MDdEZWMyMDI2MjE6MTk6MDUxNzhk", b"a&amp;b")),
    _listed(MESSAGE.replace(b"MDdEZWMyMDI2MjE6MTk6MDUxNzhk", b"a\r\nb")),
    _listed(MESSAGE.replace(b"MDdEZWMyMDI2MjE6MTk6MDUxNzhk", "é".encode())),
    _listed(MESSAGE, b'<?xml version="1.0" encoding="ISO-8859-1"?>'),
    _listed(MESSAGE, b""),
    _listed(MESSAGE + MESSAGE),
    _listed(MESSAGE.replace(b"<QueueMessage>", b"<QueueMessage><DequeueCount>1</DequeueCount>")),
    _listed(MESSAGE.replace(b"<QueueMessage>", b"<QueueMessage> ")),
    _listed(MESSAGE) + b"\n",
]


@pytest.mark.parametrize("body", READ_DIRECTLY)
def test_a_usual_answer_is_read_as_elementtree_reads_it(body: bytes) -> None:
    message = rest_queues._sent(body)
    assert message is not None
    assert _fields(message) == _by_elementtree(body)


@pytest.mark.parametrize("body", LEFT_TO_ELEMENTTREE)
def test_any_other_answer_is_left_to_elementtree(body: bytes) -> None:
    assert rest_queues._sent(body) is None


def test_a_remembered_time_is_the_one_parsed() -> None:
    text = "Mon, 07 Dec 2026 21:19:05 GMT"
    assert rest_queues._time(text) == parsedate_to_datetime(text)
    assert rest_queues._time(text) is rest_queues._time(text)
    assert rest_queues._time("") is None and rest_queues._time(None) is None
    with pytest.raises(ValueError):
        rest_queues._time("not a date")


async def test_a_send_to_azurite_reads_its_answer_directly(azurite: str) -> None:
    from durable_host.taskhub.rest_client import RestClient

    account = StorageAccount.parse(azurite)
    assert account is not None
    client = RestClient(account)
    queues = rest_queues.RestQueues(client)
    try:
        await client.request(Service.QUEUE, "PUT", "sendanswer", ok=(201, 204))
        answer = await client.request(
            Service.QUEUE,
            "POST",
            "sendanswer/messages",
            query={"messagettl": "600"},
            headers={"Content-Type": "application/xml"},
            body=b"<QueueMessage><MessageText>x</MessageText></QueueMessage>",
        )
        message = rest_queues._sent(answer.body)
        assert message is not None
        assert _fields(message) == _by_elementtree(answer.body)
        sent = await queues.send("sendanswer", "y", visibility_timeout=None, time_to_live=600)
        await queues.delete("sendanswer", sent.id, sent.pop_receipt or "")
        await client.request(Service.QUEUE, "DELETE", "sendanswer", ok=(204,))
    finally:
        await client.close()
