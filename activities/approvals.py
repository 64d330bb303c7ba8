"""Activities of the human interaction pattern: expense approvals.

Notifications are simulated (no e-mail leaves this app): each activity returns the message
it would send, so the orchestration's output shows what a person would have received.
"""

from __future__ import annotations

import hashlib
from typing import Any

import azure.durable_functions as df

bp = df.Blueprint()

# Who gets the request when the approver does not answer in time.
ESCALATION_CONTACT = "finance-managers@contoso.example"


def _message_id(*parts: str) -> str:
    return "msg-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


@bp.activity_trigger(input_name="request")
def request_approval(request: dict[str, Any]) -> dict[str, Any]:
    """Ask the approver to decide on an expense before the deadline."""
    return {
        "messageId": _message_id("request", request["expenseId"], request["approver"]),
        "to": request["approver"],
        "subject": (
            f"Approve expense {request['expenseId']} of {request['amount']:.2f} EUR "
            f"from {request['submitter']} before {request['deadline']}"
        ),
    }


@bp.activity_trigger(input_name="decision")
def record_decision(decision: dict[str, Any]) -> dict[str, Any]:
    """Record the approver's decision and tell the submitter."""
    verdict = "approved" if decision["approved"] else "rejected"
    return {
        "messageId": _message_id("decision", decision["expenseId"], verdict),
        "to": decision["submitter"],
        "subject": f"Expense {decision['expenseId']} was {verdict} by {decision['decidedBy']}",
    }


@bp.activity_trigger(input_name="request")
def escalate_approval(request: dict[str, Any]) -> dict[str, Any]:
    """Hand an unanswered approval to the finance managers."""
    return {
        "messageId": _message_id("escalation", request["expenseId"]),
        "to": ESCALATION_CONTACT,
        "subject": (
            f"Expense {request['expenseId']} waited for {request['approver']} until "
            f"{request['deadline']}: please decide"
        ),
    }
