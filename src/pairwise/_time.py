"""Time zones, working hours and their overlaps across zones (summer time included).

The roster parses ``timezone`` and ``work_hours`` cells with these functions;
the accessibility rules and the group rules compare working windows with
:func:`overlap_minutes`. Offsets are taken on a given day, so that summer time
is right (``Europe/Berlin`` is UTC+1 in January, UTC+2 in July).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import re
import zoneinfo
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .errors import InputError

__all__ = ["overlap_minutes", "parse_timezone", "parse_work_hours"]

#: Minutes in a day.
DAY = 1440
_OFFSET_RE = re.compile(
    r"(?:(?:UTC|GMT)\s*)?([+\-\u2212])\s*(\d{1,2})(?:(?::|h)?(\d{2}))?", re.IGNORECASE
)
_TIME = r"(\d{1,2})(?:[:.h]?(\d{2})|h)?\s*([ap])?\.?(?:m\.?)?"
_HOURS_RE = re.compile(rf"{_TIME}\s*(?:-|\u2013|\u2014|\u2212|to|until)\s*{_TIME}", re.IGNORECASE)
# Names people write that are not IANA keys; used only to suggest a fix.
_TZ_ALIASES = {
    "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new_delhi": "Asia/Kolkata",
    "ist": "Asia/Kolkata",
    "beijing": "Asia/Shanghai",
    "san_francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "boston": "America/New_York",
    "washington": "America/New_York",
    "edt": "America/New_York",
    "cest": "Europe/Berlin",
    "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "hamburg": "Europe/Berlin",
    "bst": "Europe/London",
    "aest": "Australia/Sydney",
}

# The parts of the two cell messages, shared with the roster's per-cell errors.
TIMEZONE_EXPECTED = "an IANA time zone such as 'Europe/Berlin' or a UTC offset such as 'UTC+05:30'"
HOURS_EXPECTED = "a local time range 'HH:MM-HH:MM'"
HOURS_FIX = (
    "write e.g. '09:00-17:00' (an end before the start is an overnight shift, "
    "'00:00-24:00' the whole day)"
)
#: The longest window an end before the start is read as an overnight shift (minutes).
NIGHT_SHIFT_MAX = 12 * 60


# ---------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def parse_timezone(text: str) -> _dt.tzinfo:
    """Turn an IANA time-zone name or a UTC offset into a tzinfo.

    Parameters
    ----------
    text : str
        ``"Europe/Berlin"``, ``"UTC"``, ``"UTC+5:30"``, ``"+05:30"``,
        ``"+0530"``, ``"GMT-3"`` or ``"-3"`` (hours east of UTC, up to 14).

    Returns
    -------
    datetime.tzinfo
        A :class:`zoneinfo.ZoneInfo` (summer time aware) for names, a fixed
        :class:`datetime.timezone` for offsets.

    Raises
    ------
    InputError
        When ``text`` is neither; the message suggests a close IANA name.

    Examples
    --------
    >>> parse_timezone("UTC+5:30").utcoffset(None)
    datetime.timedelta(seconds=19800)
    >>> parse_timezone("Europe/Berlin")
    zoneinfo.ZoneInfo(key='Europe/Berlin')
    """
    if not isinstance(text, str):
        raise InputError(
            f"`timezone` must be a str; got {type(text).__name__}. "
            "Fix: pass a name such as 'Europe/Berlin' or an offset such as 'UTC+05:30'."
        )
    clean = text.strip()
    if clean.upper() in {"UTC", "GMT", "Z"}:
        return _dt.UTC
    match = _OFFSET_RE.fullmatch(clean)
    if match:
        sign = -1 if match.group(1) in "-\u2212" else 1
        hours, minutes = int(match.group(2)), int(match.group(3) or 0)
        if minutes < 60 and hours * 60 + minutes <= 14 * 60:
            return _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))
    elif clean and " " not in clean:
        try:
            return zoneinfo.ZoneInfo(clean)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InputError(
        f"`timezone` must be {TIMEZONE_EXPECTED}; got {clean!r}. Fix: {timezone_fix(clean)}."
    )


def timezone_fix(text: str) -> str:
    """The "Fix:" of a bad time zone: a close IANA name when there is one."""
    suggestion = _suggest_timezone(text)
    if suggestion:
        return f"write {suggestion!r}"
    return "write an IANA name such as 'America/New_York' or an offset such as 'UTC-05:00'"


@functools.lru_cache(maxsize=1)
def _timezone_index() -> tuple[dict[str, str], dict[str, str]]:
    names = sorted(zoneinfo.available_timezones())
    full = {n.lower(): n for n in names}
    city: dict[str, str] = {}
    regions = ("Africa/", "America/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Pacific/")
    # prefer canonical region names over legacy aliases such as "US/Eastern"
    for name in sorted(names, key=lambda n: (not n.startswith(regions), n)):
        city.setdefault(name.rsplit("/", 1)[-1].lower(), name)
    return full, city


def _suggest_timezone(text: str) -> str | None:
    key = re.sub(r"\s+", "_", text.strip()).lower()
    if not key:
        return None
    if key in _TZ_ALIASES:
        return _TZ_ALIASES[key]
    full, city = _timezone_index()
    if key in full:
        return full[key]
    last = key.rsplit("/", 1)[-1]
    if last in city:
        return city[last]
    close = difflib.get_close_matches(last, list(city), n=1, cutoff=0.8)
    return city[close[0]] if close else None


def instant(at: _dt.date | None) -> _dt.datetime:
    """The moment offsets are taken: noon UTC on day ``at`` (today when None).

    A timezone-aware datetime is used as it is; a naive one is read as UTC.
    """
    if at is None:
        at = _dt.datetime.now(_dt.UTC).date()
    if isinstance(at, _dt.datetime):
        return at if at.tzinfo is not None else at.replace(tzinfo=_dt.UTC)
    return _dt.datetime(at.year, at.month, at.day, 12, tzinfo=_dt.UTC)


def utc_offsets(zones: Sequence[str | None], at: _dt.date | None) -> np.ndarray:
    """UTC offset in minutes (east positive) of each zone on day ``at``; NaN for None."""
    moment = instant(at)
    out = np.full(len(zones), np.nan)
    cache: dict[str, float] = {}
    for i, text in enumerate(zones):
        if text is None:
            continue
        if text not in cache:
            delta = moment.astimezone(parse_timezone(text)).utcoffset()
            cache[text] = np.nan if delta is None else delta.total_seconds() / 60.0
        out[i] = cache[text]
    return out


# ---------------------------------------------------------------------------
# Working hours
# ---------------------------------------------------------------------------


def parse_work_hours(text: str) -> tuple[int, int]:
    """Parse a daily working window into minutes since local midnight.

    Parameters
    ----------
    text : str
        ``"09:00-17:00"``, ``"9-17"``, ``"09:00–17:00"`` (en dash),
        ``"0830-1630"``, ``"9am-5pm"``, ``"9:30am-5:30pm"``, ``"9h-17h"``,
        ``"9h30-17h30"``; ``"22:00-06:00"`` is an overnight shift and
        ``"00:00-24:00"`` the whole day.

        An end before the start is an overnight shift when that shift lasts
        at most 12 hours (``"22-6"``, ``"20:00-08:00"``). Otherwise, when the
        end has no am/pm and its hour is 1 to 11, the end is read in the
        afternoon: ``"9-5"`` is 09:00-17:00 and ``"8:30-4:30"`` 08:30-16:30
        (a 20-hour night shift is not what anyone means by ``9-5``).

    Returns
    -------
    (start, end) : tuple of int
        Minutes since local midnight; ``end < start`` means the window runs
        past midnight. A window ending at midnight ends at 1440.

    Raises
    ------
    InputError
        When the text is not a time range, a time is out of range, or start
        equals end.

    Examples
    --------
    >>> parse_work_hours("9-17")
    (540, 1020)
    >>> parse_work_hours("22:00–06:00")
    (1320, 360)
    >>> parse_work_hours("9-5")
    (540, 1020)
    """
    match = _HOURS_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    times = None
    if match:
        h1, m1, p1, h2, m2, p2 = match.groups()
        times = (_minutes(h1, m1, p1), _minutes(h2, m2, p2))
    if times is None or None in times:
        raise _hours_error(text)
    start, end = times
    assert start is not None and end is not None
    if end == 0 and start > 0:
        end = DAY  # "16:00-00:00" ends at midnight, it is not an overnight shift
    elif end < start and end + DAY - start > NIGHT_SHIFT_MAX and not p2 and 1 <= int(h2) <= 11:
        end += 12 * 60  # "9-5": 09:00-17:00, not a 20-hour night shift
    if start >= DAY or start == end:
        raise _hours_error(text)
    return start, end


def _hours_error(text: object) -> InputError:
    got = repr(text.strip()) if isinstance(text, str) else repr(text)
    return InputError(f"`work_hours` must be {HOURS_EXPECTED}; got {got}. Fix: {HOURS_FIX}.")


def _minutes(hour: str, minute: str | None, half: str | None) -> int | None:
    h, m = int(hour), int(minute or 0)
    if m >= 60:
        return None
    if half:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if half.lower() == "p" else 0)
    if h > 24 or (h == 24 and m):
        return None
    return h * 60 + m


def format_hours(window: tuple[int, int]) -> str:
    """``(540, 1020)`` -> ``"09:00-17:00"`` (what :func:`parse_work_hours` reads back)."""
    start, end = window
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


# ---------------------------------------------------------------------------
# Overlaps
# ---------------------------------------------------------------------------


def overlap_minutes(
    start_a: npt.ArrayLike,
    end_a: npt.ArrayLike,
    off_a: npt.ArrayLike,
    start_b: npt.ArrayLike,
    end_b: npt.ArrayLike,
    off_b: npt.ArrayLike,
) -> np.ndarray:
    """Minutes per day that two daily working windows overlap, across time zones.

    Each window repeats every day; it is given in local minutes since midnight
    with the UTC offset (minutes east of UTC) of its time zone. Overnight
    windows (``end < start``) and windows that cross midnight in UTC are
    handled, and the overlap is counted across the day boundary. All arguments
    broadcast as numpy arrays: ``(m, 1)`` against ``(1, n)`` gives ``(m, n)``.

    Parameters
    ----------
    start_a, end_a, off_a : array_like
        Local start and end (minutes since midnight) and UTC offset of window a.
        ``end == start`` (mod 1440), e.g. ``(0, 1440)``, is the whole day.
    start_b, end_b, off_b : array_like
        The same for window b.

    Returns
    -------
    numpy.ndarray
        float64 overlap in minutes per day, between 0 and 1440; NaN where any
        input is NaN (unknown hours or time zone).

    Examples
    --------
    >>> overlap_minutes(540, 1020, 60, 540, 1020, 0)   # Berlin vs London in winter
    array(420.)
    >>> overlap_minutes(1320, 120, 0, 60, 540, 0)      # 22:00-02:00 vs 01:00-09:00 UTC
    array(60.)
    """
    sa, da = _utc_window(start_a, end_a, off_a)
    sb, db = _utc_window(start_b, end_b, off_b)
    ea, eb = sa + da, sb + db
    # a lies in [0, 2880); b and its copies one day earlier and later cover every meeting
    parts = [
        np.clip(np.minimum(ea, eb + shift) - np.maximum(sa, sb + shift), 0.0, None)
        for shift in (-DAY, 0, DAY)
    ]
    return np.asarray(parts[0] + parts[1] + parts[2], dtype=float)


def _utc_window(
    start: npt.ArrayLike, end: npt.ArrayLike, offset: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    offset = np.asarray(offset, dtype=float)
    length = np.mod(end - start, DAY)
    length = np.where(length == 0, float(DAY), length)
    return np.mod(start - offset, DAY), length
