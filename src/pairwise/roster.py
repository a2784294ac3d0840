"""Participant tables: loading, validating and typing rosters; ids <-> row positions live here.

A roster is one table of people (mentors, mentees, leaders, protégés or a peer
pool). :func:`load_roster` reads it from a CSV/TSV file or a DataFrame, parses
every known column into a fixed type and collects *all* problems before raising
one :class:`~pairwise.errors.InputError` that names file, line, column and fix.
Time zones and working hours are parsed by :mod:`pairwise._time`, whose public
helpers (:func:`parse_timezone`, :func:`parse_work_hours`, :func:`overlap_minutes`)
stay importable from here.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import difflib
import functools
import io
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _time
from ._time import overlap_minutes, parse_timezone, parse_work_hours
from .errors import InputError

__all__ = [
    "DEFAULT_COLUMNS",
    "LIST_COLUMNS",
    "PROTECTED_COLUMNS",
    "Roster",
    "load_roster",
    "overlap_minutes",
    "parse_timezone",
    "parse_work_hours",
]

logger = logging.getLogger(__name__)

LIST_COLUMNS: tuple[str, ...] = ("languages", "skills", "wants", "goals", "preferences")
PROTECTED_COLUMNS: tuple[str, ...] = ("gender", "ethnicity")
DEFAULT_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "level",
    "function",
    "site",
    "timezone",
    "work_hours",
    "languages",
    "skills",
    "wants",
    "goals",
    "manager_id",
    "capacity",
    "remote_ok",
    "priority",
    "preferences",
    "gender",
    "ethnicity",
)

#: How many problems an error message shows; ``InputError.reasons`` holds all of them.
_SHOWN = 5
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0", "off"})
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: ``2,5``: a decimal comma (as European spreadsheets write numbers).
_DECIMAL_COMMA_RE = re.compile(r"([+-]?\d+),(\d+)")
#: Cell separators a file may use, and how messages name them.
_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


# ---------------------------------------------------------------------------
# The Roster
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Roster:
    """A validated participant table.

    Parameters
    ----------
    frame : pandas.DataFrame
        The validated copy, RangeIndex ``0..n-1`` in input row order. ``id`` is
        a stripped str; ``level`` float64 (NaN when blank); list columns hold
        tuples of str; ``timezone`` the str as given or None; ``work_hours`` a
        tuple ``(start, end)`` of minutes since local midnight (``end < start``
        is an overnight shift) or None; ``capacity`` nullable ``Int64``;
        ``priority`` float (1.0 when blank); ``remote_ok`` bool (True when
        blank); ``manager_id`` and other known text columns str or None. Extra
        columns are kept as they were read.
    source : str
        The file path as given, or ``"<DataFrame>"``.
    role : str or None
        What the people are ("mentor", "mentee", "leader", "protege",
        "person"); used in messages.
    locations : tuple of str
        Where each row came from, for messages: ``"line 7"`` for files (the
        header is line 1), ``"row 5"`` (index label) for DataFrames.
    blank_columns : frozenset of str
        Columns that were present but entirely blank in the input (their
        defaults fill them, so :meth:`has` says False).
    """

    frame: pd.DataFrame
    source: str = "<DataFrame>"
    role: str | None = None
    locations: tuple[str, ...] = ()
    blank_columns: frozenset[str] = frozenset()

    # -- identity -----------------------------------------------------------

    @property
    def ids(self) -> np.ndarray:
        """The ids in row order (a fresh object array of str; see :attr:`id_view`)."""
        return self.id_view.copy()

    @functools.cached_property
    def id_view(self) -> np.ndarray:
        """The ids in row order, built once and read-only (no copy per call).

        For loops over people (reasons, reports), where a fresh copy per look-up
        would make the loop quadratic in the roster size.
        """
        ids = self.frame["id"].to_numpy(dtype=object, copy=True)
        ids.flags.writeable = False
        return ids

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {str(v): i for i, v in enumerate(self.frame["id"].tolist())}

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        role = f"{self.role!r}, " if self.role else ""
        columns = list(self.frame.columns)
        return f"Roster({role}{len(self)} rows from {self.source!r}, columns={columns})"

    @property
    def display(self) -> str:
        """How messages name this roster: the file path, or "the <role> DataFrame"."""
        return _display_name(self.source, self.role)

    def where(self, position: int) -> str:
        """Describe where row ``position`` came from, e.g. ``"mentors.csv, line 7"``."""
        label = self.locations[position] if self.locations else f"row {position}"
        return f"{self.display}, {label}"

    def index_of(self, ids: Iterable[str] | str) -> np.ndarray:
        """Row positions of ``ids`` (in the order given).

        Parameters
        ----------
        ids : iterable of str, or str
            Ids to look up; a single str is one id. Numbers are matched by their
            text (``1001`` finds ``"1001"``).

        Returns
        -------
        numpy.ndarray
            ``intp`` positions, same length as ``ids``.

        Raises
        ------
        InputError
            When an id is not in the roster; the message names the unknown ids.
        """
        wanted = [ids] if isinstance(ids, str) else list(ids)
        positions = self._positions
        out = np.empty(len(wanted), dtype=np.intp)
        unknown: list[str] = []
        for k, value in enumerate(wanted):
            key = _text(value)
            pos = positions.get(key)
            if pos is None:
                unknown.append(key)
                out[k] = -1
            else:
                out[k] = pos
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:_SHOWN])
            more = f" and {len(unknown) - _SHOWN} more" if len(unknown) > _SHOWN else ""
            raise InputError(
                f"`id` must be one of the {len(self)} ids of {self.display}; got unknown "
                f"{shown}{more}. Fix: check the spelling, or add these people to {self.display}.",
                problems=[f"unknown id {u!r} (not in {self.display})" for u in unknown],
            )
        return out

    def position(self, id: str) -> int:
        """Row position of one id; raises InputError naming it when unknown."""
        return int(self.index_of([id])[0])

    # -- columns ------------------------------------------------------------

    def has(self, column: str) -> bool:
        """True when ``column`` is present and not entirely blank."""
        if column not in self.frame.columns or column in self.blank_columns:
            return False
        return not all(_is_blank(v) for v in self.frame[column].tolist())

    def column(self, name: str) -> pd.Series:
        """The parsed column ``name`` (the roster's own Series: do not modify it).

        Raises
        ------
        InputError
            When the column is absent; the message lists the columns and close names.
        """
        if name not in self.frame.columns:
            raise InputError(
                _missing_column_message(name, list(self.frame.columns), self.display, self.frame)
            )
        return self.frame[name]

    def numeric(self, name: str) -> np.ndarray:
        """Column ``name`` as float64 (NaN when blank), e.g. for a tenure column.

        Raises
        ------
        InputError
            When the column is absent or a cell is not a number (all such cells
            are named).
        """
        values = self.column(name).tolist()
        out = np.full(len(values), np.nan)
        problems: list[str] = []
        for i, value in enumerate(values):
            if _is_blank(value):
                continue
            try:
                out[i] = _parse_number(value)
            except _CellError as err:
                problems.append(err.sentence(name, self.where(i)))
        _raise_collected(self.display, problems)
        return out

    # -- time ---------------------------------------------------------------

    def utc_offset_minutes(self, at: _dt.date | None = None) -> np.ndarray:
        """UTC offset of each person's time zone in minutes (NaN where unknown).

        Parameters
        ----------
        at : datetime.date, optional
            The day whose offset is wanted, taken at noon UTC so that summer
            time is right (``Europe/Berlin`` is +60 in January, +120 in July).
            A timezone-aware datetime is used as the exact instant. Default: today.

        Returns
        -------
        numpy.ndarray
            float64 minutes, east of UTC positive.
        """
        if "timezone" not in self.frame.columns:
            return np.full(len(self), np.nan)
        zones = [None if _is_blank(t) else str(t) for t in self.frame["timezone"].tolist()]
        return _time.utc_offsets(zones, at)

    def work_hours_minutes(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of each person's local working window, minutes since midnight.

        Returns
        -------
        (start, end) : tuple of numpy.ndarray
            float64, NaN where the roster has no working hours for the person.
        """
        start = np.full(len(self), np.nan)
        end = np.full(len(self), np.nan)
        if "work_hours" in self.frame.columns:
            for i, window in enumerate(self.frame["work_hours"].tolist()):
                if isinstance(window, tuple):
                    start[i], end[i] = window
        return start, end

    # -- output -------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """A copy for output: list cells joined with ``";"``, hours as ``"HH:MM-HH:MM"``.

        Loading the result again with :func:`load_roster` gives the same roster.
        """
        out = self.frame.copy()
        for name in out.columns:
            values = out[name].tolist()
            if any(isinstance(v, tuple) for v in values):
                if name == "work_hours":
                    out[name] = pd.Series(
                        [_time.format_hours(v) if isinstance(v, tuple) else v for v in values],
                        dtype=object,
                    )
                else:
                    out[name] = pd.Series(
                        [";".join(v) if isinstance(v, tuple) else v for v in values],
                        dtype=object,
                    )
        if "level" in out.columns and pd.api.types.is_float_dtype(out["level"]):
            level = out["level"].to_numpy()
            finite = level[~np.isnan(level)]
            if np.all(finite == np.round(finite)):
                out["level"] = pd.array(
                    [None if math.isnan(v) else int(v) for v in level], dtype="Int64"
                )
        return out


# ---------------------------------------------------------------------------
# load_roster
# ---------------------------------------------------------------------------


def load_roster(
    source: str | os.PathLike[str] | pd.DataFrame | Roster,
    *,
    role: str | None = None,
    rename: Mapping[str, str] | None = None,
    list_columns: Sequence[str] = LIST_COLUMNS,
    required: Sequence[str] = ("id",),
) -> Roster:
    """Load and validate a participant table.

    Parameters
    ----------
    source : str, os.PathLike, pandas.DataFrame or Roster
        A CSV file (UTF-8, with or without BOM) or a DataFrame (which is
        copied, never modified). A file's separator is the commonest of
        comma, semicolon and tab in its header line outside quotes (``.tsv``
        files are tab separated): a file European Excel saves with ``;`` is
        read, and its list cells may then be separated by ``;`` inside double
        quotes, ``|`` or ``,``. Numbers may use a decimal comma (``2,5``);
        ``1,000`` is refused as ambiguous. A :class:`Roster` is returned as
        it is (with ``role`` set when given), after checking ``required``.
    role : str, optional
        What the people are ("mentor", "mentee", ...); used in messages.
    rename : mapping, optional
        Input column -> roster column, e.g. ``{"EmployeeNumber": "id"}``.
        Names not present in the input are ignored, so one mapping can serve
        several files.
    list_columns : sequence of str
        Columns whose cells are ``;``-separated lists (parsed into tuples;
        see ``source`` for ``;``-separated files).
    required : sequence of str
        Columns that must be present.

    Returns
    -------
    Roster
        The validated, typed table (see :class:`Roster` for the column types).
        Column names are stripped; known columns are matched ignoring case,
        spaces and underscores (``"Work Hours"`` -> ``work_hours``); other
        columns keep their names and values.

    Raises
    ------
    InputError
        For an unreadable file (missing, a directory, empty, not UTF-8 text,
        rows with more cells than the header), a missing required column, or
        bad cells. All cell problems are collected first; the message shows up
        to five and ``InputError.reasons`` holds every one.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "ID": ["m1", "m2"],
    ...     "Level": ["5", "4"],
    ...     "skills": ["Python; SQL", ""],
    ...     "work_hours": ["09:00-17:00", "22:00-06:00"],
    ... })
    >>> roster = load_roster(frame, role="mentor")
    >>> list(roster.frame.columns)
    ['id', 'level', 'skills', 'work_hours']
    >>> roster.frame["skills"].tolist()
    [('Python', 'SQL'), ()]
    >>> roster.frame["work_hours"].tolist()
    [(540, 1020), (1320, 360)]
    >>> roster.index_of(["m2", "m1"]).tolist()
    [1, 0]
    >>> load_roster(frame.assign(Level=["5", "senior"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pairwise.errors.InputError: `level` must be a number; got 'senior' (the DataFrame, row 1)...
    """
    if isinstance(source, Roster):
        # already validated: keep its locations for messages, only check what is asked
        missing = [c for c in dict.fromkeys(required) if c not in source.frame.columns]
        if missing:
            have = list(source.frame.columns)
            messages = [
                _missing_column_message(c, have, source.display, source.frame) for c in missing
            ]
            raise InputError(" ".join(messages), problems=messages)
        return source if role is None else dataclasses.replace(source, role=role)
    if isinstance(source, pd.DataFrame):
        shown = _display_name("<DataFrame>", role)
        raw, labels = _read_frame(source, shown)
        source_name, sep = "<DataFrame>", ","
    elif isinstance(source, str | os.PathLike):
        source_name = os.fspath(source)
        shown = source_name
        raw, labels, sep = _read_file(Path(source_name), shown)
    else:
        raise InputError(
            f"`source` must be a CSV file path or a pandas DataFrame; got "
            f"{type(source).__name__}. Fix: pass a path such as 'mentors.csv' or a DataFrame."
        )

    list_set = {_canonical(c) for c in list_columns}
    required = [_canonical(c) for c in required]
    raw = _canonical_columns(raw, shown, rename or {}, (*list_set, *required))
    missing = [c for c in dict.fromkeys(required) if c not in raw.columns]
    if missing:
        messages = [_missing_column_message(c, list(raw.columns), shown, raw) for c in missing]
        raise InputError(" ".join(messages), problems=messages)

    frame, problems, blank = _parse_columns(raw, labels, shown, list_set, _LIST_SPLIT[sep])
    _raise_collected(shown, [p for _, _, p in sorted(problems, key=lambda t: (t[0], t[1]))])
    logger.debug("loaded %d rows x %d columns from %s", len(frame), frame.shape[1], shown)
    return Roster(
        frame=frame,
        source=source_name,
        role=role,
        locations=tuple(labels),
        blank_columns=frozenset(blank),
    )


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def _display_name(source: str, role: str | None) -> str:
    if source != "<DataFrame>":
        return source
    return f"the {role} DataFrame" if role else "the DataFrame"


def _read_frame(source: pd.DataFrame, shown: str) -> tuple[pd.DataFrame, list[str]]:
    raw = source.copy()
    labels = [f"row {label}" for label in raw.index]
    raw.columns = [str(c).strip() for c in raw.columns]
    raw = raw.reset_index(drop=True)
    if len(raw) == 0:
        raise InputError(
            f"{shown} must have at least one row; got {len(raw.columns)} columns and no rows. "
            "Fix: pass a table with one row per person."
        )
    return raw, labels


def _separator(path: Path, header: str) -> str:
    """The cell separator: tab for ``.tsv``, else the commonest of , ; tab outside quotes.

    A tie (or a header of one column) is read as commas.
    """
    if path.suffix.lower() == ".tsv":
        return "\t"
    outside = re.sub(r'"[^"]*"', "", header)
    counts = {sep: outside.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: (counts[sep], sep == ","))
    return best if counts[best] else ","


def _read_file(path: Path, shown: str) -> tuple[pd.DataFrame, list[str], str]:
    if not path.exists():
        raise InputError(
            f"`{shown}` must be an existing CSV file; got a path that does not exist "
            f"(resolved to {path.resolve()}). Fix: check the file name and the working directory."
        )
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in {".csv", ".tsv"})
        hint = f", e.g. {str(path / inside[0])!r}" if inside else ""
        raise InputError(
            f"`{shown}` must be a CSV file; got a directory. "
            f"Fix: pass the path of the CSV file itself{hint}."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"`{shown}` must be a readable CSV file; got {exc.strerror or exc}. "
            "Fix: check the file permissions."
        ) from None
    if not data.strip():
        raise InputError(
            f"`{shown}` must have a header line and one row per person; got an empty file "
            f"({len(data)} bytes). Fix: export the table again with its header, "
            "e.g. 'id,name,level'."
        )
    text = _decode(data, path, shown)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    sep = _separator(path, first_line)
    read_as = "" if sep == "," else f" (read as {_SEPARATORS[sep]}-separated)"

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    labels: list[str] = []
    long_rows: list[str] = []
    previous = 0
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not "".join(record).strip():
                continue  # blank lines and rows of empty cells carry nothing
            if header is None:
                header = [cell.strip() for cell in record]
                continue
            if len(record) > len(header):
                if any(cell.strip() for cell in record[len(header) :]):
                    long_rows.append(f"{len(record)} cells on line {start}")
                record = record[: len(header)]
            elif len(record) < len(header):
                # trailing empty cells are often left out; padding loses nothing
                record = record + [""] * (len(header) - len(record))
            rows.append(record)
            labels.append(f"line {start}")
    except csv.Error as exc:
        raise InputError(
            f"`{shown}`{read_as} must be valid CSV; got {exc} in the record starting on line "
            f"{previous + 1}. Fix: enclose a cell that contains the separator or a line break "
            'in double quotes and double any quote inside it ("").'
        ) from None
    if header is None:
        raise InputError(
            f"`{shown}` must have a header line and one row per person; got a file with no "
            "cells. Fix: export the table again with its header, e.g. 'id,name,level'."
        )
    if long_rows:
        shown_rows = "; ".join(long_rows[:_SHOWN])
        more = f" and {len(long_rows) - _SHOWN} more" if len(long_rows) > _SHOWN else ""
        sep_name = _SEPARATORS[sep]
        raise InputError(
            f"`{shown}`{read_as} rows must have at most {len(header)} cells like the header; "
            f"got {shown_rows}{more}. Fix: enclose cells that contain a {sep_name} in double "
            f'quotes (e.g. "Python{sep} SQL"), or remove the extra separators.',
            problems=long_rows,
        )
    if not rows:
        raise InputError(
            f"`{shown}` must have at least one row below the header; got only the header "
            f"({', '.join(header)}) and no rows. Fix: add one row per person."
        )
    raw = pd.DataFrame(rows, dtype=object)
    keep = []
    for k, name in enumerate(header):
        if name:
            keep.append(k)
            continue
        column = raw[k]
        filled = [i for i, v in enumerate(column.tolist()) if v.strip()]
        if filled:
            raise InputError(
                f"`{shown}` column {k + 1} must have a name in the header; got an empty name "
                f"with values such as {column[filled[0]]!r} ({labels[filled[0]]}). "
                "Fix: give the column a name or delete it."
            )
    raw = raw[keep]
    raw.columns = [header[k] for k in keep]
    return raw, labels, sep


def _decode(data: bytes, path: Path, shown: str) -> str:
    excel = path.suffix.lower() in {".xlsx", ".xls", ".xlsm", ".ods"}
    fix = (
        "read it with pandas.read_excel and pass the DataFrame, or save it as 'CSV UTF-8'"
        if excel or data[:2] == b"PK"
        else "save the file as 'CSV UTF-8' (comma separated) from your spreadsheet program"
    )
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError(
            f"`{shown}` is not a UTF-8 text CSV; got binary data (a NUL byte on line {line}). "
            f"Fix: {fix}."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"`{shown}` is not a UTF-8 text CSV; got byte 0x{data[exc.start]:02x} on line "
            f"{line} that is not UTF-8. Fix: {fix}."
        ) from None


def _key(name: str) -> str:
    """Compare column names ignoring case, spaces, hyphens and underscores."""
    return re.sub(r"[\s_\-]+", "", name).lower()


_DEFAULT_KEYS = {_key(c): c for c in DEFAULT_COLUMNS}


def _canonical(name: str) -> str:
    """A default column's own spelling ("Work Hours" -> "work_hours"); others unchanged."""
    return _DEFAULT_KEYS.get(_key(str(name)), str(name).strip())


def _canonical_columns(
    raw: pd.DataFrame, shown: str, rename: Mapping[str, str], extra_known: Sequence[str]
) -> pd.DataFrame:
    known = {_key(c): c for c in (*extra_known, *DEFAULT_COLUMNS)}
    exact = {str(k).strip(): str(v).strip() for k, v in rename.items()}
    loose = {_key(k): v for k, v in exact.items()}
    names: list[str] = []
    seen: dict[str, str] = {}
    for original in raw.columns:
        name = str(original).strip()
        target = exact.get(name) or loose.get(_key(name)) or name
        target = known.get(_key(target), target)
        if target in seen:
            raise InputError(
                f"`{target}` must appear once in {shown}; got columns {seen[target]!r} and "
                f"{name!r} that both mean it. Fix: delete or rename one of them."
            )
        seen[target] = name
        names.append(target)
    out = raw.copy() if raw.columns.tolist() != names else raw
    out.columns = names
    return out


def _missing_column_message(
    name: str, columns: list[str], shown: str, frame: pd.DataFrame | None = None
) -> str:
    found = ", ".join(repr(c) for c in columns) if columns else "none"
    suggestions = _suggest_columns(name, columns, frame)
    if suggestions:
        fix = (
            f"map the column that holds it under [columns] in the programme file: "
            f'{suggestions[0]} = "{name}" (in Python: '
            f"load_roster(..., rename={{{suggestions[0]!r}: {name!r}}}))"
        )
    else:
        fix = (
            f"add a column named {name!r}, or map an existing one under [columns] in the "
            f'programme file: <column> = "{name}" (in Python: '
            f"rename={{'<column>': {name!r}}})"
        )
    if len(columns) == 1 and any(s in columns[0] for s in (";", "\t", "|")):
        fix += (
            "; the header looks separated by something other than commas: save the file as "
            "comma-separated CSV (lists inside a cell use ';')"
        )
    return f"`{name}` must be a column of {shown}; got columns {found}. Fix: {fix}."


def _suggest_columns(
    name: str, columns: list[str], frame: pd.DataFrame | None = None
) -> list[str]:
    """Close names first; for an id column, names that look like ids, whose values do first.

    With ``frame`` (the table read), columns whose values look like ids
    (non-blank and unique: ``EmployeeNumber``) come before the others
    (``EmployeeCount``, the same number on every row), and a column that
    holds one value throughout is not proposed for an id at all.
    """
    by_key = {_key(c): c for c in columns}
    out = [by_key[k] for k in difflib.get_close_matches(_key(name), list(by_key), n=3, cutoff=0.6)]
    if name == "id" or name.endswith("_id"):
        stem = _key(name[:-2]) if name.endswith("_id") else ""
        for column in columns:
            key = _key(column)
            id_like = key.endswith(("id", "number", "num", "no", "code", "key")) or any(
                w in key for w in ("employee", "staff", "person", "personnel")
            )
            if id_like and stem in key and column not in out:
                out.append(column)
        if frame is not None and name == "id":
            looks = {c: _id_likeness(frame, c) for c in out}
            out = sorted((c for c in out if looks[c] > 0), key=lambda c: -looks[c])
    return out[:3]


def _id_likeness(frame: pd.DataFrame, column: str) -> int:
    """2: every value non-blank and unique; 1: varied values; 0: one value throughout."""
    if column not in frame.columns or getattr(frame[column], "ndim", 1) != 1:
        return 1
    texts = [_text(v) for v in frame[column].tolist() if not _is_blank(v)]
    distinct = len(set(texts))
    if len(frame) > 1 and distinct <= 1:
        return 0
    return 2 if len(texts) == len(frame) and distinct == len(texts) else 1


# ---------------------------------------------------------------------------
# Cell parsing
# ---------------------------------------------------------------------------


class _CellError(Exception):
    """One bad cell: what was expected, what was found and how to fix it."""

    def __init__(self, expected: str, got: str, fix: str) -> None:
        super().__init__(expected)
        self.expected, self.got, self.fix = expected, got, fix

    def sentence(self, column: str, where: str) -> str:
        return f"`{column}` must be {self.expected}; got {self.got} ({where}). Fix: {self.fix}."


class _AmbiguousNumber(_CellError):
    """A number that could be read two ways (``1,000``): its own fix is kept by every column."""


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return len(value) == 0
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    """Cell text: stripped str; whole floats lose their '.0' so 1001.0 matches id '1001'."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value).strip()


def _got(value: Any) -> str:
    return repr(value.strip()) if isinstance(value, str) else repr(value)


def _parse_number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        raise _CellError("a number", _got(value), "write a number such as 3")
    comma = _DECIMAL_COMMA_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if comma:
        whole, fraction = comma.groups()
        if len(fraction) == 3:
            # "1,000" is a thousand to some readers and one to others: refuse to guess
            raise _AmbiguousNumber(
                "a number with a decimal point",
                _got(value),
                f"write {whole}{fraction} for thousands or {whole}.{fraction} for a decimal",
            )
        value = f"{whole}.{fraction}"  # "2,5" is 2.5 (a decimal comma)
    numeric = isinstance(value, int | float | np.integer | np.floating)
    if not numeric and not (isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip())):
        raise _CellError("a number", _got(value), "write a number such as 3")
    number = float(value)
    if not math.isfinite(number):
        raise _CellError("a finite number", _got(value), "write a number such as 3")
    return number


def _parse_level(value: Any) -> float:
    try:
        return _parse_number(value)
    except _AmbiguousNumber:
        raise
    except _CellError:
        raise _CellError(
            "a number", _got(value), "write the level as a number (higher = more senior), e.g. 3"
        ) from None


def _parse_capacity(value: Any) -> int:
    bad = _CellError(
        "a whole number from 0 to 1000000",
        _got(value),
        "write how many mentees this person can take, e.g. 2 (0 for none)",
    )
    try:
        number = _parse_number(value)
    except _AmbiguousNumber:
        raise
    except _CellError:
        raise bad from None
    # beyond a million mentees a capacity is a typo, and would overflow the solvers' integers
    if not math.isfinite(number) or number < 0 or not number.is_integer() or number > 1e6:
        raise bad
    return int(number)


def _parse_priority(value: Any) -> float:
    bad = _CellError(
        "a positive number",
        _got(value),
        "use 1 for the usual weight and a larger number such as 2 for under-sponsored people",
    )
    try:
        number = _parse_number(value)
    except _AmbiguousNumber:
        raise
    except _CellError:
        raise bad from None
    if number <= 0:
        raise bad
    return number


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _CellError(
        "yes or no (true/false, y/n, 1/0)", _got(value), "write yes or no (blank means yes)"
    )


def _parse_timezone_cell(value: Any) -> str:
    text = _text(value)
    try:
        parse_timezone(text)
    except InputError:
        raise _timezone_error(text) from None
    return text


def _timezone_error(text: str) -> _CellError:
    return _CellError(_time.TIMEZONE_EXPECTED, repr(text), _time.timezone_fix(text))


def _parse_hours_cell(value: Any) -> tuple[int, int]:
    if isinstance(value, tuple | list) and len(value) == 2:
        try:
            start, end = (int(v) for v in value)
        except (TypeError, ValueError):
            start, end = -1, -1
        if 0 <= start < _time.DAY and 0 <= end <= _time.DAY and start != end:
            return (start, end)
        raise _hours_error(repr(value))
    try:
        return parse_work_hours(_text(value))
    except InputError:
        raise _hours_error(_got(value)) from None


def _hours_error(got: str) -> _CellError:
    return _CellError(_time.HOURS_EXPECTED, got, _time.HOURS_FIX)


#: How list cells split, by the file's cell separator: in a ``;``-separated file a list
#: may also use ``|`` or ``,`` (a ``;`` list there must be in double quotes).
_LIST_SPLIT = {
    ",": re.compile(";"),
    "\t": re.compile(";"),
    ";": re.compile(r"[;|,]"),
}


def _parse_list(value: Any, split: re.Pattern[str] = _LIST_SPLIT[","]) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(p.strip() for p in split.split(value) if p.strip())
    if isinstance(value, set | frozenset):
        value = sorted(value, key=str)
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return tuple(t for t in (_text(v) for v in value if not _is_blank(v)) if t)
    return (_text(value),)


def _parse_text(value: Any) -> str:
    return _text(value)


# column -> (parser, value for blank cells, dtype of the parsed column)
_TYPED: dict[str, tuple[Callable[[Any], Any], Any, str]] = {
    "level": (_parse_level, np.nan, "float64"),
    "timezone": (_parse_timezone_cell, None, "object"),
    "work_hours": (_parse_hours_cell, None, "object"),
    "capacity": (_parse_capacity, None, "Int64"),
    "priority": (_parse_priority, 1.0, "float64"),
    "remote_ok": (_parse_bool, True, "bool"),
}
# known columns without a type of their own; a list column not in ``list_columns`` is text
_TEXT_COLUMNS = frozenset(DEFAULT_COLUMNS) - set(_TYPED) - {"id"}


def _parse_columns(
    raw: pd.DataFrame,
    labels: list[str],
    shown: str,
    list_set: set[str],
    list_split: re.Pattern[str] = _LIST_SPLIT[","],
) -> tuple[pd.DataFrame, list[tuple[int, int, str]], list[str]]:
    problems: list[tuple[int, int, str]] = []
    columns: dict[str, pd.Series] = {}
    blank_columns: list[str] = []
    index = pd.RangeIndex(len(raw))
    values: list[Any]
    for order, name in enumerate(raw.columns):
        cells = raw[name].tolist()
        parsed = name == "id" or name in _TYPED or name in list_set or name in _TEXT_COLUMNS
        distinct = _distinct(raw[name]) if parsed else None  # extra columns stay as read
        blank = [_is_blank(v) for v in cells] if distinct is None else distinct.blank_cells()
        if all(blank):
            blank_columns.append(name)
        parse_cells = functools.partial(_parse_cells, distinct=distinct)
        if name == "id":
            values = _parse_ids(cells, blank, labels, shown, order, problems)
            columns[name] = pd.Series(values, index=index, dtype=object)
        elif name in _TYPED:
            parse, default, dtype = _TYPED[name]
            values = parse_cells(
                cells, blank, parse, default, name, labels, shown, order, problems
            )
            columns[name] = pd.Series(
                pd.array(values, dtype=pd.Int64Dtype()) if dtype == "Int64" else values,
                index=index,
                dtype=None if dtype == "Int64" else dtype,
            )
        elif name in list_set:
            parse_list = functools.partial(_parse_list, split=list_split)
            values = parse_cells(cells, blank, parse_list, (), name, labels, shown, order, [])
            columns[name] = pd.Series(values, index=index, dtype=object)
        elif name in _TEXT_COLUMNS:
            values = parse_cells(cells, blank, _parse_text, None, name, labels, shown, order, [])
            columns[name] = pd.Series(values, index=index, dtype=object)
        else:
            # extra columns are the caller's business: keep them exactly as read
            columns[name] = raw[name].copy()
    return pd.DataFrame(columns, index=index), problems, blank_columns


@dataclass(frozen=True)
class _Distinct:
    """A column as codes into its distinct values (``-1``: missing), to parse each value once."""

    codes: np.ndarray
    values: list[Any]
    blank: np.ndarray  # per distinct value

    def blank_cells(self) -> list[bool]:
        return np.append(self.blank, True)[self.codes].tolist()  # code -1: missing, blank


def _distinct(column: pd.Series) -> _Distinct | None:
    """The column's distinct values when all its cells are of one kind, else None.

    A CSV column holds text only; a DataFrame's column may mix types (``1``,
    ``1.0`` and ``True`` compare equal but parse apart), which keeps the
    cell-by-cell path.
    """
    if column.dtype == object:
        if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
            return None
        # pandas before 3.1 hashes text only up to a NUL character ("ab" == "ab\x00c")
        if column.str.contains("\x00", regex=False).any():
            return None
    elif not (
        pd.api.types.is_integer_dtype(column.dtype)
        or pd.api.types.is_float_dtype(column.dtype)
        or pd.api.types.is_bool_dtype(column.dtype)
    ) or isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return None
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = np.asarray(uniques).tolist()
    blank = np.array([_is_blank(v) for v in values], dtype=bool)
    return _Distinct(np.asarray(codes, dtype=np.int64), values, blank)


def _parse_cells(
    cells: list[Any],
    blank: list[bool],
    parse: Callable[[Any], Any],
    default: Any,
    name: str,
    labels: list[str],
    shown: str,
    order: int,
    problems: list[tuple[int, int, str]],
    distinct: _Distinct | None = None,
) -> list[Any]:
    if distinct is not None:
        return _parse_distinct(
            distinct, cells, parse, default, name, labels, shown, order, problems
        )
    cache: dict[Any, Any] = {}
    failed = object()
    out: list[Any] = []
    for i, (value, is_blank) in enumerate(zip(cells, blank, strict=True)):
        if is_blank:
            out.append(default)
            continue
        # the type is part of the key so that True, 1 and 1.0 are parsed separately
        key = (type(value), value) if isinstance(value, str | int | float | np.generic) else None
        parsed = failed if key is None else cache.get(key, failed)
        if parsed is failed:
            try:
                parsed = parse(value)
            except _CellError as err:
                problems.append((i, order, err.sentence(name, f"{shown}, {labels[i]}")))
                parsed = default
            else:
                if key is not None:
                    cache[key] = parsed
        out.append(parsed)
    return out


def _parse_distinct(
    distinct: _Distinct,
    cells: list[Any],
    parse: Callable[[Any], Any],
    default: Any,
    name: str,
    labels: list[str],
    shown: str,
    order: int,
    problems: list[tuple[int, int, str]],
) -> list[Any]:
    """:func:`_parse_cells` by distinct value: each parsed once, each bad cell still reported."""
    parsed = np.empty(len(distinct.values) + 1, dtype=object)
    parsed[-1] = default  # code -1: a missing cell
    failed: list[int] = []
    for k, value in enumerate(distinct.values):
        if distinct.blank[k]:
            parsed[k] = default
            continue
        try:
            parsed[k] = parse(value)
        except _CellError:
            parsed[k] = default
            failed.append(k)
    if failed:
        # each bad cell parsed again on its own: its message quotes the cell as written
        # (values the grouping holds equal, such as 0.0 and -0.0, may read apart)
        rows = np.flatnonzero(np.isin(distinct.codes, failed))
        for i in rows.tolist():
            try:
                parse(cells[i])
            except _CellError as err:
                problems.append((i, order, err.sentence(name, f"{shown}, {labels[i]}")))
    return parsed[distinct.codes].tolist()


def _parse_ids(
    cells: list[Any],
    blank: list[bool],
    labels: list[str],
    shown: str,
    order: int,
    problems: list[tuple[int, int, str]],
) -> list[str]:
    ids: list[str] = []
    where_seen: dict[str, list[int]] = {}
    for i, (value, is_blank) in enumerate(zip(cells, blank, strict=True)):
        text = "" if is_blank else _text(value)
        ids.append(text)
        if not text:
            problems.append(
                (
                    i,
                    order,
                    f"`id` must not be empty; got a blank cell ({shown}, {labels[i]}). "
                    "Fix: give every row a unique id.",
                )
            )
        else:
            where_seen.setdefault(text, []).append(i)
    for text, rows in where_seen.items():
        if len(rows) > 1:
            places = _join_places([labels[r] for r in rows])
            problems.append(
                (
                    rows[1],
                    order,
                    f"`id` must be unique; got {text!r} on {places} ({shown}). "
                    "Fix: remove the duplicate rows or give each person their own id.",
                )
            )
    return ids


def _join_places(labels: list[str]) -> str:
    """'line 3', 'line 9' -> 'lines 3 and 9'; beyond five, 'lines 3, 4, 7, 9, 12 and 388 more'."""
    kind = labels[0].split(" ", 1)[0]
    numbers = [label.split(" ", 1)[1] for label in labels]
    if len(numbers) > _SHOWN:
        listed = ", ".join(numbers[:_SHOWN]) + f" and {len(numbers) - _SHOWN} more"
    else:
        listed = ", ".join(numbers[:-1]) + " and " + numbers[-1]
    return f"{kind}s {listed}"


def _raise_collected(shown: str, problems: list[str]) -> None:
    if not problems:
        return
    if len(problems) == 1:
        raise InputError(problems[0], problems=problems)
    lines = [f"{shown} has {len(problems)} problems:"]
    lines += [f"  - {p}" for p in problems[:_SHOWN]]
    if len(problems) > _SHOWN:
        lines.append(
            f"  ... and {len(problems) - _SHOWN} more (`pairwise validate` lists them all; "
            "in Python: InputError.reasons)."
        )
    raise InputError("\n".join(lines), problems=problems)
