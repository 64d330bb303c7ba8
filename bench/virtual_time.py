"""Wall time of long waits under virtual time, on the repo's own app (prints figures).

Run: .venv/bin/python bench/virtual_time.py
The issue's goal is "well under a second" for each; correctness of these same runs is
asserted in tests/patterns/.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from durable_host.server.azurite import AzuriteProcess  # noqa: E402
from durable_host.testing import DurableTestEnvironment  # noqa: E402

HOUR = 3600
DAY = 24 * HOUR
CASES = [
    (
        "72-hour approval timeout",
        "expense_approval",
        {
            "expenseId": "EXP-1",
            "amount": 10.0,
            "submitter": "sam@contoso.example",
            "approver": "lena@contoso.example",
        },
    ),
    (
        "hourly monitor polls for a day",
        "monitor_build",
        {"buildId": "stuck-1", "pollIntervalSeconds": HOUR, "expirySeconds": DAY},
    ),
    (
        "30-day eternal orchestration (daily cycles)",
        "metrics_rollup",
        {"key": "cpu", "intervalSeconds": DAY, "maxCycles": 30},
    ),
]


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    with AzuriteProcess(ROOT) as azurite:
        for label, name, request in CASES:
            env = await DurableTestEnvironment.start(ROOT, storage=azurite.connection_string)
            try:
                instance_id = await env.start_orchestration(name, request)
                began = time.perf_counter()
                await env.wait_for_completion(instance_id, timeout=60)
                wall = time.perf_counter() - began
                print(f"{label}: {wall:.2f} s wall time")
            finally:
                await env.close()


if __name__ == "__main__":
    asyncio.run(main())
