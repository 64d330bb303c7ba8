"""Recorded histories: read from a task hub (read-only) or from an exported JSON document."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_host.errors import ConfigurationError, InstanceNotFoundError, MessageFormatError
from durable_host.taskhub.event_json import event_from_json, event_to_json
from durable_host.taskhub.events import (
    ExecutionCompleted,
    ExecutionStarted,
    HistoryEvent,
    OrchestrationStatus,
)
from durable_host.taskhub.storage import TaskHubStorage
from durable_host.taskhub.storage_history import odata_quote

DOCUMENT_FORMAT = "durable-host-history/1"


@dataclass(frozen=True)
class RecordedHistory:
    """One execution's history, oldest event first, as the task hub stores it."""

    instance_id: str
    name: str
    execution_id: str | None
    events: list[HistoryEvent]

    @property
    def completion(self) -> ExecutionCompleted | None:
        return next((e for e in self.events if isinstance(e, ExecutionCompleted)), None)

    @property
    def status(self) -> OrchestrationStatus:
        done = self.completion
        return OrchestrationStatus.Running if done is None else done.orchestration_status

    def to_document(self) -> dict[str, Any]:
        return export_document(self.instance_id, self.name, self.execution_id, self.events)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RecordedHistory:
        raw = document.get("history")
        if not isinstance(raw, list):
            raise MessageFormatError(
                "A recorded history is a JSON object with a 'history' list of events, as "
                "`durable-host export` writes it."
            )
        events = [event_from_json(item) for item in raw]
        started = _started(events)
        return cls(
            instance_id=str(
                document.get("instanceId") or started.orchestration_instance.instance_id
            ),
            name=str(document.get("name") or started.name),
            execution_id=document.get("executionId") or started.orchestration_instance.execution_id,
            events=events,
        )

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any]) -> RecordedHistory:
        """From a document (dict) or the path of a JSON file holding one."""
        if isinstance(source, Mapping):
            return cls.from_document(source)
        try:
            document = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"Could not read the recorded history {source}: {exc}. Write one with "
                "`durable-host export --instance ID > history.json`."
            ) from exc
        return cls.from_document(document)


def export_document(
    instance_id: str, name: str, execution_id: str | None, events: Iterable[HistoryEvent]
) -> dict[str, Any]:
    """The JSON form of a recorded history (events in the SDK's PascalCase history form)."""
    return {
        "format": DOCUMENT_FORMAT,
        "instanceId": instance_id,
        "name": name,
        "executionId": execution_id,
        "history": [event_to_json(e, with_type=False) for e in events],
    }


def _started(events: list[HistoryEvent]) -> ExecutionStarted:
    started = next((e for e in events if isinstance(e, ExecutionStarted)), None)
    if started is None:
        raise MessageFormatError(
            "The recorded history has no ExecutionStarted event: export the whole history "
            "of one execution."
        )
    return started


async def read_recorded(storage: TaskHubStorage, instance_id: str) -> RecordedHistory:
    """The latest execution of `instance_id`; reads only (nothing is written)."""
    load = await storage.load_history(instance_id)
    if not load.events:
        raise InstanceNotFoundError(
            f"No history for instance '{instance_id}' in task hub '{storage.names.hub}': "
            "check the instance id, the --hub name and the --connection."
        )
    started = _started(load.events)
    return RecordedHistory(instance_id, started.name, load.execution_id, load.events)


async def select_instances(
    storage: TaskHubStorage, statuses: Iterable[OrchestrationStatus] | None
) -> list[str]:
    """Ids of the hub's orchestration instances (entities left out), optionally by status."""
    wanted = list(statuses or [])
    filter_text = (
        " or ".join(f"RuntimeStatus eq {odata_quote(s.name)}" for s in wanted) if wanted else None
    )
    found: list[str] = []
    token: str | None = None
    while True:
        records, token = await storage.query_instances(
            filter_text, top=1000, continuation_token=token
        )
        found.extend(r.instance_id for r in records if not r.instance_id.startswith("@"))
        if not token:
            return found
