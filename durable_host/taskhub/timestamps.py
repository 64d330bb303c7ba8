""".NET date and TimeSpan text formats used on the wire.

- Timestamps: the round-trip ("o") form DTFx writes, always 7 fractional digits
  and `Z`, e.g. `2025-01-01T00:00:00.1234560Z`. Python keeps microseconds, so
  the 7th digit is always 0 on write and truncated on read.
- TimeSpans: the constant ("c") form, `[-][d.]hh:mm:ss[.fffffff]`, e.g.
  `3.00:00:00` (host.json values, `longRunningTimerIntervalDuration`).
- Status times: `yyyy-MM-ddTHH:mm:ssZ`, as the Durable HTTP API formats
  `createdTime` / `lastUpdatedTime`.

Naive datetimes are rejected on write: every time in a task hub is UTC, and a
naive value is almost always a `datetime.now()` bug that would shift timers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = [
    "format_status_time",
    "format_timespan",
    "format_timestamp",
    "parse_timespan",
    "parse_timestamp",
]

_TIMESTAMP_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,7}))?"
    r"(?P<tz>Z|z|[+-]\d{2}:\d{2})?"
)

_TIMESPAN_RE = re.compile(
    r"(?P<sign>-)?"
    r"(?:(?P<days>\d+)\.)?"
    r"(?P<h>\d{1,2}):(?P<m>\d{1,2})"
    r"(?::(?P<s>\d{1,2})(?:\.(?P<frac>\d{1,7}))?)?"
)
_DAYS_ONLY_RE = re.compile(r"(?P<sign>-)?(?P<days>\d+)")


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(
            f"naive datetime {dt.isoformat()} cannot be written to the task hub: "
            "use an aware UTC datetime, e.g. datetime.now(timezone.utc)."
        )
    return dt.astimezone(timezone.utc)


def _seconds_text(dt: datetime) -> str:
    # strftime("%Y") does not zero-pad years below 1000 on Linux (DateTime.MinValue is year 1).
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )


def format_timestamp(dt: datetime) -> str:
    """`2025-01-01T00:00:00.1234560Z` (.NET "o" for a UTC DateTime)."""
    utc = _as_utc(dt)
    return f"{_seconds_text(utc)}.{utc.microsecond:06d}0Z"


def format_status_time(dt: datetime) -> str:
    """`2025-01-01T00:00:00Z` (Durable HTTP API status payload times)."""
    return f"{_seconds_text(_as_utc(dt))}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO timestamp into an aware UTC datetime.

    Accepts 0-7 fractional digits (the 7th is truncated) and `Z` or a numeric
    offset; a string without offset is taken as UTC, as DTFx times always are.
    """
    match = _TIMESTAMP_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not an ISO 8601 timestamp; expected e.g. '2025-01-01T00:00:00.1234567Z'."
        )
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    tz = match["tz"]
    tz_text = "+00:00" if tz in (None, "Z", "z") else tz
    try:
        parsed = datetime.fromisoformat(
            f"{match['date']}T{match['h']}:{match['m']}:{match['s']}.{frac}{tz_text}"
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid timestamp: {exc}.") from None
    return parsed.astimezone(timezone.utc)


def format_timespan(td: timedelta) -> str:
    """.NET TimeSpan "c" format: `3.00:00:00`, `00:05:00`, `00:00:01.5000000`."""
    sign = "-" if td < timedelta(0) else ""
    td = abs(td)
    hours, rest = divmod(td.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if td.days:
        text = f"{td.days}.{text}"
    if td.microseconds:
        text = f"{text}.{td.microseconds:06d}0"
    return sign + text


def parse_timespan(text: str) -> timedelta:
    """Parse a .NET TimeSpan (`[-][d.]hh:mm[:ss[.fffffff]]`, or whole days `d`)."""
    if not isinstance(text, str):
        raise ValueError(f"TimeSpan must be a string like '00:05:00', got {text!r}.")
    stripped = text.strip()
    days_only = _DAYS_ONLY_RE.fullmatch(stripped)
    if days_only is not None:
        value = timedelta(days=int(days_only["days"]))
        return -value if days_only["sign"] else value
    match = _TIMESPAN_RE.fullmatch(stripped)
    if match is None:
        raise ValueError(
            f"{text!r} is not a TimeSpan; use the .NET form [d.]hh:mm:ss[.fffffff], "
            "e.g. '00:05:00' for 5 minutes or '3.00:00:00' for 3 days."
        )
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(
            f"{text!r} is not a TimeSpan: hours must be 0-23 and minutes/seconds 0-59 "
            "(write 1 day as '1.00:00:00')."
        )
    micros = int((match["frac"] or "").ljust(6, "0")[:6])
    value = timedelta(
        days=int(match["days"] or 0),
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        microseconds=micros,
    )
    return -value if match["sign"] else value
