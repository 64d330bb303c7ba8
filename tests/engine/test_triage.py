"""The triage of a control-queue batch, verdict by verdict (pure: no storage, no engine)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

from durable_host.engine.dispatch.sessions import Session
from durable_host.engine.dispatch.triage import (
    NOT_STARTED_TRIES,
    START_ROW_TRIES,
    TriageVerdict,
    needs_row_execution,
    triage,
)
from durable_host.taskhub.events import (
    EventRaised,
    EventSent,
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    HistoryEvent,
    MessageData,
    OrchestrationInstance,
    OrchestrationStatus,
    OrchestratorStarted,
    ParentInstance,
    TaskCompleted,
    TaskMessage,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from durable_host.taskhub.storage import ReceivedMessage

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
ID = "o"
_ids = itertools.count()


def start(execution: str = "e1", parent: ParentInstance | None = None) -> ExecutionStarted:
    return ExecutionStarted(
        timestamp=NOW,
        orchestration_instance=OrchestrationInstance(ID, execution),
        name="orch",
        parent_instance=parent,
    )


def session(*events: HistoryEvent, execution: str = "e1") -> Session:
    history: list[HistoryEvent] = [OrchestratorStarted(timestamp=NOW), start(execution)]
    return Session(ID, execution, [*history, *events])


def finished(status: OrchestrationStatus = OrchestrationStatus.Completed) -> Session:
    return session(ExecutionCompleted(timestamp=NOW, orchestration_status=status))


def message(
    event: HistoryEvent,
    *,
    execution: str = "",
    dequeue_count: int = 1,
    sender: str = "",
) -> ReceivedMessage:
    data = MessageData(
        activity_id="a",
        task_message=TaskMessage(
            event=event, orchestration_instance=OrchestrationInstance(ID, execution)
        ),
        sender=OrchestrationInstance(sender, ""),
    )
    return ReceivedMessage(
        queue="q",
        message_id=f"m{next(_ids)}",
        pop_receipt="r",
        dequeue_count=dequeue_count,
        insertion_time=NOW,
        data=data,
        body="",
    )


def verdicts(
    of: Session, *batch: ReceivedMessage, row_execution_id: str | None = None
) -> list[TriageVerdict]:
    sorted_out = triage(of, list(batch), now=NOW, row_execution_id=row_execution_id)
    by_message: dict[str, TriageVerdict] = {}
    for msg, _ in sorted_out.accept:
        by_message[msg.message_id] = TriageVerdict.ACCEPT
    for msg in sorted_out.discard:
        by_message[msg.message_id] = TriageVerdict.DISCARD
    for msg in sorted_out.defer:
        by_message[msg.message_id] = TriageVerdict.DEFER
    for msg in sorted_out.hold:
        by_message[msg.message_id] = TriageVerdict.HOLD
    for msg, _ in sorted_out.hide:
        by_message[msg.message_id] = TriageVerdict.HIDE
    return [by_message[m.message_id] for m in batch]


def scheduled(task_id: int = 0) -> TaskScheduled:
    return TaskScheduled(timestamp=NOW, event_id=task_id, name="act")


def completed(task_id: int = 0) -> TaskCompleted:
    return TaskCompleted(timestamp=NOW, task_scheduled_id=task_id, result="1")


# -- ACCEPT -------------------------------------------------------------------------------------


def test_a_first_start_and_a_result_of_a_scheduled_task_are_accepted() -> None:
    assert verdicts(Session(ID), message(start())) == [TriageVerdict.ACCEPT]
    assert verdicts(session(scheduled()), message(completed())) == [TriageVerdict.ACCEPT]


def test_a_restart_is_accepted_once_the_instances_row_names_its_execution() -> None:
    done = finished()
    batch = [message(start("e2"))]
    assert needs_row_execution(done, batch)
    sorted_out = triage(done, batch, now=NOW, row_execution_id="e2")
    assert [e for e in sorted_out.events] == [batch[0].data.task_message.event]  # type: ignore[union-attr]
    assert sorted_out.restart is not None
    assert sorted_out.restart.orchestration_instance.execution_id == "e2"


def test_a_parent_reusing_a_finished_childs_id_needs_no_row() -> None:
    parent = ParentInstance("p", None, OrchestrationInstance("p", "pe"), 3)
    done = finished()
    batch = [message(start("e2", parent))]
    assert not needs_row_execution(done, batch)
    assert verdicts(done, *batch) == [TriageVerdict.ACCEPT]


def test_a_rewind_of_a_failed_instance_is_accepted_and_of_a_completed_one_discarded() -> None:
    rewind = ExecutionRewound(timestamp=NOW, reason="again")
    assert verdicts(finished(OrchestrationStatus.Failed), message(rewind)) == [TriageVerdict.ACCEPT]
    assert verdicts(finished(), message(rewind)) == [TriageVerdict.DISCARD]


# -- DISCARD ------------------------------------------------------------------------------------


def test_duplicates_are_discarded() -> None:
    assert verdicts(session(scheduled(), completed()), message(completed())) == [
        TriageVerdict.DISCARD
    ]
    # The second copy of a result in one batch is a duplicate of the first.
    one, two = message(completed()), message(completed())
    assert verdicts(session(scheduled()), one, two) == [TriageVerdict.ACCEPT, TriageVerdict.DISCARD]
    assert verdicts(session(), message(start("e1"))) == [TriageVerdict.DISCARD]


def test_a_start_of_a_running_instance_and_a_second_start_in_a_batch_are_discarded() -> None:
    assert verdicts(session(), message(start("e2"))) == [TriageVerdict.DISCARD]
    first, second = message(start("e1")), message(start("e2"))
    assert verdicts(Session(ID), first, second) == [TriageVerdict.ACCEPT, TriageVerdict.DISCARD]


def test_messages_for_another_execution_or_a_finished_instance_are_discarded() -> None:
    stale = message(completed(), execution="e0")
    assert verdicts(session(scheduled()), stale) == [TriageVerdict.DISCARD]
    assert verdicts(finished(), message(completed())) == [TriageVerdict.DISCARD]


def test_a_stray_for_an_instance_that_never_started_is_discarded_after_its_tries() -> None:
    late = message(completed(), dequeue_count=NOT_STARTED_TRIES + 1)
    assert verdicts(Session(ID), late) == [TriageVerdict.DISCARD]
    event = EventRaised(timestamp=NOW, name="Approval", input="true")
    assert verdicts(Session(ID), message(event)) == [TriageVerdict.DISCARD]


def test_a_second_reply_to_one_entity_call_is_discarded() -> None:
    request = {"op": "get", "signal": False, "id": "r-1", "parent": ID}
    call = EventSent(
        timestamp=NOW, event_id=0, instance_id="@c@k", name="op", input=json.dumps(request)
    )
    reply = EventRaised(timestamp=NOW, name="r-1", input='{"result":"1"}')
    first, again = message(reply, sender="@c@k"), message(reply, sender="@c@k")
    assert verdicts(session(call), first, again) == [TriageVerdict.ACCEPT, TriageVerdict.DISCARD]


def test_a_restart_whose_row_never_names_it_is_discarded_in_the_end() -> None:
    late = message(start("e2"), dequeue_count=START_ROW_TRIES)
    assert verdicts(finished(), late, row_execution_id="e1") == [TriageVerdict.DISCARD]


# -- DEFER --------------------------------------------------------------------------------------


def test_a_result_ahead_of_its_scheduling_event_is_deferred() -> None:
    assert verdicts(session(), message(completed(5))) == [TriageVerdict.DEFER]


def test_a_result_ahead_of_the_first_history_write_is_deferred() -> None:
    assert verdicts(Session(ID), message(completed())) == [TriageVerdict.DEFER]
    reply = EventRaised(timestamp=NOW, name="r-1", input="{}")
    assert verdicts(Session(ID), message(reply, sender="@c@k")) == [TriageVerdict.DEFER]


def test_an_entity_reply_ahead_of_its_call_is_deferred() -> None:
    reply = EventRaised(timestamp=NOW, name="r-9", input="{}")
    assert verdicts(session(), message(reply, sender="@c@k")) == [TriageVerdict.DEFER]


def test_a_restart_whose_row_is_not_written_yet_is_deferred() -> None:
    assert verdicts(finished(), message(start("e2")), row_execution_id="e1") == [
        TriageVerdict.DEFER
    ]
    assert verdicts(finished(), message(start("e2"))) == [TriageVerdict.DEFER]


def test_results_after_a_start_in_the_same_batch_wait_for_that_execution() -> None:
    started, result = message(start()), message(completed())
    assert verdicts(Session(ID), started, result) == [TriageVerdict.ACCEPT, TriageVerdict.DEFER]


# -- HOLD and HIDE ------------------------------------------------------------------------------


def test_a_suspended_instance_holds_all_but_management_events() -> None:
    suspended = session(scheduled(), ExecutionSuspended(timestamp=NOW))
    resume = message(ExecutionResumed(timestamp=NOW))
    assert verdicts(suspended, message(completed())) == [TriageVerdict.HOLD]
    assert verdicts(suspended, resume, message(completed())) == [
        TriageVerdict.ACCEPT,
        TriageVerdict.ACCEPT,
    ]
    suspend = message(ExecutionSuspended(timestamp=NOW))
    assert verdicts(session(scheduled()), suspend, message(completed())) == [
        TriageVerdict.ACCEPT,
        TriageVerdict.HOLD,
    ]


def test_a_timer_received_before_it_is_due_is_hidden_until_then() -> None:
    fire_at = NOW + timedelta(days=9)
    created = TimerCreated(timestamp=NOW, event_id=0, fire_at=fire_at)
    early = message(TimerFired(timestamp=NOW, timer_id=0, fire_at=fire_at))
    sorted_out = triage(session(created), [early], now=NOW)
    assert sorted_out.hide == [(early, 9 * 24 * 3600.0)]
    due = message(TimerFired(timestamp=NOW, timer_id=0, fire_at=NOW))
    assert verdicts(session(created), due) == [TriageVerdict.ACCEPT]


def test_only_a_restart_of_a_finished_instance_needs_the_row() -> None:
    assert not needs_row_execution(Session(ID), [message(start())])
    assert not needs_row_execution(session(), [message(start("e2"))])
    assert not needs_row_execution(finished(), [message(start("e1"))])
    assert not needs_row_execution(finished(), [message(completed())])
