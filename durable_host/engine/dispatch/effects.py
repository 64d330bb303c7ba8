"""What one work item writes: its messages, its history rows and where they go, its
Instances row; the checkpoint (checkpoint.py) writes them, in the provider's order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from durable_host.engine.replay.decision import Outbound
from durable_host.taskhub.events import HistoryEvent

__all__ = ["EpisodeEffects", "HistoryWrite", "WorkItemKind"]


class HistoryWrite(Enum):
    """Where an episode's history rows go."""

    APPEND = "append"  # after the rows stored so far
    NEW_GENERATION = "new generation"  # a continue-as-new: the new generation's rows from row 0
    REWRITE = "rewrite"  # a rewind: the kept history and the episode's rows from row 0


class WorkItemKind(Enum):
    """Whose work item: the checkpoint's order is the same, two of its steps differ."""

    ORCHESTRATION = "orchestration"
    # An entity batch: its history write is retried through a short outage (its replies are
    # out), and its Instances row merged without a condition (instance_row.py).
    ENTITY = "entity"


@dataclass(frozen=True)
class EpisodeEffects:
    """What one episode (or the last generation of a continue-as-new, or an entity's
    batch) writes."""

    outbound: list[Outbound]
    events: list[HistoryEvent]
    history_write: HistoryWrite
    # The episode's number in its execution, stamped on the messages it sends (None: an
    # entity's messages carry none).
    episode: int | None
    row_fields: dict[str, Any]
    terminal: bool
    kind: WorkItemKind = WorkItemKind.ORCHESTRATION
