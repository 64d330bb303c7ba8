"""Activity of the fan-out/fan-in pattern: analyse one document."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import InvalidInputError, require_mapping, require_str

bp = df.Blueprint()

# Too common to say anything about a document.
STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is", "it"}
    | {"its", "of", "on", "or", "that", "the", "to", "was", "were", "with"}
)
WORD = re.compile(r"[a-z0-9']+")
TOP_WORDS_PER_DOCUMENT = 20


@bp.activity_trigger(input_name="document")
def analyze_document(document: Any) -> dict[str, Any]:
    """Count the words of one document and report its most frequent non-stop words."""
    data = require_mapping(document, "Document")
    name = require_str(data, "name", "Document")
    text = data.get("text")
    if not isinstance(text, str):
        # An empty document is fine (it counts zero words); a missing one is a caller bug.
        raise InvalidInputError(f"Document '{name}': field 'text' must be a string.")
    words = WORD.findall(text.lower())
    counts = Counter(word for word in words if word not in STOP_WORDS)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_WORDS_PER_DOCUMENT]
    return {"name": name, "words": len(words), "topWords": dict(top)}
