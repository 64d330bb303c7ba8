"""The lean HTTP/1.1 client against a loopback server that answers with bytes written by hand
(the framing cases Azurite does not show on demand; the storage behaviour itself is tested
on Azurite through RestClient, which uses this client for loopback endpoints)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from yarl import URL

from durable_host.taskhub.http1 import Http1Pool

# Each answer: the byte pieces the server writes (one write each, with a pause between), and
# whether it closes the connection afterwards.
Answer = tuple[list[bytes], bool]


class Server:
    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = 0
        self.handlers: list[asyncio.Task[None]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                pieces, close = self.answers.pop(0)
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[list[Answer]], Awaitable[tuple[Server, Http1Pool]]]]:
    servers: list[asyncio.Server] = []
    started: list[Server] = []
    pools: list[Http1Pool] = []

    async def start(answers: list[Answer], idle_seconds: float = 4.0) -> tuple[Server, Http1Pool]:
        server = Server(answers)
        started.append(server)
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        servers.append(listening)
        server.port = listening.sockets[0].getsockname()[1]
        pool = Http1Pool(limit=4, idle_seconds=idle_seconds, connect_timeout=2, read_timeout=2)
        pools.append(pool)
        return server, pool

    yield start
    for pool in pools:
        await pool.close()
    for listening in servers:
        listening.close()
    # The handlers end once the pool's connections are gone (each read fails).
    handlers = [task for server in started for task in server.handlers]
    await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)


def url(server: Server, path: str = "/acct/q/messages?peekonly=true") -> URL:
    return URL(f"http://127.0.0.1:{server.port}{path}", encoded=True)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-ms-request-id: r1\r\n\r\nhello"


async def test_the_request_goes_out_as_given_with_the_headers_aiohttp_adds(serve) -> None:  # type: ignore[no-untyped-def]
    server, pool = await serve([([OK], False)])
    headers = {"x-ms-version": "v", "Content-Length": "3", "Accept": "application/json"}
    response = await pool.request("PUT", url(server), headers, b"abc")
    assert (response.status, response.body, response.headers["X-MS-REQUEST-ID"]) == (
        200,
        b"hello",
        "r1",
    )
    head, body = server.requests[0].split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "PUT /acct/q/messages?peekonly=true HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}" in lines
    assert "Accept: application/json" in lines and "Accept: */*" not in lines
    assert any(line.startswith("User-Agent: Python/") for line in lines)
    assert body == b"abc"


async def test_a_chunked_answer_in_pieces_is_read_whole_and_the_connection_kept(serve) -> None:  # type: ignore[no-untyped-def]
    chunked = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n",
        b"\r\n4\r\nwiki\r\n",
        b"5\r\npedia\r",
        b"\n0\r\n",
        b"\r\n",
    ]
    server, pool = await serve([(chunked, False), ([OK], False)])
    first = await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    second = await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    assert (first.body, second.body) == (b"wikipedia", b"hello")
    assert server.connections == 1


async def test_a_length_in_pieces_an_interim_answer_and_a_head(serve) -> None:  # type: ignore[no-untyped-def]
    pieces = [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n01",
        b"234",
        b"56789",
    ]
    head = [b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"]
    server, pool = await serve([(pieces, False), (head, False), ([OK], False)])
    created = await pool.request("POST", url(server), {"Content-Length": "0"}, b"")
    headed = await pool.request("HEAD", url(server), {"Content-Length": "0"}, b"")
    after = await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    assert (created.status, created.body) == (201, b"0123456789")
    assert (headed.status, headed.body, after.body) == (200, b"", b"hello")
    assert server.connections == 1


async def test_connection_close_and_answers_read_to_the_close_take_a_new_connection(serve) -> None:  # type: ignore[no-untyped-def]
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    unbounded = b"HTTP/1.1 200 OK\r\n\r\nall of it"
    server, pool = await serve([([closing], True), ([unbounded], True), ([OK], False)])
    first = await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    second = await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    third = await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    assert (first.body, second.body, third.body) == (b"ok", b"all of it", b"hello")
    assert server.connections == 3


async def test_an_idle_connection_past_its_time_is_not_reused(serve) -> None:  # type: ignore[no-untyped-def]
    server, pool = await serve([([OK], False), ([OK], False)], idle_seconds=0.0)
    await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    assert server.connections == 2


async def test_a_connection_closed_under_the_request_fails_as_a_disconnect(serve) -> None:  # type: ignore[no-untyped-def]
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    server, pool = await serve([([cut], True)])
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await pool.request("GET", url(server), {"Content-Length": "0"}, b"")


async def test_no_listener_fails_as_a_connection_never_made(serve) -> None:  # type: ignore[no-untyped-def]
    server, pool = await serve([])
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    with pytest.raises(aiohttp.ClientConnectorError):
        await pool.request("GET", URL(f"http://127.0.0.1:{port}/x"), {}, b"")


async def test_no_answer_in_time_fails_as_a_timeout_and_drops_the_connection(serve) -> None:  # type: ignore[no-untyped-def]
    server, pool = await serve([([b"HTTP/1.1 200 OK\r\n"], False), ([OK], False)])
    with pytest.raises(asyncio.TimeoutError):
        await pool.request("GET", url(server), {"Content-Length": "0"}, b"")
    assert (await pool.request("GET", url(server), {"Content-Length": "0"}, b"")).body == b"hello"
    assert server.connections == 2


async def test_rest_client_sends_the_same_request_through_aiohttp_and_this_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from durable_host.taskhub.rest_client import HTTP1_SWITCH, RestClient, Service, StorageAccount

    heads: list[bytes] = []
    handlers: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            heads.append(head)
            length = [
                int(x.split(b":")[1])
                for x in head.split(b"\r\n")
                if x.startswith(b"Content-Length")
            ]
            await reader.readexactly(length[0] if length else 0)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    connection = ";".join(
        ["AccountName=acct", "AccountKey=a2V5"]
        + [f"{s}Endpoint=http://127.0.0.1:{port}/acct" for s in ("Blob", "Queue", "Table")]
    )
    account = StorageAccount.parse(connection)
    assert account is not None
    for switch in ("0", "1"):
        monkeypatch.setenv(HTTP1_SWITCH, switch)
        client = RestClient(account)
        json_headers = {"Accept": "application/json", "Content-Type": "application/json"}
        await client.request(Service.TABLE, "POST", "T", headers=json_headers, body=b"{}")
        await client.request(Service.QUEUE, "GET", "q/messages", query={"numofmessages": "32"})
        await client.close()
    listening.close()
    # Each handler ends at its connection's close (the clients closed theirs).
    await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)

    def lines(head: bytes) -> list[str]:
        # The date and the signature over it may differ by the second they were made in.
        kept = [
            x
            for x in head.decode().split("\r\n")
            if not x.startswith(("x-ms-date", "Authorization"))
        ]
        return [kept[0], *sorted(kept[1:])]

    assert len(heads) == 4
    assert [lines(h) for h in heads[:2]] == [lines(h) for h in heads[2:]]


def _large_chunked_answer() -> tuple[list[bytes], bytes]:
    """A chunked answer of about 1.5 MiB in 1,500 chunks of varied sizes, cut into many
    writes that split chunk-size lines, chunk data and line ends; and its body."""
    chunks = [bytes([65 + i % 26]) * (1 + (i * 7919) % 2048) for i in range(1500)]
    wire = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    wire += b"Transfer-Encoding: chunked\r\n\r\n"
    wire += b"".join(b"%x;ext=1\r\n" % len(c) + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    cuts = [*range(0, len(wire), 997), len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(cuts)], b"".join(chunks)


async def test_a_large_chunked_answer_is_read_in_one_pass_and_as_aiohttp_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from durable_host.taskhub import http1

    pieces, expected = _large_chunked_answer()
    handlers: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    heads_read = 0
    lines_read = 0
    read_head, read_line = http1._read_head, http1._AnswerReader._line

    def counted_head(head: bytes):  # type: ignore[no-untyped-def]
        nonlocal heads_read
        heads_read += 1
        return read_head(head)

    def counted_line(self: http1._AnswerReader) -> bytes | None:
        nonlocal lines_read
        line = read_line(self)
        lines_read += line is not None
        return line

    monkeypatch.setattr(http1, "_read_head", counted_head)
    monkeypatch.setattr(http1._AnswerReader, "_line", counted_line)
    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    target = URL(f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/acct/T()")
    pool = Http1Pool(limit=4, idle_seconds=4.0, connect_timeout=2, read_timeout=10)
    ours = await pool.request("GET", target, {"Content-Length": "0"}, b"")
    async with aiohttp.ClientSession() as session, session.get(target) as response:
        oracle = await response.read()
    await pool.close()
    listening.close()
    await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)
    assert oracle == expected
    assert (ours.status, ours.body) == (200, expected)
    assert ours.headers["content-type"] == "application/json"
    # The head once, each chunk's size line once, the last chunk's and the end of the trailers:
    # nothing read again however many reads the answer took.
    assert (heads_read, lines_read) == (1, 1500 + 2)


def test_an_answer_fed_a_byte_at_a_time_completes_at_its_last_byte_and_not_before() -> None:
    from durable_host.taskhub.http1 import _AnswerReader

    answers = {
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc": b"abc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n": b"abcde",
    }
    for answer, body in answers.items():
        reader = _AnswerReader(head_request=False)
        results = [reader.feed(answer[i : i + 1], eof=False) for i in range(len(answer))]
        assert results[:-1] == [None] * (len(answer) - 1)
        last = results[-1]
        assert last is not None and (last[0].status, last[0].body, last[1]) == (200, body, True)
