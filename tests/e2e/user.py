"""What a user of the app does over HTTP: start an orchestrator, poll its status URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

__all__ = ["poll_status", "send", "start", "wait_for_status", "wait_until_done"]

POLL_EVERY = 0.05
DEFAULT_DEADLINE = 30.0


async def start(
    http: aiohttp.ClientSession,
    base_url: str,
    orchestrator: str,
    body: Any = None,
    *,
    instance_id: str | None = None,
) -> dict[str, str]:
    """POST /api/orchestrators/<name>[/<id>] as in the README; returns the 202 body."""
    url = f"{base_url}/api/orchestrators/{orchestrator}"
    if instance_id is not None:
        url += f"/{instance_id}"
    async with http.post(url, json=body) as response:
        payload: dict[str, str] = await response.json()
        assert response.status == 202, payload
        assert response.headers["Location"] == payload["statusQueryGetUri"]
        return payload


async def poll_status(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def wait_for_status(
    http: aiohttp.ClientSession,
    url: str,
    condition: Callable[[int, dict[str, Any]], bool],
    *,
    timeout: float = DEFAULT_DEADLINE,
) -> dict[str, Any]:
    """Poll `url` until `condition(status, body)` holds, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = await poll_status(http, url)
        if condition(status, body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} still answers {status} {body} after {timeout:g}s")
        await asyncio.sleep(POLL_EVERY)


async def wait_until_done(
    http: aiohttp.ClientSession, started: dict[str, str], *, timeout: float = DEFAULT_DEADLINE
) -> dict[str, Any]:
    """Follow statusQueryGetUri until it answers 200 (202 means still running)."""
    return await wait_for_status(
        http, started["statusQueryGetUri"], lambda status, _: status == 200, timeout=timeout
    )


async def send(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    """Any request; returns the status and the body (parsed when it is JSON, else the text)."""
    async with http.request(method, url, **kwargs) as response:
        text = await response.text()
        if response.content_type == "application/json" and text:
            return response.status, await response.json()
        return response.status, text
