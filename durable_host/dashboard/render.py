"""Jinja2 templates of the dashboard, their filters, and how payloads are shown.

Payloads are JSON text as stored; they are shown pretty-printed, and cut past
DISPLAY_LIMIT characters with a link to download the whole value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from durable_host.dashboard.hubs import DashboardHub
from durable_host.dashboard.queries import RUNNING_STATES
from durable_host.taskhub.events import OrchestrationStatus

__all__ = ["DASHBOARD_PATH", "DISPLAY_LIMIT", "JsonValue", "json_value", "render"]

# Under the Durable extension's webhook path: the Functions host owns runtime/, so no app
# route can ever be served there.
DASHBOARD_PATH = "/runtime/webhooks/durabletask/dashboard"
DISPLAY_LIMIT = 16 * 1024
HUBS_KEY = web.AppKey("hubs", dict[str, DashboardHub])

_PACKAGE = Path(__file__).resolve().parent
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_PACKAGE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class JsonValue:
    """A payload ready to show: `text` is pretty JSON (or the raw text if it is not JSON).

    A JSON string whose text is itself a JSON object or array (a starter that passes its
    request body on as a string) would show as one escaped line: `text` is then that inner
    JSON, pretty-printed, and `raw` the value as stored, one click away in the page.
    """

    text: str
    size: int
    truncated: bool
    raw: str = ""

    @property
    def is_empty(self) -> bool:
        return self.size == 0

    @property
    def holds_json(self) -> bool:
        return bool(self.raw)


def json_value(raw: str | None) -> JsonValue:
    if raw is None or raw == "":
        return JsonValue(text="", size=0, truncated=False)
    try:
        value = json.loads(raw)
    except ValueError:
        return _shown(raw, raw)
    inner = _json_inside(value)
    if inner is not None:
        return _shown(_pretty(inner), raw, raw=raw[:DISPLAY_LIMIT])
    return _shown(_pretty(value), raw)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _shown(text: str, stored: str, *, raw: str = "") -> JsonValue:
    truncated = len(text) > DISPLAY_LIMIT
    return JsonValue(text=text[:DISPLAY_LIMIT], size=len(stored), truncated=truncated, raw=raw)


def _json_inside(value: Any) -> dict[str, Any] | list[Any] | None:
    """The object or array a JSON string holds as its text, else None (a plain string, or
    one holding a number or `true`, is shown as it is)."""
    if not isinstance(value, str) or value.lstrip()[:1] not in ("{", "["):
        return None
    try:
        inner = json.loads(value)
    except ValueError:
        return None
    return inner if isinstance(inner, (dict, list)) else None


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _seconds(total: float | None) -> str:
    if total is None:
        return ""
    if total < 1:
        return f"{total * 1000:.0f} ms"
    if total < 120:
        return f"{total:.1f} s"
    minutes, seconds = divmod(int(total), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


def _duration(start: datetime, end: datetime | None, status: OrchestrationStatus) -> str:
    """Created to last update (to now while it runs)."""
    if status in RUNNING_STATES:
        end = datetime.now(timezone.utc)
    if end is None:
        return ""
    return _seconds(max((end - start).total_seconds(), 0.0))


def _status_class(status: OrchestrationStatus | str) -> str:
    name = status.name if isinstance(status, OrchestrationStatus) else str(status)
    return "status-" + name.lower()


_ENVIRONMENT.filters.update(when=_when, seconds=_seconds, status_class=_status_class)
_ENVIRONMENT.globals.update(duration=_duration, statuses=list(OrchestrationStatus))


def render(
    request: web.Request, template: str, *, http_status: int = 200, **context: Any
) -> web.Response:
    hubs = request.config_dict[HUBS_KEY]
    page = _ENVIRONMENT.get_template(template).render(
        root=DASHBOARD_PATH,
        all_hubs=list(hubs.values()),
        notice=request.query.get("notice", ""),
        error=request.query.get("error", ""),
        **context,
    )
    return web.Response(text=page, status=http_status, content_type="text/html", charset="utf-8")
