"""Replay recorded orchestration histories against the current code, with no side effects.

`recorded.py` reads histories (task hub or an exported JSON file), `walk.py` checks the
orchestrator's actions against them with the engine's own replay walk, `run.py` runs the
orchestrator through the real SDK and gives one `ReplayReport` per instance.

`HistoryReplayer` is imported on first use, and each protocol's replay on its first history
(`json_run.py` on the 1.x SDK, `proto_run.py` on durabletask): an environment may have one SDK
generation or none (`export` needs neither).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from durable_host.history_check.recorded import RecordedHistory, export_document
from durable_host.history_check.verdicts import Divergence, ReplayReport, SourceLine, Verdict

if TYPE_CHECKING:
    from durable_host.history_check.run import HistoryReplayer

__all__ = [
    "Divergence",
    "HistoryReplayer",
    "RecordedHistory",
    "ReplayReport",
    "SourceLine",
    "Verdict",
    "export_document",
]


def __getattr__(name: str) -> Any:
    if name != "HistoryReplayer":
        raise AttributeError(f"module 'durable_host.history_check' has no attribute {name!r}")
    from durable_host.history_check.run import HistoryReplayer

    return HistoryReplayer
