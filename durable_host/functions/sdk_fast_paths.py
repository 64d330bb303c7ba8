"""Two fixed costs of every 1.x SDK replay, paid once instead (docs/compatibility.md).

The SDK stays as it is on disk; the host swaps, in memory, two names its modules look up
at call time, each for a function that returns what the original returns:

- `HistoryEvent.dt_parse` (dateutil's `parse`, called for every history event of every
  replay, ~30 us each, most of a replay's CPU): `parse_timestamp` reads the one format the
  host writes (`2025-01-01T00:00:00.1234560Z`) into the same `datetime` dateutil gives
  (the fraction cut to microseconds, not rounded; the zone object dateutil picks for "Z")
  and hands every other text to dateutil. A replay parses the whole history again, so each
  text is parsed once and remembered while the machine's zone allows (`_memo_for`).
- `TaskOrchestrationExecutor.namedtuple` (a class built by each executor, one per replay):
  `cached_namedtuple` builds each (name, fields) class once.

`install()` makes both swaps when the SDK's names are still the originals, and is a no-op
when `DURABLE_HOST_SDK_FAST_PATHS=0` (the A/B switch, and the way back if one misbehaves).
"""

from __future__ import annotations

import collections
import importlib
import os
import re
import threading
import time
from datetime import datetime
from typing import Any

from dateutil import parser as dateutil_parser
from dateutil import tz

SWITCH = "DURABLE_HOST_SDK_FAST_PATHS"
_SDK = "azure.durable_functions.models"

# The host's timestamp text (taskhub/timestamps.py): ASCII digits only (`\d` would take any
# Unicode digit, which dateutil reads differently), 1-7 fractional digits, a capital Z.
_HOST_FORMAT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,7}))?Z"
)
_lock = threading.Lock()
_installed = False


# Timestamps of the host's format already parsed (a replay parses the whole history again, so
# each event's text comes back once per episode), while the machine's zone stays as it was.
_MEMO_SIZE = 32_768
_memo: dict[str, datetime] = {}
_memo_zone: tuple[Any, ...] = ()


def parse_timestamp(text: Any) -> datetime:
    """`dateutil.parser.parse(text)`, without dateutil's tokenizer for the host's format, and
    each text of that format parsed once while the zone has no DST (see `_memo_for`)."""
    if type(text) is not str:
        return dateutil_parser.parse(text)
    memo = _memo_for(time.tzname, time.timezone, time.altzone, time.daylight)
    if memo is not None:
        known = memo.get(text)
        if known is not None:
            return known
    parsed = _parse_host_format(text)
    if parsed is None:
        return dateutil_parser.parse(text)
    if memo is not None:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[text] = parsed
    return parsed


def _memo_for(*zone: Any) -> dict[str, datetime] | None:
    """The memo of the machine's current zone, or None when that zone has DST.

    One `datetime` for every parse of a text is what dateutil's fresh objects are, to any
    reader, only while the zone object dateutil picks has one fixed offset: its UTC object, or
    its local-zone object of a zone without DST. Two times in such a zone compare, subtract
    and hash alike whether or not they share their `tzinfo` object; with DST, Python answers
    comparisons of ambiguous times differently for shared and separate zone objects.
    """
    global _memo, _memo_zone
    if zone != _memo_zone:
        # A new dict, not clear(): a parse racing the change writes into the old one.
        _memo, _memo_zone = {}, zone
    return _memo if not zone[3] or "UTC" not in zone[0] else None


def _parse_host_format(text: str) -> datetime | None:
    """The host's format as dateutil reads it; None for any other text or an out-of-range one."""
    match = _HOST_FORMAT.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    # dateutil pads the fraction to six digits and cuts what is past them.
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        naive = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro
        )
    except ValueError:
        # Out of range (month 13, second 60, year 0): dateutil's own answer or error.
        return None
    return _as_dateutil_utc(naive)


def _as_dateutil_utc(naive: datetime) -> datetime:
    """The zone dateutil gives a time written with "Z" (its parser's `_build_tzaware`).

    dateutil names that zone "UTC" and, when the machine's zone is also named "UTC"
    (`time.tzname`, as on most servers and containers), answers with its local zone
    object rather than its UTC one; the steps below are dateutil's, in the same order.
    """
    if "UTC" not in time.tzname:
        return naive.replace(tzinfo=tz.UTC)
    aware = naive.replace(tzinfo=tz.tzlocal())
    if aware.tzname() != "UTC":
        folded = tz.enfold(aware, fold=1)
        if folded.tzname() == "UTC":
            aware = folded
    if aware.tzname() != "UTC":
        aware = aware.replace(tzinfo=tz.UTC)
    return aware


_namedtuples: dict[tuple[str, tuple[str, ...]], type] = {}


def cached_namedtuple(typename: str, field_names: Any, **options: Any) -> type:
    """`collections.namedtuple`, each (name, fields) class built once per process."""
    if options or isinstance(field_names, str):
        return collections.namedtuple(typename, field_names, **options)
    key = (typename, tuple(field_names))
    built = _namedtuples.get(key)
    if built is None:
        built = _namedtuples[key] = collections.namedtuple(typename, key[1])
    return built


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") != "0"


def install() -> bool:
    """Make both swaps (once per process); False when switched off or the SDK changed."""
    global _installed
    if not enabled():
        return False
    with _lock:
        if _installed:
            return True
        # By module path: the packages' own names are the classes these modules define.
        executor = importlib.import_module(f"{_SDK}.TaskOrchestrationExecutor")
        history_event = importlib.import_module(f"{_SDK}.history.HistoryEvent")

        # Only over the names we know: a later SDK that parses or builds differently keeps
        # its own code.
        if getattr(history_event, "dt_parse", None) is dateutil_parser.parse:
            history_event.dt_parse = parse_timestamp  # type: ignore[attr-defined]
        if getattr(executor, "namedtuple", None) is collections.namedtuple:
            executor.namedtuple = cached_namedtuple  # type: ignore[attr-defined]
        _installed = True
    return True
