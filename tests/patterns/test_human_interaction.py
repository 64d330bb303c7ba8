"""Human interaction (expense_approval): a decision, or escalation at a 72-hour deadline."""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from durable_host.taskhub.events import TimerCreated, TimerFired
from durable_host.testing import DurableTestEnvironment

EXPENSE = {
    "expenseId": "EXP-77",
    "amount": 412.50,
    "submitter": "sam@contoso.example",
    "approver": "lena@contoso.example",
}


async def test_the_approver_decides(durable_env: DurableTestEnvironment) -> None:
    client = durable_env.client
    instance_id = await client.start_new("expense_approval", client_input=EXPENSE)
    waiting = await durable_env.wait_for_custom_status(
        instance_id, lambda status: bool(status) and status["state"] == "awaitingApproval"
    )
    assert waiting.custom_status["approver"] == EXPENSE["approver"]

    decision = {"approved": True, "by": "lena", "comment": "within budget"}
    await client.raise_event(instance_id, "ApprovalDecision", decision)
    status = await durable_env.wait_for_completion(instance_id)

    assert status.runtime_status == df.OrchestrationRuntimeStatus.Completed
    assert status.output["status"] == "approved"
    assert status.output["decidedBy"] == "lena"
    assert status.custom_status == {"state": "decided"}


async def test_a_72_hour_timeout_escalates_in_virtual_time(
    durable_env: DurableTestEnvironment,
) -> None:
    started_at = durable_env.now()
    instance_id = await durable_env.start_orchestration("expense_approval", EXPENSE)
    # Real time would take 72 hours; the wait's wall-clock deadline fails a run that waits.
    status = await durable_env.wait_for_completion(instance_id, timeout=60)

    assert status.output["status"] == "escalated"
    assert status.output["escalatedTo"]
    assert durable_env.now() - started_at >= timedelta(hours=72)
    history = await durable_env.history(instance_id)
    fired = [e for e in history if isinstance(e, TimerFired)]
    created = [e for e in history if isinstance(e, TimerCreated)]
    assert len(fired) == len(created) == 1
    assert fired[0].fire_at - started_at >= timedelta(hours=72)
