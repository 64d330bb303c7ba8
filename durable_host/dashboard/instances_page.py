"""The instance list (filters, counts, continuation paging, auto-refresh) and its bulk actions.

A bulk action is confirmed on a page naming how many instances it will touch; the
confirmation carries that number back, and the action runs only if the filtered set
still has that many (otherwise the new number is confirmed again).
"""

from __future__ import annotations

from aiohttp import web

from durable_host.dashboard.hubs import DashboardHub
from durable_host.dashboard.pages import action, hub_of, hub_url, redirect
from durable_host.dashboard.queries import (
    BulkAction,
    InstanceFilter,
    bulk_targets,
    count_by_status,
    run_bulk,
)
from durable_host.dashboard.render import render

__all__ = ["bulk", "instances"]

_DEFAULT_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 500
_REFRESH_CHOICES = (0, 5, 15, 60)
_PAST_TENSE = {
    BulkAction.TERMINATE: "Terminated",
    BulkAction.PURGE: "Purged",
    BulkAction.REWIND: "Rewound",
}


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


async def instances(request: web.Request) -> web.Response:
    hub = hub_of(request)
    query = request.query
    chosen = InstanceFilter.parse(query, query.getall("status", []))
    top = min(max(_int(query.get("top"), _DEFAULT_PAGE_SIZE), 1), _MAX_PAGE_SIZE)
    refresh = _int(query.get("refresh"), 0)
    refresh = refresh if refresh in _REFRESH_CHOICES else 0
    token = query.get("token") or None
    page = await hub.client.list_instances(chosen.query(), top=top, continuation_token=token)
    counts = await count_by_status(hub.client, chosen.query(with_statuses=False))
    keep = {"top": str(top) if top != _DEFAULT_PAGE_SIZE else "", "refresh": str(refresh or "")}
    return render(
        request,
        "instances.html",
        hub=hub,
        page_title="Instances",
        filter=chosen,
        instances=page.instances,
        counts=counts,
        top=top,
        refresh=refresh,
        refresh_choices=_REFRESH_CHOICES,
        first_page=token is None,
        list_url=f"{hub_url(hub)}?{chosen.query_string(**keep)}",
        next_url=(
            f"{hub_url(hub)}?{chosen.query_string(**keep, token=page.continuation_token)}"
            if page.continuation_token
            else ""
        ),
        all_url=f"{hub_url(hub)}?{chosen.with_statuses(frozenset()).query_string(**keep)}",
        status_url=lambda status: (
            f"{hub_url(hub)}?" + chosen.with_statuses(frozenset({status})).query_string(**keep)
        ),
        bulk_actions=list(BulkAction),
    )


@action
async def bulk(request: web.Request, hub: DashboardHub, form: dict[str, str]) -> web.Response:
    statuses = (await request.post()).getall("status", [])
    chosen = InstanceFilter.parse(form, [s for s in statuses if isinstance(s, str)])
    try:
        chosen_action = BulkAction(form.get("action", ""))
    except ValueError:
        return redirect(f"{hub_url(hub)}?{chosen.query_string(error='Unknown bulk action.')}")
    targets = await bulk_targets(hub.client, chosen, chosen_action)
    confirmed = _int(form.get("confirmed_count"), -1)
    if confirmed != len(targets) or not targets:
        return render(
            request,
            "confirm.html",
            hub=hub,
            page_title="Confirm",
            filter=chosen,
            action=chosen_action,
            targets=targets[:20],
            count=len(targets),
            changed=confirmed >= 0,
            back_url=f"{hub_url(hub)}?{chosen.query_string()}",
        )
    reason = "Bulk action in the dashboard"
    result = await run_bulk(hub.client, chosen_action, targets, reason=reason)
    notice = f"{_PAST_TENSE[chosen_action]} {result.done} instance(s)."
    if result.failed:
        notice += f" {len(result.failed)} had changed meanwhile and were left alone."
    return redirect(f"{hub_url(hub)}?{chosen.query_string(notice=notice)}")
