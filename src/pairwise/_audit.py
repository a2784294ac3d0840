"""Who gets matched, segment by segment: the audit behind ``result.audit(by=...)``.

A coordinator asks "do women, or people at one site, get matched as often, and as
well, as everyone else?". :func:`audit_table` answers from an :class:`AuditBasis`
(what a result keeps of the audited roster: each person's segment columns,
whether they were matched and their score) with one row per (column, value)
segment: ``n``, ``matched``, ``matched_share``, ``mean_score``, ``lowest_score``.

Small cells identify people: "the 2 people at site Oslo, 1 matched, lowest score
0.21" tells a reader who was left out and how well the other fared. A segment of
fewer than :data:`~pairwise.diversity.MIN_CELL` (5) people therefore has its
figures blanked (``suppressed=True``); when that leaves a single blanked segment
in a column, the next smallest one is blanked too, so the blanked figures
cannot be recovered by subtraction from the totals. In protected columns
(``[program] protected``) the values held by fewer than 5 people are not even
named: they are pooled into one row, ``"(fewer than 5 people)"``. Protected
attributes appear nowhere else in a result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .diversity import MIN_CELL
from .errors import InputError
from .reports import FEW_PEOPLE
from .roster import LIST_COLUMNS, Roster

__all__ = [
    "AUDIT_COLUMNS",
    "BLANK",
    "SEGMENT_COLUMNS",
    "AuditBasis",
    "audit_basis",
    "audit_table",
    "default_columns",
]

#: Columns audited by default when the roster has them (plus the protected ones).
SEGMENT_COLUMNS: tuple[str, ...] = ("gender", "ethnicity", "level", "site", "function")
#: The columns of an audit table, in order.
AUDIT_COLUMNS = [
    "column",
    "value",
    "n",
    "matched",
    "matched_share",
    "mean_score",
    "lowest_score",
    "suppressed",
]
#: The segment of people with no value in a column.
BLANK = "(blank)"
#: Roster columns never audited: they identify one person each.
_PERSONAL = ("id", "name")


@dataclass(frozen=True)
class AuditBasis:
    """What a result keeps to audit itself: the audited people, matched or not, and scores.

    Attributes
    ----------
    people : DataFrame
        One row per audited person (mentees, peers or protégés) in roster order:
        the roster's single-valued columns, without ``id`` and ``name``.
    matched : ndarray of bool
        Whether each person is in a pair (or group).
    score : ndarray of float
        Each matched person's pair score (group fit); NaN when unmatched.
    protected : tuple of str
        The programme's protected columns (``[program] protected``).
    role : str
        ``"mentee"``, ``"person"`` or ``"protege"`` (for messages).
    """

    people: pd.DataFrame
    matched: np.ndarray
    score: np.ndarray
    protected: tuple[str, ...]
    role: str


def audit_basis(
    roster: Roster, positions: np.ndarray, scores: np.ndarray, protected: Iterable[str]
) -> AuditBasis:
    """The basis of ``roster``'s audit: the people at ``positions`` matched with ``scores``.

    ``positions`` are the roster positions of the matched people and ``scores``
    their pair scores (group fit), in the same order.
    """
    frame = roster.frame
    keep = [
        c
        for c in frame.columns
        if c not in _PERSONAL and c not in LIST_COLUMNS and not _has_lists(frame[c])
    ]
    matched = np.zeros(len(roster), dtype=bool)
    score = np.full(len(roster), np.nan)
    at = np.asarray(positions, dtype=np.intp)
    matched[at] = True
    score[at] = np.asarray(scores, dtype=float)
    return AuditBasis(
        people=frame[keep].reset_index(drop=True),
        matched=matched,
        score=score,
        protected=tuple(dict.fromkeys(str(c) for c in protected)),
        role=roster.role or "person",
    )


def _has_lists(column: pd.Series) -> bool:
    """Whether a roster column holds lists (tuples); a parsed column is uniform: one tells."""
    if column.dtype != object:
        return False
    present = column[column.notna()]
    return bool(len(present)) and isinstance(present.iloc[0], tuple)


def default_columns(basis: AuditBasis) -> list[str]:
    """The columns ``audit(by=None)`` covers: :data:`SEGMENT_COLUMNS`, then protected ones."""
    present = set(basis.people.columns)
    return [c for c in dict.fromkeys([*SEGMENT_COLUMNS, *basis.protected]) if c in present]


def _columns(basis: AuditBasis, by: str | Sequence[str] | None) -> list[str]:
    """``by`` checked against the basis: a list of audited columns."""
    if by is None:
        return default_columns(basis)
    names = [by] if isinstance(by, str) else list(by)
    available = ", ".join(map(str, basis.people.columns)) or "none"
    for name in names:
        if not isinstance(name, str):
            raise InputError(
                f"`by` must be a column name or a list of column names; got {name!r} "
                f"({type(name).__name__}). Fix: pass e.g. by=['gender', 'site']."
            )
        if name not in basis.people.columns:
            why = (
                "it names one person per value"
                if name in _PERSONAL
                else "a list column holds several values per person"
                if name in LIST_COLUMNS
                else f"the {basis.role} roster has no such column"
            )
            raise InputError(
                f"`by` must name single-valued columns of the {basis.role} roster; got "
                f"{name!r} ({why}). Fix: use one of: {available}."
            )
    return list(dict.fromkeys(names))


def audit_table(
    basis: AuditBasis,
    by: str | Sequence[str] | None = None,
    *,
    protected: Iterable[str] | None = None,
) -> pd.DataFrame:
    """One row per (column, value) segment: size, matched share and scores, small cells blanked.

    Parameters
    ----------
    basis : AuditBasis
        What the result kept (:func:`audit_basis`).
    by : str or sequence of str, optional
        Columns to audit; by default those of :data:`SEGMENT_COLUMNS` the roster
        has, then the protected columns.
    protected : iterable of str, optional
        Protected columns (default: the basis's). Their values held by fewer than
        5 people are pooled into one row, ``"(fewer than 5 people)"``.

    Returns
    -------
    DataFrame
        :data:`AUDIT_COLUMNS`: ``column``, ``value`` (missing values are
        ``"(blank)"``), ``n`` and ``matched`` (nullable integers),
        ``matched_share``, ``mean_score`` and ``lowest_score`` (over the matched
        people of the segment; NaN when none is matched), ``suppressed``. A
        suppressed row has every figure blank: it has fewer than 5 people, or
        it is the smallest other segment of a column where only one segment
        would be blank. Segments come by size, largest first; a pooled row last.

    Raises
    ------
    InputError
        ``by`` names a column the roster does not have, a list column, or
        ``id`` / ``name``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, pairwise as pw
    >>> sites = ["Oslo"] * 6 + ["Rome"] * 5 + ["Nice"] * 3 + ["Pisa"]
    >>> people = pw.load_roster(
    ...     pd.DataFrame({"id": [f"E{i}" for i in range(15)], "site": sites}), role="mentee")
    >>> basis = audit_basis(people, np.arange(9), np.linspace(0.1, 0.9, 9), ())
    >>> table = audit_table(basis, "site")
    >>> print(table[["value", "n", "matched", "suppressed"]].to_string(index=False))
    value    n  matched  suppressed
     Oslo    6        6       False
     Rome    5        3       False
     Nice <NA>     <NA>        True
     Pisa <NA>     <NA>        True
    >>> table.loc[1, ["mean_score", "lowest_score"]].round(2).tolist()
    [0.8, 0.7]
    """
    shielded = frozenset(basis.protected if protected is None else map(str, protected))
    records: list[dict[str, Any]] = []
    for column in _columns(basis, by):
        values = _segment_values(basis.people[column])
        if column in shielded:
            counts = values.value_counts()
            small = counts.index[counts < MIN_CELL]
            values = values.where(~values.isin(small), FEW_PEOPLE)
        records += _column_rows(column, values, basis.matched, basis.score)
    table = pd.DataFrame(records, columns=AUDIT_COLUMNS)
    for name in ("n", "matched"):
        table[name] = table[name].astype("Int64")
    for name in ("matched_share", "mean_score", "lowest_score"):
        table[name] = table[name].astype("float64")
    table["suppressed"] = table["suppressed"].astype(bool)
    table["value"] = table["value"].astype(object)
    return table


def _segment_values(column: pd.Series) -> pd.Series:
    """The column's values as segments: blanks named, whole floats as ints (3.0 -> 3).

    Each distinct value is converted once (a column of 100,000 people has a few).
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    plain = np.array(
        [_plain(v) for v in np.asarray(uniques, dtype=object)] + [BLANK], dtype=object
    )
    return pd.Series(plain[codes], dtype=object)  # code -1 (missing) picks the last: BLANK


def _plain(value: Any) -> Any:
    """A Python value for a segment (3.0 -> 3, numpy scalars -> Python)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _column_rows(
    column: str, values: pd.Series, matched: np.ndarray, score: np.ndarray
) -> list[dict[str, Any]]:
    """The audit rows of one column, small cells and their complement blanked."""
    frame = pd.DataFrame({"value": values, "matched": matched, "score": score})
    grouped = frame.groupby("value", sort=False, dropna=False)
    stats = pd.DataFrame(
        {
            "n": grouped.size(),
            "matched": grouped["matched"].sum(),
            "mean_score": grouped["score"].mean(),
            "lowest_score": grouped["score"].min(),
        }
    )
    keys = [str(v) for v in stats.index]
    pooled = [v == FEW_PEOPLE for v in stats.index]
    order = sorted(range(len(stats)), key=lambda k: (pooled[k], -stats["n"].iloc[k], keys[k]))
    stats = stats.iloc[order]
    blank = (stats["n"] < MIN_CELL).to_numpy().copy()
    if blank.sum() == 1 and len(stats) > 1:
        # a lone blank cell is the total minus the others: blank the next smallest too
        sizes = np.where(blank, np.inf, stats["n"].to_numpy(dtype=float))
        smallest = np.flatnonzero(sizes == sizes.min())
        blank[smallest[-1]] = True  # of equal sizes, the one listed last
    rows = []
    for (value, row), hide in zip(stats.iterrows(), blank, strict=True):
        n, k = int(row["n"]), int(row["matched"])
        rows.append(
            {
                "column": column,
                "value": value,
                "n": pd.NA if hide else n,
                "matched": pd.NA if hide else k,
                "matched_share": np.nan if hide else k / n,
                "mean_score": np.nan if hide else float(row["mean_score"]),
                "lowest_score": np.nan if hide else float(row["lowest_score"]),
                "suppressed": bool(hide),
            }
        )
    return rows
