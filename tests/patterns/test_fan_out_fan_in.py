"""Fan-out/fan-in (analyze_documents): one activity per document, merged word counts."""

from __future__ import annotations

import asyncio
from typing import Any

from durable_host.taskhub.events import TaskScheduled
from durable_host.testing import DurableTestEnvironment

REQUEST = {
    "top": 3,
    "documents": [
        {"name": "q1", "text": "Revenue grew in the north region."},
        {"name": "q2", "text": "Revenue held; margin fell."},
        {"name": "q3", "text": "North region margin grew, revenue grew."},
    ],
}


async def test_the_word_counts_are_merged(durable_env: DurableTestEnvironment) -> None:
    output = await durable_env.run("analyze_documents", REQUEST)

    assert output["wordsPerDocument"] == {"q1": 6, "q2": 4, "q3": 6}
    assert output["topWords"] == [
        {"word": "grew", "count": 3},
        {"word": "revenue", "count": 3},
        {"word": "margin", "count": 2},
    ]


async def test_the_documents_are_analysed_in_parallel(durable_env: DurableTestEnvironment) -> None:
    # Each analysis waits until all three run at once: only a real fan-out can finish.
    running: set[str] = set()
    all_started = asyncio.Event()

    async def analyze(document: dict[str, Any]) -> dict[str, Any]:
        running.add(document["name"])
        if len(running) == 3:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), 10)
        return {"name": document["name"], "words": 1, "topWords": {document["name"]: 1}}

    durable_env.replace_activity("analyze_document", analyze)
    instance_id = await durable_env.start_orchestration("analyze_documents", REQUEST)
    status = await durable_env.wait_for_completion(instance_id)

    assert status.output["totalWords"] == 3
    history = await durable_env.history(instance_id)
    assert [e.name for e in history if isinstance(e, TaskScheduled)] == ["analyze_document"] * 3
