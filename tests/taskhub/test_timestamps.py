from datetime import datetime, timedelta, timezone

import pytest

from durable_host.taskhub.timestamps import (
    format_status_time,
    format_timespan,
    format_timestamp,
    parse_timespan,
    parse_timestamp,
)

UTC = timezone.utc


@pytest.mark.parametrize(
    ("dt", "text"),
    [
        (datetime(2025, 1, 1, tzinfo=UTC), "2025-01-01T00:00:00.0000000Z"),
        (datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC), "2025-01-01T00:00:00.1234560Z"),
        (datetime(2024, 3, 1, 10, 0, 0, 1, tzinfo=UTC), "2024-03-01T10:00:00.0000010Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.0000000Z"),
    ],
)
def test_format_timestamp(dt: datetime, text: str) -> None:
    assert format_timestamp(dt) == text


def test_format_timestamp_converts_other_zones_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2025, 1, 1, 1, 30, tzinfo=cet)) == (
        "2025-01-01T00:30:00.0000000Z"
    )


def test_naive_datetimes_are_rejected_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"timezone\.utc"):
        format_timestamp(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        format_status_time(datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T00:00:00.1234567Z", datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2025-01-01T00:00:00.1234569Z", datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2025-01-01T00:00:00.123456Z", datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2025-01-01T00:00:00.5Z", datetime(2025, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2025-01-01T00:00:00Z", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T00:00:00+00:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T02:00:00.25+02:00", datetime(2025, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        ("2025-01-01T00:00:00", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2025-01-01", "2025-01-01T00:00:00.12345678Z", "2025-13-01T00:00:00Z"],
)
def test_parse_timestamp_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match=r"timestamp"):
        parse_timestamp(text)


def test_timestamp_round_trip() -> None:
    dt = datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_timestamp(format_timestamp(dt)) == dt


def test_format_status_time_drops_fraction() -> None:
    dt = datetime(2025, 6, 7, 8, 9, 10, 999999, tzinfo=UTC)
    assert format_status_time(dt) == "2025-06-07T08:09:10Z"


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(days=3), "3.00:00:00"),
        (timedelta(days=6), "6.00:00:00"),
        (timedelta(minutes=5), "00:05:00"),
        (timedelta(0), "00:00:00"),
        (timedelta(seconds=1, milliseconds=500), "00:00:01.5000000"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=5), "1.02:03:04.0000050"),
        (-timedelta(days=1, hours=2), "-1.02:00:00"),
        (-timedelta(seconds=30), "-00:00:30"),
    ],
)
def test_timespan_format_and_parse(td: timedelta, text: str) -> None:
    assert format_timespan(td) == text
    assert parse_timespan(text) == td


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:30", timedelta(seconds=30)),
        ("1:02:03", timedelta(hours=1, minutes=2, seconds=3)),
        ("00:05", timedelta(minutes=5)),
        ("2", timedelta(days=2)),
        ("00:00:00.1234567", timedelta(microseconds=123456)),
        (" 3.00:00:00 ", timedelta(days=3)),
    ],
)
def test_parse_timespan_other_accepted_forms(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


@pytest.mark.parametrize("text", ["", "5m", "00:60:00", "24:00:00", "1.2.3", "00:00:00.12345678"])
def test_parse_timespan_rejects_with_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"TimeSpan"):
        parse_timespan(text)
