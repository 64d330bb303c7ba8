"""The shapes of the official v1 samples (Azure/azure-functions-durable-python `samples/`),
driven over HTTP as their READMEs do: POST the starter, follow statusQueryGetUri.

Each app in tests/apps/samples_v1 is written in our own words after one sample that runs
without outside services (function_chaining, function_chaining_custom_status,
counter_entity, simple_sub_orchestration, serialize_arguments); the bindings, the starter's
signature and the output binding are the sample's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from durable_host.testing import DurableTestEnvironment
from tests.e2e.user import start, wait_until_done

SAMPLES = Path(__file__).resolve().parent.parent / "apps" / "samples_v1"

# sample folder -> (orchestrator to start, expected output, expected custom status)
CASES: dict[str, tuple[str, Any, Any]] = {
    "function_chaining": (
        "E1_HelloSequence",
        ["Hello Lisbon!", "Hello Nairobi!", "Hello Quito!"],
        None,
    ),
    "function_chaining_custom_status": ("DurableOrchestration", 3, "1 -> 2 -> 3"),
    "counter_entity": ("DurableOrchestration", 3, None),
    # These two use the 1.x `orchestrationClient` binding name.
    "simple_sub_orchestration": ("DurableOrchestrator", "Hello Reykjavik!", None),
    "serialize_arguments": ("DurableOrchestration", [7, 14], None),
}


@pytest.mark.parametrize("sample", sorted(CASES))
async def test_the_sample_runs_through_its_http_starter(
    sample: str, azurite: str, http: aiohttp.ClientSession
) -> None:
    orchestrator, output, custom_status = CASES[sample]
    async with await DurableTestEnvironment.start(SAMPLES / sample, storage=azurite) as env:
        started = await start(http, env.host.base_url, orchestrator)
        body = await wait_until_done(http, started)
        assert body["runtimeStatus"] == "Completed", body["output"]
        assert body["output"] == output
        assert body["customStatus"] == custom_status
        if sample == "counter_entity":
            url = f"{env.host.base_url}/api/entity/Counter/myCounter"
            async with http.get(url) as response:
                assert response.status == 200
                assert json.loads(await response.text()) == {
                    "entity": "Counter",
                    "key": "myCounter",
                    "state": 3,
                }
