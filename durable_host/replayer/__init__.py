"""Replay recorded orchestration histories against the current code, with no side effects.

`recorded.py` reads histories (task hub or an exported JSON file), `walk.py` checks the
orchestrator's actions against them with the engine's own replay walk, `run.py` runs the
orchestrator through the real SDK and gives one `ReplayReport` per instance.
"""

from durable_host.replayer.recorded import RecordedHistory, export_document
from durable_host.replayer.run import HistoryReplayer
from durable_host.replayer.verdicts import Divergence, ReplayReport, SourceLine, Verdict

__all__ = [
    "Divergence",
    "HistoryReplayer",
    "RecordedHistory",
    "ReplayReport",
    "SourceLine",
    "Verdict",
    "export_document",
]
