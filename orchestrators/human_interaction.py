"""Human interaction: an expense waits for an approver's decision, or escalates on timeout.

The approver answers by raising the `ApprovalDecision` event through the instance's
`sendEventPostUri` with a body such as {"approved": true, "by": "lena", "comment": "ok"}.
Whichever comes first wins: the event (the deadline timer is then cancelled, so the
orchestration can finish without waiting for it) or the timer (the request escalates).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from orchestrators._validation import (
    InvalidInputError,
    require_int,
    require_mapping,
    require_number,
    require_str,
)

bp = df.Blueprint()

EVENT_NAME = "ApprovalDecision"
DEFAULT_TIMEOUT_SECONDS = 72 * 3600


def parse_decision(payload: Any, approver: str) -> dict[str, Any]:
    """An approver's answer: `approved` is required, `by` defaults to the approver."""
    what = f"The {EVENT_NAME} event"
    data = require_mapping(payload, what)
    approved = data.get("approved")
    if not isinstance(approved, bool):
        raise InvalidInputError(f'{what} must carry "approved": true or false, got {approved!r}.')
    decided_by = data.get("by") or approver
    comment = data.get("comment") or ""
    return {"approved": approved, "decidedBy": str(decided_by), "comment": str(comment)}


@bp.orchestration_trigger(context_name="context")
def expense_approval(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, dict[str, Any]]:
    what = "Expense"
    expense = require_mapping(context.get_input(), what)
    expense_id = require_str(expense, "expenseId", what)
    request: dict[str, Any] = {
        "expenseId": expense_id,
        "amount": require_number(expense, "amount", what, minimum=0.01),
        "submitter": require_str(expense, "submitter", what),
        "approver": require_str(expense, "approver", what),
    }
    timeout = require_int(
        expense,
        "timeoutSeconds",
        what,
        minimum=1,
        maximum=30 * 86400,
        default=DEFAULT_TIMEOUT_SECONDS,
    )
    deadline = context.current_utc_datetime + timedelta(seconds=timeout)
    request["deadline"] = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")

    notification = yield context.call_activity("request_approval", request)
    context.set_custom_status(
        {
            "state": "awaitingApproval",
            "approver": request["approver"],
            "deadline": request["deadline"],
        }
    )

    timeout_task = context.create_timer(deadline)
    decision_task = context.wait_for_external_event(EVENT_NAME)
    winner = yield context.task_any([decision_task, timeout_task])

    if winner is decision_task:
        # A pending timer would keep the instance Running until the deadline: cancel it.
        timeout_task.cancel()
        decision = parse_decision(decision_task.result, request["approver"])
        receipt = yield context.call_activity("record_decision", {**request, **decision})
        context.set_custom_status({"state": "decided"})
        return {
            "expenseId": expense_id,
            "status": "approved" if decision["approved"] else "rejected",
            "decidedBy": decision["decidedBy"],
            "comment": decision["comment"],
            "notifications": [notification, receipt],
        }

    escalation = yield context.call_activity("escalate_approval", request)
    context.set_custom_status({"state": "escalated"})
    return {
        "expenseId": expense_id,
        "status": "escalated",
        "escalatedTo": escalation["to"],
        "notifications": [notification, escalation],
    }
