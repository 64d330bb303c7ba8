"""The SDK fast paths give what the SDK gives alone: dateutil and namedtuple are the oracles."""

from __future__ import annotations

import collections
import importlib
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import azure.durable_functions as df
import pytest
from dateutil import parser as dateutil_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable_host.functions import sdk_fast_paths
from durable_host.functions.sdk_fast_paths import cached_namedtuple, parse_timestamp
from durable_host.taskhub.timestamps import format_timestamp

HISTORY_EVENT = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
EXECUTOR = importlib.import_module("azure.durable_functions.models.TaskOrchestrationExecutor")

# The machine's zone decides which zone object dateutil gives "Z" (a zone named UTC: its
# local zone object; any other: its UTC one), so each property runs under several zones:
# plain UTC, zones with DST, and POSIX rules whose standard or summer name is "UTC".
ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "UTC0",
    "GMT0UTC,M3.5.0,M10.5.0",
    "UTC0BST,M3.5.0,M10.5.0",
    "XYZ+3",
]


def ZONED(max_examples: int) -> settings:
    """Hypothesis settings for a property run once per zone (the zone stays for its examples)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(params=ZONES)
def zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def assert_same_as_dateutil(text: Any) -> None:
    try:
        expected = dateutil_parser.parse(text)
    except Exception as exc:  # the fast path must fail the same way
        with pytest.raises(type(exc)):
            parse_timestamp(text)
        return
    got = parse_timestamp(text)
    assert repr(got) == repr(expected)
    # Not `got == expected`: two local-zone objects make it an inter-zone comparison, which
    # Python answers False for a time the zone's fold makes ambiguous (dateutil vs itself too).
    assert got.replace(tzinfo=None) == expected.replace(tzinfo=None)
    assert type(got.tzinfo) is type(expected.tzinfo)
    assert got.tzinfo == expected.tzinfo
    assert observed(got) == observed(expected)


def observed(moment: datetime) -> tuple[Any, ...]:
    """What user code reads of a time's zone (dateutil can build an offset Python refuses)."""
    try:
        return (moment.fold, moment.tzname(), moment.utcoffset())
    except ValueError as exc:
        return (moment.fold, str(exc))


UTC_TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)
)


@ZONED(max_examples=200)
@given(moment=UTC_TIMES)
def test_every_timestamp_the_host_writes_parses_as_dateutil_parses_it(
    zone: str, moment: datetime
) -> None:
    assert_same_as_dateutil(format_timestamp(moment))


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-01T00:00:00.1234567Z",  # a 7th digit DTFx wrote: cut, as dateutil does
        "2025-01-01T00:00:00.9999999Z",
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00.5Z",
        "2024-02-29T23:59:59.0000001Z",
        "0001-01-01T00:00:00.0000000Z",  # DateTime.MinValue
        "9999-12-31T23:59:59.9999999Z",  # DateTime.MaxValue
        "2025-03-30T01:30:00.0000000Z",  # a DST gap in Europe
        "2025-10-26T01:30:00.0000000Z",  # a DST overlap in Europe
        "2025-13-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-01-01T24:00:00Z",
        "2025-01-01T00:00:60Z",
        "0000-01-01T00:00:00Z",
        "2025-01-01T00:00:00.12345678Z",
        "2025-01-01T00:00:00z",
        "2025-01-01T00:00:00+00:00",
        "2025-01-01 00:00:00Z",
        "2025-01-01T00:00:00Z\n",
        "٢٠٢٥-01-01T00:00:00Z",
    ],
)
def test_edge_texts_parse_or_fail_as_dateutil_does(zone: str, text: str) -> None:
    assert_same_as_dateutil(text)


NEAR_FORMAT = st.builds(
    lambda parts, fraction, end: (
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(*parts) + fraction + end
    ),
    st.tuples(
        st.integers(0, 9999),
        st.integers(0, 14),
        st.integers(0, 33),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
    ),
    st.one_of(st.just(""), st.from_regex(r"\A\.[0-9]{0,9}\Z")),
    st.sampled_from(["Z", "z", "", "+00:00", " Z", "ZZ", "Z "]),
)


@ZONED(max_examples=200)
@given(text=NEAR_FORMAT)
def test_fuzzed_near_format_texts_match_dateutil(zone: str, text: str) -> None:
    assert_same_as_dateutil(text)


@ZONED(max_examples=100)
@given(text=st.text(alphabet="0123456789٣-:.TZz +", max_size=32))
def test_fuzzed_texts_match_dateutil(zone: str, text: str) -> None:
    assert_same_as_dateutil(text)


def relations(first: datetime, second: datetime) -> tuple[Any, ...]:
    """What code can learn by comparing two times (a shared zone object skips utcoffset)."""
    try:
        return (first == second, first < second, first - second, hash(first) == hash(second))
    except ValueError as exc:
        return (str(exc),)


@ZONED(max_examples=100)
@given(moments=st.lists(UTC_TIMES, min_size=2, max_size=2))
def test_a_text_parsed_again_reads_and_compares_as_dateutils_fresh_parse(
    zone: str, moments: list[datetime]
) -> None:
    """The memo hands back the same object for a text it has seen: the same value as a fresh
    dateutil parse, and it relates to other times (==, <, -, hash) as dateutil's do."""
    texts = [format_timestamp(m) for m in moments] + [format_timestamp(moments[0])]
    ours = [parse_timestamp(t) for t in texts] + [parse_timestamp(t) for t in texts]
    theirs = [dateutil_parser.parse(t) for t in texts + texts]
    for text in texts:
        assert_same_as_dateutil(text)
    pairs = [(i, j) for i in range(len(ours)) for j in range(len(ours))]
    assert [relations(ours[i], ours[j]) for i, j in pairs] == [
        relations(theirs[i], theirs[j]) for i, j in pairs
    ]


def test_times_in_a_zones_fold_relate_as_dateutils_do(zone: str) -> None:
    """Where Python's answers depend on sharing the zone object (ambiguous local times)."""
    texts = ["2025-10-26T01:30:00.0000000Z", "2025-10-26T01:45:00Z", "2025-10-26T00:30:00Z"]
    texts += texts
    ours = [parse_timestamp(t) for t in texts]
    theirs = [dateutil_parser.parse(t) for t in texts]
    pairs = [(i, j) for i in range(len(ours)) for j in range(len(ours))]
    assert [relations(ours[i], ours[j]) for i, j in pairs] == [
        relations(theirs[i], theirs[j]) for i, j in pairs
    ]


def test_a_text_parsed_before_the_zone_changed_is_parsed_for_the_new_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "2025-10-26T01:30:00.0000000Z"  # in the overlap of the UTC0BST zone's autumn fold
    try:
        for zone in ["UTC", "UTC0BST,M3.5.0,M10.5.0", "Europe/London", "UTC", "XYZ+3"]:
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            assert_same_as_dateutil(text)
            assert_same_as_dateutil(text)
        # A UTC-named zone with DST: every parse builds its own time, as dateutil does.
        monkeypatch.setenv("TZ", "UTC0BST,M3.5.0,M10.5.0")
        time.tzset()
        assert parse_timestamp(text) is not parse_timestamp(text)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_cached_namedtuple_builds_each_class_once_with_the_same_fields() -> None:
    # Any: classes made at run time, whose fields mypy cannot know.
    first: Any = cached_namedtuple("SetTaskValuePayload", ("is_success", "task_id_key"))
    again: Any = cached_namedtuple("SetTaskValuePayload", ("is_success", "task_id_key"))
    SetTaskValuePayload = collections.namedtuple(
        "SetTaskValuePayload", ("is_success", "task_id_key")
    )
    assert first is again
    assert first._fields == SetTaskValuePayload._fields
    assert first.__name__ == SetTaskValuePayload.__name__
    assert first(True, "TimerId") == SetTaskValuePayload(True, "TimerId")
    assert tuple(first(False, "Name")) == (False, "Name")


def test_install_swaps_only_the_sdk_names_it_knows() -> None:
    assert sdk_fast_paths.install() is True
    assert HISTORY_EVENT.dt_parse is parse_timestamp
    assert EXECUTOR.namedtuple is cached_namedtuple


def test_install_is_off_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sdk_fast_paths.SWITCH, "0")
    assert sdk_fast_paths.install() is False


# -- a whole replay through the SDK's own handle, with and without the fast paths ----------


def orchestrator(context: df.DurableOrchestrationContext) -> Any:
    started = context.current_utc_datetime
    first = yield context.call_activity("work", "a")
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=5))
    failed = None
    try:
        yield context.call_activity("work", "b")
    except Exception as exc:
        failed = str(exc)
    second = yield context.wait_for_external_event("go")
    return [repr(started), repr(context.current_utc_datetime), first, failed, second]


def sdk_history(t: list[str]) -> list[dict[str, Any]]:
    def event(kind: int, moment: str, played: bool = True, **fields: Any) -> dict[str, Any]:
        return {"EventType": kind, "EventId": -1, "IsPlayed": played, "Timestamp": moment, **fields}

    started = {"InstanceId": "i", "ExecutionId": "e"}
    return [
        event(12, t[0], False),
        event(0, t[0], Name="o", Version="", Input="null", OrchestrationInstance=started),
        event(4, t[0], EventId=0, Name="work", Input='["a"]'),
        event(13, t[0]),
        event(12, t[1], False),
        event(5, t[1], TaskScheduledId=0, Result='"A"'),
        event(10, t[1], EventId=1, FireAt=t[2]),
        event(13, t[1]),
        event(12, t[2], False),
        event(11, t[2], TimerId=1, FireAt=t[2]),
        event(4, t[2], EventId=2, Name="work", Input='["b"]'),
        event(13, t[2]),
        event(12, t[3], False),
        event(6, t[3], TaskScheduledId=2, Reason="boom", Details="trace"),
        event(13, t[3]),
        event(12, t[4], False),
        event(15, t[4], Name="go", Input='"went"'),
    ]


def replay(texts: list[str]) -> tuple[Any, list[dict[str, Any]]]:
    payload = json.dumps(
        {
            "history": sdk_history(texts),
            "input": None,
            "instanceId": "i",
            "isReplaying": False,
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
        }
    )
    state = json.loads(df.Orchestrator.create(orchestrator)(payload))
    context = df.DurableOrchestrationContext.from_json(payload)
    events = [{k: repr(v) for k, v in vars(e).items()} for e in context.histories]
    return state, events


@ZONED(max_examples=30)
@given(moments=st.lists(UTC_TIMES, min_size=5, max_size=5))
def test_a_replay_gives_the_same_state_and_events_as_the_sdk_alone(
    zone: str, moments: list[datetime]
) -> None:
    texts = [format_timestamp(m) for m in sorted(moments)]
    sdk_fast_paths.install()
    fast = replay(texts)
    with pytest.MonkeyPatch.context() as originals:
        originals.setattr(HISTORY_EVENT, "dt_parse", dateutil_parser.parse)
        originals.setattr(EXECUTOR, "namedtuple", collections.namedtuple)
        slow = replay(texts)
    assert fast == slow
    assert fast[0]["isDone"] is True
