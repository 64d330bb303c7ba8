"""Build the orchestration history the Durable extension sends, and run one episode.

The payload follows docs/protocol.md §1.1/§1.2: PascalCase DTFx events with
integer EventType, nulls kept, `"Version": ""` on ExecutionStarted, EventId set only on
TaskScheduled/SubOrchestrationInstanceCreated/TimerCreated/EventSent, IsPlayed true for
events of earlier episodes except OrchestratorStarted. OrchestratorStarted timestamps drive
`context.current_utc_datetime`.

Usage: start a history, run an episode, record what the host would have written for the
returned actions (`task_scheduled`, `timer_created`, ...), open the next episode with the
new events (`task_completed`, `timer_fired`, ...), run again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

T0 = datetime(2025, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
OUT_OF_PROC_LABEL = "$OutOfProcData$:"


class EventType:
    EXECUTION_STARTED = 0
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15


def dotnet_time(moment: datetime) -> str:
    """.NET round-trip format: 7 fractional digits and Z."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


@dataclass(frozen=True)
class Episode:
    """What the SDK returned for one episode (OrchestratorState, schema V3)."""

    state: dict[str, Any]
    # The exception text before the out-of-proc label when the orchestrator raised.
    failure: str | None

    @property
    def actions(self) -> list[dict[str, Any]]:
        outer = self.state["actions"]
        # V2+: one append-only inner list; the host rejects any other outer length.
        assert len(outer) == 1, f"expected [[...]] actions, got {outer!r}"
        inner: list[dict[str, Any]] = outer[0]
        return inner

    @property
    def is_done(self) -> bool:
        return bool(self.state["isDone"])

    @property
    def output(self) -> Any:
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        return self.state.get("customStatus")

    @property
    def error(self) -> str | None:
        return self.state.get("error")


class History:
    """One orchestration execution's history, episode by episode."""

    def __init__(
        self,
        name: str,
        input_value: Any = None,
        *,
        instance_id: str = "inst-0001",
        at: datetime = T0,
        input_as_text: bool = True,
        parent_instance_id: str | None = None,
    ) -> None:
        self.name = name
        self.instance_id = instance_id
        self.now = at
        self.events: list[dict[str, Any]] = []
        self._next_sequence = 0
        # After a Python start_new the host hands the input over as a JSON string holding
        # JSON text; after an HTTP start with a JSON body, as the parsed JSON.
        stored = None if input_value is None else json.dumps(input_value)
        self.input: Any = stored if input_as_text or stored is None else input_value
        self.parent_instance_id = parent_instance_id
        self._append(EventType.ORCHESTRATOR_STARTED)
        self._append(
            EventType.EXECUTION_STARTED,
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": "exec-0001"},
            ParentInstance=None,
            Name=name,
            Version="",
            Input=stored,
            Tags=None,
            Correlation=None,
            ScheduledStartTime=None,
            Generation=0,
        )

    # -- payload and execution ------------------------------------------------------------

    def context_json(self) -> str:
        payload = {
            "history": self.events,
            "input": self.input,
            "instanceId": self.instance_id,
            "isReplaying": self.events[1]["IsPlayed"],
            "parentInstanceId": self.parent_instance_id,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00",
            "maximumShortTimerDuration": "6.00:00:00",
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        }
        return json.dumps(payload, indent=2)

    def run(self, handle: Callable[[str], str]) -> Episode:
        """Run the orchestrator over the history so far, as the worker would."""
        try:
            text = handle(self.context_json())
        except Exception as raised:
            message = str(raised)
            if OUT_OF_PROC_LABEL not in message:
                raise
            before, _, state = message.partition(OUT_OF_PROC_LABEL)
            return Episode(json.loads(state), before.strip())
        return Episode(json.loads(text), None)

    # -- what the host writes for the actions of the current episode ---------------------

    def task_scheduled(self, name: str, input_text: str | None) -> int:
        return self._scheduled(
            EventType.TASK_SCHEDULED, Name=name, Version="", Input=json.dumps([input_text])
        )

    def timer_created(self, fire_at: datetime) -> int:
        return self._scheduled(EventType.TIMER_CREATED, FireAt=dotnet_time(fire_at))

    def sub_orchestration_created(self, name: str, instance_id: str, input_text: str) -> int:
        return self._scheduled(
            EventType.SUB_ORCHESTRATION_CREATED,
            Name=name,
            Version="",
            InstanceId=instance_id,
            Input=input_text,
        )

    def entity_call_sent(self, entity_instance_id: str, operation: str, request_id: str) -> int:
        """EventSent of a call_entity; the response later arrives as EventRaised(request_id)."""
        request = {
            "id": request_id,
            "op": operation,
            "signal": False,
            "input": None,
            "parent": self.instance_id,
            "parentExecution": "exec-0001",
        }
        return self._scheduled(
            EventType.EVENT_SENT,
            InstanceId=entity_instance_id,
            Name="op",
            Input=json.dumps(request),
        )

    # -- episodes -------------------------------------------------------------------------

    def next_episode(self, *, after: timedelta = timedelta(seconds=1)) -> History:
        """Close the current episode and open the next one, `after` later."""
        self._append(EventType.ORCHESTRATOR_COMPLETED)
        for event in self.events:
            # DTFx keeps IsPlayed false on OrchestratorStarted.
            event["IsPlayed"] = event["EventType"] != EventType.ORCHESTRATOR_STARTED
        self.now += after
        self._append(EventType.ORCHESTRATOR_STARTED)
        return self

    def task_completed(self, scheduled_id: int, result: Any) -> History:
        self._append(
            EventType.TASK_COMPLETED, TaskScheduledId=scheduled_id, Result=json.dumps(result)
        )
        return self

    def task_failed(self, scheduled_id: int, name: str, message: str) -> History:
        self._append(
            EventType.TASK_FAILED,
            TaskScheduledId=scheduled_id,
            Reason=f"Activity function '{name}' failed: {message}",
            Details='{"$type":"System.Exception, System.Private.CoreLib"}',
            FailureDetails=None,
        )
        return self

    def timer_fired(self, timer_id: int, fire_at: datetime) -> History:
        self._append(EventType.TIMER_FIRED, TimerId=timer_id, FireAt=dotnet_time(fire_at))
        return self

    def sub_orchestration_completed(self, scheduled_id: int, result: Any) -> History:
        self._append(
            EventType.SUB_ORCHESTRATION_COMPLETED,
            TaskScheduledId=scheduled_id,
            Result=json.dumps(result),
        )
        return self

    def sub_orchestration_failed(self, scheduled_id: int, reason: str) -> History:
        self._append(
            EventType.SUB_ORCHESTRATION_FAILED,
            TaskScheduledId=scheduled_id,
            Reason=reason,
            Details=None,
            FailureDetails=None,
        )
        return self

    def event_raised(self, name: str, value: Any) -> History:
        self._append(EventType.EVENT_RAISED, Name=name, Input=json.dumps(value))
        return self

    def entity_responded(self, request_id: str, result: Any) -> History:
        """The entity's answer to a call: EventRaised named after the request id."""
        return self.event_raised(request_id, {"result": json.dumps(result)})

    # -- internals ------------------------------------------------------------------------

    def _scheduled(self, event_type: int, **fields: Any) -> int:
        sequence = self._next_sequence
        self._next_sequence += 1
        self._append(event_type, event_id=sequence, **fields)
        return sequence

    def _append(self, event_type: int, *, event_id: int = -1, **fields: Any) -> None:
        self.events.append(
            {
                "EventType": event_type,
                "EventId": event_id,
                "IsPlayed": False,
                "Timestamp": dotnet_time(self.now),
                **fields,
            }
        )
