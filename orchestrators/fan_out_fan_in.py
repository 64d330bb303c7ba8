"""Fan-out/fan-in: analyse a dynamic number of documents in parallel, then merge the counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import (
    InvalidInputError,
    require_int,
    require_list,
    require_mapping,
    require_str,
)

bp = df.Blueprint()

MAX_DOCUMENTS = 500


@bp.orchestration_trigger(context_name="context")
def analyze_documents(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, dict[str, Any]]:
    request = require_mapping(context.get_input(), "Document analysis request")
    what = "Document analysis request"
    documents = require_list(request, "documents", what, min_items=1)
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInputError(
            f"{what}: at most {MAX_DOCUMENTS} documents per run, got {len(documents)}; "
            "split the request."
        )
    top = require_int(request, "top", what, minimum=1, maximum=100, default=5)
    names = [
        require_str(require_mapping(d, "Each document"), "name", "Each document") for d in documents
    ]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInputError(f"{what}: document names must be unique, repeated: {duplicates}.")

    # Fan out: one activity per document, all scheduled before the first yield.
    tasks = [context.call_activity("analyze_document", document) for document in documents]
    results: list[dict[str, Any]] = yield context.task_all(tasks)

    # Fan in: orchestrator code may compute, as long as it is deterministic.
    totals: Counter[str] = Counter()
    for result in results:
        totals.update(result["topWords"])
    top_words = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:top]
    return {
        "documents": len(results),
        "totalWords": sum(result["words"] for result in results),
        "wordsPerDocument": {result["name"]: result["words"] for result in results},
        "topWords": [{"word": word, "count": count} for word, count in top_words],
    }
