"""Azurite's queue garbage collector does not freeze the emulator (patch in
durable_host/server/patches, applied by `npm ci`; see docs/azurite-gc.md)."""

from __future__ import annotations

import sys

import pytest

from tests.server.gc_probe import probe

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="the probe starts GC passes with SIGUSR2"
)

EXTENTS = 10_000


async def test_requests_answer_within_a_second_during_a_gc_pass_over_10000_extents() -> None:
    # 10,000 messages sent and deleted leave 10,000 unreferenced extents; one pass sweeps
    # them while a request is always in flight. Unpatched, the pass takes minutes (a
    # findAndRemove per extent) and every request waits for it.
    result = await probe(EXTENTS, request_timeout=5.0)
    assert result.latencies, "no request was made during the pass"
    slowest = max(result.latencies)
    assert slowest < 1.0 and result.gc_pass is not None, (
        f"a request waited {slowest:.1f} s during a GC pass over {EXTENTS} extents: "
        "is the Azurite patch applied (npm ci)?"
    )
    assert result.gc_pass.extents >= EXTENTS
