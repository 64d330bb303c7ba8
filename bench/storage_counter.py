"""Count every request the Azure Storage SDKs put on the wire, by operation.

The counter is an azure-core pipeline policy (`on_request` sees each request once per try,
so retries count too). It is attached in the benchmark process only, around the transport
that all three SDKs (queue, table, blob) use by default and around the send of durable_host's
thin REST client (`taskhub/rest_client.py`), so durable_host needs no hook and its public API
is unchanged:

    counter = StorageCounter(ports_by_service(azurite))
    with counter.attached():
        ...  # run the engine
    counter.snapshot()  # {"queue.send": 412, "table.batch": 103, ...}

Requests made inside `with counter.aside("client"):` (in that task and the tasks it starts)
are also counted apart, in `counter.snapshot("client")`: e.g. the benchmark's own status reads
while it waits for an instance, to tell them from the host's.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.pipeline.transport import AioHttpTransport

from durable_host.taskhub.rest_client import RestClient, RestResponse

__all__ = ["StorageCounter", "classify", "diff"]

_ASIDE: ContextVar[str] = ContextVar("storage_counter_aside", default="")


def classify(service: str, method: str, url: str) -> str:
    """'<service>.<operation>' for one request, e.g. 'queue.receive' or 'table.batch'."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    # Path is /<account>/<resource...>; drop the account.
    segments = [unquote(s) for s in parts.path.split("/") if s][1:]
    method = method.upper()
    if service == "queue":
        if len(segments) >= 2 and segments[1] == "messages":
            if len(segments) >= 3:
                return {"DELETE": "queue.delete", "PUT": "queue.update"}.get(method, "queue.other")
            if method == "POST":
                return "queue.send"
            if method == "GET":
                return "queue.peek" if "peekonly" in query else "queue.receive"
            return "queue.clear" if method == "DELETE" else "queue.other"
        if "metadata" in query.get("comp", []):
            return "queue.properties"
        return {"PUT": "queue.create", "DELETE": "queue.delete_queue"}.get(method, "queue.other")
    if service == "table":
        resource = segments[0] if segments else ""
        if resource == "$batch":
            return "table.batch"
        if resource.startswith("Tables"):
            return "table.admin"
        keyed = "(" in resource and resource.rstrip(")").split("(", 1)[1] != ""
        if method == "GET":
            return "table.get" if keyed else "table.query"
        return {
            "PUT": "table.upsert",
            "MERGE": "table.merge",
            "PATCH": "table.merge",
            "POST": "table.insert",
            "DELETE": "table.delete",
        }.get(method, "table.other")
    if service == "blob":
        if "container" in query.get("restype", []):
            return "blob.container"
        return {"GET": "blob.get", "HEAD": "blob.get", "PUT": "blob.put"}.get(method, "blob.other")
    return f"{service}.other"


class StorageCounter(SansIOHTTPPolicy[Any, Any]):
    """Requests by operation; `ports` maps a loopback port to 'queue', 'table' or 'blob'."""

    def __init__(self, ports: Mapping[int, str]) -> None:
        self._ports = dict(ports)
        self._counts: Counter[str] = Counter()
        self._aside: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._lock = threading.Lock()

    def on_request(self, request: PipelineRequest[Any]) -> None:
        http = request.http_request
        self.count(http.method, http.url)

    def count(self, method: str, url: str) -> None:
        port = urlsplit(url).port
        service = self._ports.get(port or 0)
        if service is None:
            return  # not the emulator under test (e.g. the peer's endpoints)
        name = classify(service, method, url)
        label = _ASIDE.get()
        with self._lock:
            self._counts[name] += 1
            if label:
                self._aside[label][name] += 1

    def snapshot(self, aside: str = "") -> dict[str, int]:
        """Every request so far by operation, or only those made inside `aside(label)`."""
        with self._lock:
            return dict(self._aside[aside] if aside else self._counts)

    @staticmethod
    @contextmanager
    def aside(label: str) -> Iterator[None]:
        """Requests made inside the block count apart too, under `label` (see snapshot)."""
        token = _ASIDE.set(label)
        try:
            yield
        finally:
            _ASIDE.reset(token)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    @contextmanager
    def attached(self) -> Iterator[StorageCounter]:
        """Count while inside the block: every AioHttpTransport request in this process.

        AioHttpTransport is the default transport of the async queue, table and blob clients;
        wrapping its `send` sees exactly what goes on the wire, once per try.
        """
        original = AioHttpTransport.send
        original_rest = RestClient._send
        policy = self

        async def send(transport: AioHttpTransport, request: Any, **kwargs: Any) -> Any:
            policy.on_request(PipelineRequest(request, PipelineContext(None)))
            return await original(transport, request, **kwargs)

        async def rest_send(client: RestClient, method: str, url: Any, *args: Any) -> RestResponse:
            policy.count(method, str(url))
            return await original_rest(client, method, url, *args)

        AioHttpTransport.send = send
        RestClient._send = rest_send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            AioHttpTransport.send = original
            RestClient._send = original_rest  # type: ignore[method-assign]


def diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    """Per-operation counts of `after - before`, zero entries dropped."""
    keys = set(after) | set(before)
    out = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(keys)}
    return {k: v for k, v in out.items() if v}
