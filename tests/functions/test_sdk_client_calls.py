"""The swap of the SDK client's request functions: made once, only over the SDK's own ones.

That a swapped call answers as over HTTP: tests/http/test_local_calls.py.
"""

from __future__ import annotations

import asyncio
import importlib
import json

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.utils import http_utils

from durable_host.functions import sdk_client_calls, sdk_fast_paths
from durable_host.functions.sdk_client_calls import LocalAnswer, LocalRequest

CLIENT = importlib.import_module("azure.durable_functions.models.DurableOrchestrationClient")
NAMES = ("post_async_request", "get_async_request", "delete_async_request")
BINDING = json.dumps(
    {
        "taskHubName": "Hub",
        "creationUrls": {},
        "managementUrls": {},
        "baseUrl": "http://localhost:7071/runtime/webhooks/durabletask",
        "requiredQueryStringParameters": "",
        "rpcBaseUrl": "http://127.0.0.1:7071/durabletask/",
    }
)


def test_install_swaps_the_three_names_a_new_client_takes() -> None:
    assert sdk_client_calls.install()
    assert sdk_client_calls.install()  # once per process: the originals stay the SDK's
    for name in NAMES:
        assert getattr(CLIENT, name) is getattr(sdk_client_calls, name)
        assert sdk_client_calls._originals[name] is getattr(http_utils, name)
    client = df.DurableOrchestrationClient(BINDING)
    assert client._post_async_request is sdk_client_calls.post_async_request
    assert client._get_async_request is sdk_client_calls.get_async_request
    assert client._delete_async_request is sdk_client_calls.delete_async_request


def test_the_switch_leaves_the_sdk_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sdk_fast_paths.SWITCH, "0")
    assert not sdk_client_calls.install()


async def test_a_client_call_to_a_served_origin_is_answered_in_process() -> None:
    assert sdk_client_calls.install()
    asked: list[LocalRequest] = []

    async def serve(request: LocalRequest) -> LocalAnswer:
        asked.append(request)
        return LocalAnswer(202, "application/json; charset=utf-8", b'{"id": "abc"}')

    undo = sdk_client_calls.serve_locally(
        "http://127.0.0.1:7071", asyncio.get_running_loop(), serve
    )
    try:
        client = df.DurableOrchestrationClient(BINDING)
        assert await client.start_new("hello", None, {"n": 1}) == "abc"
    finally:
        undo()
    assert asked[0].method == "POST"
    assert asked[0].url == "http://127.0.0.1:7071/durabletask/orchestrators/hello"
    # The SDK sends its JSON text again through aiohttp's json=: a JSON string.
    assert asked[0].body == json.dumps(json.dumps({"n": 1})).encode()
    assert sdk_client_calls._local("http://127.0.0.1:7071/durabletask/x") is None


def test_undo_leaves_a_later_registration_in_place() -> None:
    loop = asyncio.new_event_loop()
    try:

        async def first(request: LocalRequest) -> LocalAnswer:
            raise AssertionError

        async def second(request: LocalRequest) -> LocalAnswer:
            raise AssertionError

        undo_first = sdk_client_calls.serve_locally("http://127.0.0.1:9", loop, first)
        undo_second = sdk_client_calls.serve_locally("http://127.0.0.1:9", loop, second)
        undo_first()
        assert sdk_client_calls._served["http://127.0.0.1:9"] == (loop, second)
        undo_second()
        assert "http://127.0.0.1:9" not in sdk_client_calls._served
    finally:
        loop.close()
