"""Time zones, working hours and overlaps (pairwise._time), against minute-by-minute references."""

from __future__ import annotations

import datetime as dt
import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pairwise._time as time_module
from pairwise import roster
from pairwise._time import overlap_minutes, parse_timezone, parse_work_hours
from pairwise.errors import InputError

# ---------------------------------------------------------------------------
# Time zones and working hours
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("UTC", 0),
        ("utc", 0),
        ("GMT", 0),
        ("UTC+5:30", 330),
        ("UTC+05:30", 330),
        ("+05:30", 330),
        ("+0530", 330),
        ("-3", -180),
        ("GMT-03:00", -180),
        ("UTC+14", 840),
        ("Asia/Kolkata", 330),
        ("Etc/GMT+3", -180),
    ],
)
def test_parse_timezone_accepts(text: str, minutes: int) -> None:
    instant = dt.datetime(2024, 1, 15, 12, tzinfo=dt.UTC)
    offset = instant.astimezone(parse_timezone(text)).utcoffset()
    assert offset is not None and offset.total_seconds() / 60 == minutes


@pytest.mark.parametrize("text", ["Berlin", "UTC+15", "+05:75", "Europe/Nowhere", "", "5 hours"])
def test_parse_timezone_rejects(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_timezone(text)
    assert "`timezone`" in str(info.value) and "Fix:" in str(info.value)


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("09:00-17:00", (540, 1020)),
        ("9-17", (540, 1020)),
        ("09:00–17:00", (540, 1020)),
        ("09:00 - 17:00", (540, 1020)),
        ("0830-1630", (510, 990)),
        ("9am-5pm", (540, 1020)),
        ("12am-12pm", (0, 720)),
        ("22:00-06:00", (1320, 360)),
        ("16:00-00:00", (960, 1440)),
        ("00:00-24:00", (0, 1440)),
    ],
)
def test_parse_work_hours_accepts(text: str, window: tuple[int, int]) -> None:
    assert parse_work_hours(text) == window


@pytest.mark.parametrize("text", ["9", "9-9", "25:00-26:00", "09:70-17:00", "13pm-2pm", "soon"])
def test_parse_work_hours_rejects(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_work_hours(text)
    assert "`work_hours`" in str(info.value) and "Fix:" in str(info.value)


# ---------------------------------------------------------------------------
# overlap_minutes
# ---------------------------------------------------------------------------


def brute_overlap(sa: int, ea: int, oa: int, sb: int, eb: int, ob: int) -> float:
    """Mark every working minute of both people over 48 hours of UTC; half the common count."""
    span = 2 * 1440
    busy = np.zeros((2, span), dtype=bool)
    for row, (start, end, offset) in enumerate(((sa, ea, oa), (sb, eb, ob))):
        length = end - start if end > start else end - start + 1440
        for day in range(-2, 4):
            begin = day * 1440 + start - offset
            lo, hi = max(begin, 0), min(begin + length, span)
            if lo < hi:
                busy[row, lo:hi] = True
    return float((busy[0] & busy[1]).sum()) / 2


windows = st.tuples(st.integers(0, 1439), st.integers(0, 1440)).filter(lambda w: w[0] != w[1])
offsets = st.integers(-12 * 60, 14 * 60)


@settings(max_examples=300, deadline=None)
@given(a=windows, b=windows, oa=offsets, ob=offsets)
def test_overlap_matches_minute_by_minute(
    a: tuple[int, int], b: tuple[int, int], oa: int, ob: int
) -> None:
    expected = brute_overlap(a[0], a[1], oa, b[0], b[1], ob)
    got = overlap_minutes(a[0], a[1], oa, b[0], b[1], ob)
    assert float(got) == expected
    # symmetric in the two people
    assert float(overlap_minutes(b[0], b[1], ob, a[0], a[1], oa)) == expected


def test_overlap_examples() -> None:
    # 22:00-02:00 UTC meets 01:00-09:00 UTC for one hour, across midnight
    assert float(overlap_minutes(1320, 120, 0, 60, 540, 0)) == 60
    # the same windows seen from Kolkata (+05:30) and New York (-05:00)
    assert float(overlap_minutes(210, 450, 330, 1200, 240, -300)) == 60
    # Berlin in winter against New York: 14:00-16:00 UTC
    assert float(overlap_minutes(540, 1020, 60, 540, 1020, -300)) == 120
    # Singapore and San Francisco office hours do not meet
    assert float(overlap_minutes(540, 1020, 480, 540, 1020, -480)) == 0
    # the whole day meets any eight-hour window for eight hours
    assert float(overlap_minutes(0, 1440, 0, 540, 1020, 330)) == 480
    assert np.isnan(overlap_minutes(540, 1020, np.nan, 540, 1020, 0))


def test_overlap_broadcasts_without_loops() -> None:
    rng = np.random.default_rng(5)
    m, n = 7, 5
    sa, ea = rng.integers(0, 1440, (m, 1)), rng.integers(0, 1440, (m, 1))
    sb, eb = rng.integers(0, 1440, (1, n)), rng.integers(0, 1440, (1, n))
    oa, ob = rng.integers(-600, 600, (m, 1)), rng.integers(-600, 600, (1, n))
    out = overlap_minutes(sa, ea, oa, sb, eb, ob)
    assert out.shape == (m, n) and out.dtype == np.float64
    for i in range(m):
        for j in range(n):
            expected = overlap_minutes(sa[i, 0], ea[i, 0], oa[i, 0], sb[0, j], eb[0, j], ob[0, j])
            assert out[i, j] == float(expected)


def test_doctests() -> None:
    result = doctest.testmod(time_module)
    assert result.attempted > 0 and result.failed == 0


def test_public_helpers_stay_importable_from_the_roster_module() -> None:
    assert roster.parse_timezone is parse_timezone
    assert roster.parse_work_hours is parse_work_hours
    assert roster.overlap_minutes is overlap_minutes


# ---------------------------------------------------------------------------
# Ambiguous working hours: read by the documented rule
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("9-5", (540, 1020)),  # was read as 09:00-05:00, a 20-hour night shift
        ("8:30-4:30", (510, 990)),
        ("11-1", (660, 780)),
        ("9am-5pm", (540, 1020)),
        ("9:30am-5:30pm", (570, 1050)),
        ("0900-1700", (540, 1020)),
        ("9h-17h", (540, 1020)),
        ("9h30-17h30", (570, 1050)),
        ("9 - 5", (540, 1020)),
    ],
)
def test_day_windows_read_as_meant(text: str, window: tuple[int, int]) -> None:
    assert parse_work_hours(text) == window


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("22-6", (1320, 360)),
        ("20:00-08:00", (1200, 480)),  # 12 hours: still a night shift
        ("14-2", (840, 120)),
        ("9pm-5am", (1260, 300)),
        ("9-5am", (540, 300)),  # an explicit am is taken as written
        ("16:00-00:00", (960, 1440)),
    ],
)
def test_night_shifts_stay_overnight(text: str, window: tuple[int, int]) -> None:
    assert parse_work_hours(text) == window


def test_the_afternoon_rule_is_documented_in_the_docstring() -> None:
    doc = parse_work_hours.__doc__ or ""
    assert '"9-5"' in doc and "afternoon" in doc and "12 hours" in doc
