"""The determinism check (replay/determinism.py): what matches, and what the message says."""

from __future__ import annotations

import pytest

from durable_host.engine.replay.determinism import check_same_task, unscheduled_task_error
from durable_host.errors import NonDeterminismError
from durable_host.taskhub.events import TaskScheduled, TimerCreated
from tests.engine.replay._histories import INSTANCE, NAME, T0, ctx, scheduled


def test_names_match_case_insensitively_as_in_dtfx() -> None:
    check_same_task(ctx(), 0, (TaskScheduled, "Say_Hello"), scheduled(0, "say_hello"))


def test_a_timer_has_no_name_to_compare() -> None:
    check_same_task(
        ctx(), 3, (TimerCreated, None), TimerCreated(event_id=3, timestamp=T0, fire_at=T0)
    )


def test_another_name_at_the_same_id_is_refused_with_both_names() -> None:
    with pytest.raises(NonDeterminismError) as caught:
        check_same_task(ctx(), 4, (TaskScheduled, "charge"), scheduled(4, "refund"))
    message = str(caught.value)
    assert "'refund'" in message and "'charge'" in message
    assert "sequence ID 4" in message and f"'{NAME}'" in message and f"'{INSTANCE}'" in message


def test_another_kind_at_the_same_id_is_refused() -> None:
    with pytest.raises(NonDeterminismError, match="a durable timer"):
        check_same_task(ctx(), 0, (TimerCreated, None), scheduled(0, "work"))


def test_a_stored_task_nobody_schedules_names_its_kind_and_id() -> None:
    error = unscheduled_task_error(ctx(), scheduled(7, "audit"))
    assert isinstance(error, NonDeterminismError)
    assert "an activity task with sequence ID 7 and name 'audit'" in str(error)
