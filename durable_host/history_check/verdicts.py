"""What replaying one recorded history found: ok, non-deterministic (where), or failed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Verdict(enum.Enum):
    OK = "ok"
    NON_DETERMINISTIC = "non-deterministic"
    FAILED = "failed to replay"


@dataclass(frozen=True)
class SourceLine:
    """Where in the app the orchestrator asked for the action that differs."""

    path: str
    line: int
    text: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" + (f": {self.text}" if self.text else "")


@dataclass(frozen=True)
class Divergence:
    """The first point where the code no longer does what the history recorded.

    `expected` is what the history holds, `got` what the current code does there;
    `event_index` is the position of the recorded event in the history (None when the
    history ends where the code goes on), `sequence_id` the task's DTFx sequence id.
    """

    expected: str
    got: str
    event_index: int | None
    sequence_id: int | None
    source: SourceLine | None

    def describe(self) -> str:
        where = f"history event #{self.event_index}" if self.event_index is not None else "end"
        seq = f", sequence id {self.sequence_id}" if self.sequence_id is not None else ""
        text = f"at {where}{seq}: expected {self.expected}, got {self.got}"
        if self.source is not None:
            text += f"\n    at {self.source}"
        return text


@dataclass(frozen=True)
class ReplayReport:
    instance_id: str
    name: str
    verdict: Verdict
    divergence: Divergence | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    def describe(self) -> str:
        head = f"{self.instance_id} ({self.name}): {self.verdict.value}"
        if self.divergence is not None:
            return f"{head}\n  {self.divergence.describe()}"
        if self.error:
            return f"{head}\n  {self.error}"
        return head

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instanceId": self.instance_id,
            "name": self.name,
            "verdict": self.verdict.value,
        }
        if self.divergence is not None:
            d = self.divergence
            out["divergence"] = {
                "expected": d.expected,
                "got": d.got,
                "eventIndex": d.event_index,
                "sequenceId": d.sequence_id,
                "source": None
                if d.source is None
                else {"path": d.source.path, "line": d.source.line, "text": d.source.text},
            }
        if self.error:
            out["error"] = self.error
        return out
