"""Hard rules: which (mentor, mentee) pairs may be formed at all, as boolean masks.

A rule is a frozen dataclass with a ``name``; :meth:`Rule.mask` returns a bool
matrix (rows = mentors, columns = mentees; True = allowed) and
:meth:`Rule.explain` a plain-language verdict for one pair. Every rule also
works when mentors and mentees are the same roster (a peer pool): pairs of ids
are then applied in both directions.

Like criteria, rules are built from the terms of :mod:`pairwise._terms`: tables
over the few distinct values of each side (levels, sites, language sets,
working-hour patterns), sparse lists of forbidden pairs (reporting lines,
exclusions, history) and per-person flags (opt-in). Tables fuse into one matrix
product of violation counts in :class:`~pairwise.compatibility.CompatibilityModel`.

:func:`together` is the group-level form of the accessibility and language
rules: who may share a learning group, by the same code the pair rules use.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._terms import (
    ColumnChecks,
    EncodingCache,
    Flags,
    ForbidPairs,
    Func,
    FuncMask,
    Index,
    MaskTerm,
    Restrict,
    Table,
    TableMask,
    apply_terms,
    bool_mask_term,
    cell_sets,
    check_protected,
    fits_table,
    numeric_table_or_func,
    numeric_values,
    offset_minutes,
    require_column,
    roster_display,
    same_pool,
    set_table_or_func,
)
from ._time import overlap_minutes
from .errors import InputError

if TYPE_CHECKING:
    from .roster import Roster

__all__ = [
    "LEVEL_DIRECTIONS",
    "Accessible",
    "Exclude",
    "LevelWithin",
    "MaxLevelGap",
    "MinLevelGap",
    "NoRepeat",
    "NotManager",
    "NotSelf",
    "OptIn",
    "Require",
    "Rule",
    "SharedLanguage",
    "together",
]

logger = logging.getLogger(__name__)

#: Outcomes of an earlier pair that count as "it did not work" for ``NoRepeat(only_failed=True)``.
FAILED_OUTCOMES: tuple[str, ...] = (
    "failed",
    "fail",
    "ended_early",
    "terminated",
    "unsuccessful",
    "mismatch",
    "dissolved",
    "cancelled",
    "canceled",
)
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0", "on", "x"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0", "off"})
_OPT_IN_SIDES = ("both", "mentor", "mentee")
_DEFAULT_HOURS = (540, 1020)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _role(roster: Roster, default: str) -> str:
    return str(roster.role) if getattr(roster, "role", None) else default


def _id_lookup(roster: Roster) -> dict[str, int]:
    return {str(v): i for i, v in enumerate(roster.ids.tolist())}


def _pairs_matrix(
    pairs: Iterable[tuple[int, int]] | tuple[np.ndarray, np.ndarray], shape: tuple[int, int]
) -> sp.csr_matrix:
    if isinstance(pairs, tuple) and len(pairs) == 2 and isinstance(pairs[0], np.ndarray):
        r, c = pairs
    else:
        arr = np.asarray(list(pairs), dtype=np.intp).reshape(-1, 2)
        r, c = arr[:, 0], arr[:, 1]
    if len(r) == 0:
        return sp.csr_matrix(shape, dtype=np.float64)
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=shape)


def _normalise_pairs(pairs: Any, owner: str) -> tuple[tuple[str, str], ...]:
    if isinstance(pairs, pd.DataFrame):
        cols = [c for c in ("mentor_id", "mentee_id") if c in pairs.columns]
        if len(cols) == 2:
            pairs = pairs[cols].itertuples(index=False, name=None)
        else:
            pairs = pairs.iloc[:, :2].itertuples(index=False, name=None)
    out = []
    for item in pairs:
        if isinstance(item, str) or not isinstance(item, Sequence) or len(item) != 2:
            raise InputError(
                f"`pairs` of {owner} must be (mentor id, mentee id) pairs; got {item!r}. "
                'Fix: pass e.g. [("M001", "E042")].'
            )
        out.append((str(item[0]).strip(), str(item[1]).strip()))
    return tuple(out)


def _hours_text(minutes: float) -> str:
    return f"{minutes / 60:.1f} h"


# ---------------------------------------------------------------------------
# The base class
# ---------------------------------------------------------------------------


class Rule(ColumnChecks):
    """Base of the hard rules: a bool mask of allowed (mentor, mentee) pairs.

    Subclasses are frozen dataclasses with a ``name`` and implement
    :meth:`columns`, :meth:`terms`, :meth:`label` and :meth:`reason`.
    """

    name: str
    _kind = "rule"

    def columns(self) -> tuple[tuple[str, str], ...]:
        """Required ``(side, column)`` pairs, side being ``"mentors"`` or ``"mentees"``."""
        return ()

    def label(self) -> str:
        """A short phrase naming what a pair must meet, e.g. "level gap ≥ 2"."""
        raise NotImplementedError

    def relaxed(self) -> Rule | None:
        """The rule relaxed by one natural step (allowing more pairs), or None when it has none.

        Rules with a threshold step it (a level gap of 2 becomes 1, a 2 h
        overlap 1 h); rules without one (a shared language, the opt-in, lists
        of pairs) return None: they can only be dropped.
        """
        return None

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        """The mask terms whose AND is the rule's mask (columns already checked)."""
        raise NotImplementedError

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        """Why the pair ``(row, col)`` is (not) allowed, in plain language."""
        return f"meets {self.label()}" if allowed else f"fails {self.label()}"

    # -- shared machinery ---------------------------------------------------

    def _set_name(self, default: str) -> None:
        if not self.name:
            object.__setattr__(self, "name", default)

    def _at(self, at: _dt.date | None, cache: EncodingCache) -> _dt.date | None:
        own = getattr(self, "at", None)
        if own is not None:
            return own
        return at if at is not None else cache.at

    def mask(
        self,
        mentors: Roster,
        mentees: Roster,
        *,
        rows: Index = None,
        cols: Index = None,
        at: _dt.date | None = None,
        cache: EncodingCache | None = None,
        allow_protected: bool = False,
    ) -> np.ndarray:
        """Allowed pairs (True) for mentors ``rows`` x mentees ``cols``.

        Parameters
        ----------
        mentors, mentees : Roster
            Rows and columns (the same roster for a peer pool).
        rows, cols : slice or sequence of int, optional
            Positions (a block); default all.
        at : datetime.date, optional
            Day for time-zone offsets (the rule's own ``at`` wins); default today.
        cache : EncodingCache, optional
            Encodings shared with the other criteria and rules of a run.
        allow_protected : bool
            Allow a rule on a protected column; refused by default.

        Returns
        -------
        numpy.ndarray
            bool of shape ``(len(rows), len(cols))``.

        Raises
        ------
        InputError
            When a required column is absent or protected, or the rule's ids
            do not fit the rosters.
        """
        cache = cache if cache is not None else EncodingCache(at=at)
        self.check_columns(mentors, mentees, allow_protected=allow_protected)
        terms = self.terms(mentors, mentees, cache, self._at(at, cache))
        return apply_terms(terms, (len(mentors), len(mentees)), rows, cols)

    def explain(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        *,
        at: _dt.date | None = None,
        cache: EncodingCache | None = None,
        allow_protected: bool = False,
    ) -> str:
        """Plain-language verdict for the pair ``(row, col)`` (positions).

        Returns
        -------
        str
            ``"allowed: ..."`` or ``"not allowed: ..."`` with the reason.
        """
        cache = cache if cache is not None else EncodingCache(at=at)
        ok = bool(
            self.mask(
                mentors,
                mentees,
                rows=[row],
                cols=[col],
                at=at,
                cache=cache,
                allow_protected=allow_protected,
            )[0, 0]
        )
        why = self.reason(mentors, mentees, int(row), int(col), ok, cache, self._at(at, cache))
        return f"{'allowed' if ok else 'not allowed'}: {why}"


# ---------------------------------------------------------------------------
# Level rules
# ---------------------------------------------------------------------------


def _check_int(value: Any, key: str, owner: str, minimum: int | None = None) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float | np.number)
        and math.isfinite(float(value))
    )
    if ok and minimum is not None:
        ok = value >= minimum
    if not ok:
        at_least = f" >= {minimum}" if minimum is not None else ""
        raise InputError(
            f"`{key}` of {owner} must be a number{at_least}; got {value!r}. Fix: e.g. {owner}(2)."
        )


#: Where the mentor stands in a level rule: above the mentee, or below (reverse mentoring).
LEVEL_DIRECTIONS = ("above", "below")


class _LevelRule(Rule):
    column: str

    @property
    def _sign(self) -> float:
        # "below" (reverse mentoring) measures the gap from the mentee down to the mentor
        return -1.0 if getattr(self, "direction", "above") == "below" else 1.0

    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("mentors", self.column), ("mentees", self.column))

    def _ok(self, gap: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        xl = numeric_values(cache, mentors, self.column)
        xr = numeric_values(cache, mentees, self.column)
        sign = self._sign
        term = numeric_table_or_func(xl, xr, lambda a, b: self._ok(sign * (a - b)), False)
        return [bool_mask_term(term)]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        lm = float(numeric_values(cache, mentors, self.column)[row])
        le = float(numeric_values(cache, mentees, self.column)[col])
        rm, re_ = _role(mentors, "mentor"), _role(mentees, "mentee")
        if math.isnan(lm) or math.isnan(le):
            who = rm if math.isnan(lm) else re_
            return f"{self.column} of the {who} is unknown, so {self.label()} cannot be checked"
        return (
            f"{rm} {self.column} {lm:g} vs {re_} {self.column} {le:g}: "
            f"gap {self._sign * (lm - le):g} ({self.label()} needed)"
        )


def _check_direction(value: Any, owner: str) -> None:
    if value not in LEVEL_DIRECTIONS:
        raise InputError(
            f"`direction` of {owner} must be 'above' or 'below'; got {value!r}. Fix: "
            f"'above' (the mentor is senior) or 'below' (reverse mentoring: the mentor is junior)."
        )


@dataclass(frozen=True)
class MinLevelGap(_LevelRule):
    """The mentor is at least ``gap`` levels above the mentee (``level_m - level_e >= gap``).

    A blank level fails the rule (it cannot be checked). With
    ``direction="below"`` (reverse mentoring) the mentor is at least ``gap``
    levels *below* the mentee instead (``level_e - level_m >= gap``).

    Parameters
    ----------
    gap : float
        Minimum levels above (default 2, the classic "two levels above").
    column : str
        The level column (higher = more senior).
    name : str
        Default ``"min_level_gap"``.
    direction : {"above", "below"}
        Where the mentor stands: above the mentee (default) or below.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a", "b"], "level": [5, 3]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x"], "level": [3]}))
    >>> MinLevelGap(2).mask(m, e)
    array([[ True],
           [False]])
    """

    gap: float = 2
    column: str = "level"
    name: str = ""
    direction: str = "above"

    def __post_init__(self) -> None:
        _check_int(self.gap, "gap", "MinLevelGap")
        _check_direction(self.direction, "MinLevelGap")
        self._set_name("min_level_gap")

    def _ok(self, gap: np.ndarray) -> np.ndarray:
        return gap >= self.gap

    def label(self) -> str:
        if self.direction == "below":
            return f"mentor ≥ {self.gap:g} levels below"
        return f"level gap ≥ {self.gap:g}"

    def relaxed(self) -> MinLevelGap | None:
        """One level less (``gap - 1``); None when the gap is already 0 or below.

        >>> MinLevelGap(2).relaxed().label()
        'level gap ≥ 1'
        """
        if self.gap <= 0:
            return None
        return dataclasses.replace(self, gap=self.gap - 1)


@dataclass(frozen=True)
class MaxLevelGap(_LevelRule):
    """The mentor is at most ``gap`` levels above the mentee (``level_m - level_e <= gap``).

    Parameters
    ----------
    gap : float
    column : str
    name : str
        Default ``"max_level_gap"``.
    direction : {"above", "below"}
        ``"below"``: the mentor is at most ``gap`` levels below the mentee.
    """

    gap: float = 4
    column: str = "level"
    name: str = ""
    direction: str = "above"

    def __post_init__(self) -> None:
        _check_int(self.gap, "gap", "MaxLevelGap")
        _check_direction(self.direction, "MaxLevelGap")
        self._set_name("max_level_gap")

    def _ok(self, gap: np.ndarray) -> np.ndarray:
        return gap <= self.gap

    def label(self) -> str:
        if self.direction == "below":
            return f"mentor ≤ {self.gap:g} levels below"
        return f"level gap ≤ {self.gap:g}"

    def relaxed(self) -> MaxLevelGap:
        """One level more (``gap + 1``)."""
        return dataclasses.replace(self, gap=self.gap + 1)


@dataclass(frozen=True)
class LevelWithin(_LevelRule):
    """Peers of about the same level: ``|level_a - level_b| <= within``.

    Parameters
    ----------
    within : float
        Largest level difference allowed (>= 0).
    column : str
    name : str
        Default ``"level_within"``.
    """

    within: float = 1
    column: str = "level"
    name: str = ""

    def __post_init__(self) -> None:
        _check_int(self.within, "within", "LevelWithin", minimum=0)
        self._set_name("level_within")

    def _ok(self, gap: np.ndarray) -> np.ndarray:
        return np.abs(gap) <= self.within

    def label(self) -> str:
        return f"level difference ≤ {self.within:g}"

    def relaxed(self) -> LevelWithin:
        """One level more (``within + 1``)."""
        return dataclasses.replace(self, within=self.within + 1)


# ---------------------------------------------------------------------------
# Reporting line
# ---------------------------------------------------------------------------


def _edges(
    cache: EncodingCache, mentors: Roster, mentees: Roster, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Every reporting edge (person id, manager id) of both rosters, without repeats."""

    def build() -> tuple[np.ndarray, np.ndarray]:
        people: list[np.ndarray] = []
        bosses: list[np.ndarray] = []
        for roster in (mentors, mentees) if mentors is not mentees else (mentors,):
            if column not in roster.frame.columns:
                continue
            ids = roster.ids
            boss = roster.frame[column].to_numpy(dtype=object)
            blank = pd.isna(boss)
            if not blank.all():
                # the roster gives stripped text; other values (numbers) become text
                text = np.array([b if type(b) is str else str(b) for b in boss], dtype=object)
                boss = np.where(blank, "", text)
            keep = (boss != "") & (boss != ids) & ~blank
            people.append(ids[keep].astype(object))
            bosses.append(boss[keep])
        if not people:
            empty = np.zeros(0, dtype=object)
            return empty, empty
        edges = pd.DataFrame({"p": np.concatenate(people), "b": np.concatenate(bosses)})
        edges = edges.drop_duplicates()
        return edges["p"].to_numpy(dtype=object), edges["b"].to_numpy(dtype=object)

    return cache.get(("edges", column), (mentors, mentees), build)


def _managers(
    cache: EncodingCache, mentors: Roster, mentees: Roster, column: str
) -> dict[str, tuple[str, ...]]:
    """id -> manager ids, from both rosters (a person listed twice may keep two managers)."""

    def build() -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for person, boss in zip(*_edges(cache, mentors, mentees, column), strict=True):
            out[person] = (*out.get(person, ()), boss)
        return out

    return cache.get(("managers", column), (mentors, mentees), build)


def _chain(person: str, managers: Mapping[str, tuple[str, ...]], chain: bool) -> dict[str, int]:
    """Everyone above ``person`` -> how many levels up (1 = line manager); cycles are cut."""
    up: dict[str, int] = {}
    queue = deque((m, 1) for m in managers.get(person, ()))
    while queue:
        boss, depth = queue.popleft()
        if boss in up or boss == person:
            continue
        up[boss] = depth
        if chain:
            queue.extend((m, depth + 1) for m in managers.get(boss, ()))
    return up


def _chain_pairs_graph(
    mentors: Roster, mentees: Roster, managers: Mapping[str, tuple[str, ...]], chain: bool
) -> list[tuple[int, int]]:
    """Forbidden (mentor, mentee) positions by a walk per person (people with several managers)."""
    mentor_pos, mentee_pos = _id_lookup(mentors), _id_lookup(mentees)
    pairs: list[tuple[int, int]] = []
    for j, ident in enumerate(mentees.ids.tolist()):
        for boss in _chain(str(ident), managers, chain):
            above = mentor_pos.get(boss)
            if above is not None:
                pairs.append((above, j))
    for i, ident in enumerate(mentors.ids.tolist()):
        for boss in _chain(str(ident), managers, chain):
            below = mentee_pos.get(boss)
            if below is not None:
                pairs.append((i, below))
    return pairs


def _chain_pairs_tree(
    mentors: Roster, mentees: Roster, people: np.ndarray, bosses: np.ndarray, chain: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The same for a reporting tree (one manager each), walking all chains at once.

    Every person starts at themselves; each step moves everyone to their
    manager, so step ``d`` meets the ancestors ``d`` levels up. A cycle in the
    data is cut after as many steps as there are people.
    """
    n_m, n_e = len(mentors), len(mentees)
    every = np.concatenate([mentors.ids.astype(str), mentees.ids.astype(str), people, bosses])
    codes, uniques = pd.factorize(every)  # one hash pass instead of a dict per id
    size = len(uniques)
    mentor_ids, mentee_ids = codes[:n_m], codes[n_m : n_m + n_e]
    k = n_m + n_e + len(people)
    parent = np.full(size, -1, dtype=np.intp)
    parent[codes[n_m + n_e : k]] = codes[k:]
    mentor_at = np.full(size, -1, dtype=np.intp)
    mentee_at = np.full(size, -1, dtype=np.intp)
    mentor_at[mentor_ids] = np.arange(n_m)
    mentee_at[mentee_ids] = np.arange(n_e)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for start, other_at, is_mentee in (
        (mentee_ids, mentor_at, True),
        (mentor_ids, mentee_at, False),
    ):
        origin = np.arange(len(start))
        current = start.copy()
        for _ in range(size if chain else 1):
            current = parent[current]
            alive = (current >= 0) & (current != start[origin])
            current, origin = current[alive], origin[alive]
            if current.size == 0:
                break
            hit = other_at[current]
            found = hit >= 0
            if is_mentee:
                rows.append(hit[found])
                cols.append(origin[found])
            else:
                rows.append(origin[found])
                cols.append(hit[found])
    if not rows:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    return np.concatenate(rows), np.concatenate(cols)


@dataclass(frozen=True)
class NotManager(Rule):
    """Not the mentee's line manager, nor anyone up the same reporting chain.

    The reporting lines are read from ``manager_id`` of both rosters (joined by
    id, so mentors and mentees may come from different files). The rule also
    forbids the reverse (a mentee above the mentor) and, with ``chain=False``,
    only checks direct line managers. Reporting cycles in the data are cut.

    Parameters
    ----------
    chain : bool
        Forbid the whole chain above (default) or only the direct manager.
    column : str
        The manager column (default ``"manager_id"``); needed on at least one roster.
    name : str
        Default ``"not_manager"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["ceo", "vp", "lead", "other"],
    ...                               "manager_id": [None, "ceo", "vp", "ceo"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x"], "manager_id": ["lead"]}))
    >>> NotManager().mask(m, e).ravel()     # x -> lead -> vp -> ceo
    array([False, False, False,  True])
    >>> NotManager(chain=False).mask(m, e).ravel()
    array([ True,  True, False,  True])
    """

    chain: bool = True
    column: str = "manager_id"
    name: str = ""

    def __post_init__(self) -> None:
        self._set_name("not_manager")

    def columns(self) -> tuple[tuple[str, str], ...]:
        return ()

    def check_columns(self, mentors: Roster, mentees: Roster, *, allow_protected: bool) -> None:
        check_protected([self.column], f"rule {self.name!r}", allow_protected)
        if self.column not in mentors.frame.columns and self.column not in mentees.frame.columns:
            require_column(mentees, self.column, "mentees", f"rule {self.name!r}")

    def missing_columns(self, mentors: Roster, mentees: Roster) -> list[str]:
        if mentors.has(self.column) or mentees.has(self.column):
            return []
        return [
            f"`{self.column}` in both rosters "
            f"({roster_display(mentors)}, {roster_display(mentees)})"
        ]

    def label(self) -> str:
        return "not in the reporting line" if self.chain else "not the line manager"

    def relaxed(self) -> NotManager | None:
        """Only the direct line manager (``chain=False``); None when that is the rule already."""
        return dataclasses.replace(self, chain=False) if self.chain else None

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        def build() -> sp.csr_matrix:
            people, bosses = _edges(cache, mentors, mentees, self.column)
            shape = (len(mentors), len(mentees))
            if len(pd.unique(people)) == len(people):  # one manager each: a forest
                tree = _chain_pairs_tree(mentors, mentees, people, bosses, self.chain)
                return _pairs_matrix(tree, shape)
            managers = _managers(cache, mentors, mentees, self.column)
            return _pairs_matrix(_chain_pairs_graph(mentors, mentees, managers, self.chain), shape)

        key = ("not_manager", self.column, self.chain)
        return [ForbidPairs(cache.get(key, (mentors, mentees), build))]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        managers = _managers(cache, mentors, mentees, self.column)
        m_id, e_id = str(mentors.ids[row]), str(mentees.ids[col])
        rm, re_ = _role(mentors, "mentor"), _role(mentees, "mentee")
        up = _chain(e_id, managers, self.chain)
        if m_id in up:
            if up[m_id] == 1:
                return f"{rm} {m_id} is the line manager of {re_} {e_id}"
            return f"{rm} {m_id} is {up[m_id]} levels up the reporting chain of {re_} {e_id}"
        up = _chain(m_id, managers, self.chain)
        if e_id in up:
            if up[e_id] == 1:
                return f"{re_} {e_id} is the line manager of {rm} {m_id}"
            return f"{re_} {e_id} is {up[e_id]} levels up the reporting chain of {rm} {m_id}"
        return f"{m_id} and {e_id} are not in each other's reporting line"


# ---------------------------------------------------------------------------
# Accessibility
# ---------------------------------------------------------------------------


_ACCESS_FIELDS = ("site", "remote", "start", "end", "offset")


@dataclass(frozen=True)
class _Access:
    """What decides whether people can meet, one entry per person of a roster."""

    site: np.ndarray  # int code, -1 unknown
    remote: np.ndarray  # bool
    start: np.ndarray  # local minutes
    end: np.ndarray
    offset: np.ndarray  # minutes east of UTC, NaN unknown

    def fields(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f) for f in _ACCESS_FIELDS)

    def distinct(self) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """The distinct kinds of person (one array per field) and each person's kind."""
        # people with the same (site, remote, hours, offset) behave alike: one code each
        key = np.zeros(len(self.site), dtype=np.int64)
        room = 1
        for column in self.fields():
            codes, uniques = pd.factorize(column)  # NaN -> -1
            room *= len(uniques) + 1
            key = key * (len(uniques) + 1) + (codes + 1)
        if room >= 2**62:  # pragma: no cover - needs astronomically many distinct values
            stacked = np.column_stack([np.nan_to_num(f, nan=1e9) for f in self.fields()])
            _, first, codes = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
        else:
            _, first, codes = np.unique(key, return_index=True, return_inverse=True)
        return tuple(f[first] for f in self.fields()), np.asarray(codes).ravel()


@dataclass(frozen=True)
class Accessible(Rule):
    """The two can meet: the same site, or both work remotely with enough common hours.

    A pair is allowed when (``same_site`` and both give the same ``site``) or
    (both allow remote work in ``remote_column`` and their working hours
    overlap by at least ``min_overlap_hours`` per day). Overlaps use each
    person's ``work_hours`` (local; ``default_hours`` when blank) and their
    time zone's UTC offset on day ``at`` (summer time included), with
    overnight shifts. A blank site closes the same-site route, a blank time
    zone the remote route. A missing ``remote_column`` means everyone may work
    remotely. With ``same_site=False`` sites are ignored and every pair needs
    the hours overlap and remote acceptance.

    Parameters
    ----------
    min_overlap_hours : float
        Hours per day the working windows must share (>= 0).
    same_site : bool
        Whether working at the same site is enough on its own.
    remote_column : str
        Bool column saying who accepts remote mentoring.
    at : datetime.date, optional
        Day for time-zone offsets; default the model's date, else today.
    default_hours : tuple of int
        Working window (local minutes) assumed when ``work_hours`` is blank.
    name : str
        Default ``"accessible"``.

    Examples
    --------
    >>> import datetime, pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "site": ["Berlin"],
    ...     "timezone": ["Europe/Berlin"], "work_hours": ["09:00-17:00"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"], "site": ["NYC", "Tokyo"],
    ...     "timezone": ["America/New_York", "Asia/Tokyo"], "work_hours": ["09:00-17:00"] * 2}))
    >>> Accessible(2.0, at=datetime.date(2025, 1, 15)).mask(m, e)
    array([[ True, False]])
    """

    min_overlap_hours: float = 2.0
    same_site: bool = True
    remote_column: str = "remote_ok"
    at: _dt.date | None = None
    default_hours: tuple[int, int] = _DEFAULT_HOURS
    site_column: str = "site"
    name: str = ""

    def __post_init__(self) -> None:
        h = self.min_overlap_hours
        if (
            isinstance(h, bool)
            or not isinstance(h, int | float | np.number)
            or not math.isfinite(float(h))
            or h < 0
        ):
            raise InputError(
                f"`min_overlap_hours` of Accessible must be a number >= 0; got {h!r}. "
                "Fix: e.g. Accessible(min_overlap_hours=2.0)."
            )
        if not (isinstance(self.default_hours, tuple) and len(self.default_hours) == 2):
            raise InputError(
                f"`default_hours` of Accessible must be (start, end) in local minutes; got "
                f"{self.default_hours!r}. Fix: e.g. default_hours=(540, 1020) for 09:00-17:00."
            )
        self._set_name("accessible")

    @property
    def _needs_timezone(self) -> bool:
        return self.min_overlap_hours > 0

    def columns(self) -> tuple[tuple[str, str], ...]:
        # the time zone is what the rule cannot do without; a missing site column
        # only closes the same-site route (checked in ``_side``)
        if self._needs_timezone:
            return (("mentors", "timezone"), ("mentees", "timezone"))
        if self.same_site:
            return (("mentors", self.site_column), ("mentees", self.site_column))
        return ()

    def label(self) -> str:
        hours = f"≥ {self.min_overlap_hours:g} h working-hours overlap"
        return f"same site or {hours}" if self.same_site else hours

    def relaxed(self) -> Accessible | None:
        """One hour less overlap (not below 0); then the same site counting on its own.

        None when no hours are needed and the same site already counts.

        >>> Accessible(2.0).relaxed().label()
        'same site or ≥ 1 h working-hours overlap'
        """
        if self.min_overlap_hours > 0:
            return dataclasses.replace(
                self, min_overlap_hours=max(float(self.min_overlap_hours) - 1.0, 0.0)
            )
        if not self.same_site:
            return dataclasses.replace(self, same_site=True)
        return None

    def _side(
        self, cache: EncodingCache, roster: Roster, sites: dict[str, int], at: _dt.date | None
    ) -> _Access:
        n = len(roster)
        site = np.full(n, -1, dtype=np.intp)
        if self.same_site and self.site_column in roster.frame.columns:
            for i, cell in enumerate(cell_sets(cache, roster, self.site_column)):
                if cell:
                    site[i] = sites.setdefault(cell[0], len(sites))
        remote = np.ones(n, dtype=bool)
        if self.remote_column in roster.frame.columns:
            remote = _bool_column(
                roster, self.remote_column, default=True, owner=f"rule {self.name!r}"
            )
        start = np.full(n, float(self.default_hours[0]))
        end = np.full(n, float(self.default_hours[1]))
        if "work_hours" in roster.frame.columns:
            s, e = roster.work_hours_minutes()
            known = ~np.isnan(s)
            start[known], end[known] = s[known], e[known]
        # without an hours requirement the time zone is not needed at all
        offset = offset_minutes(cache, roster, at) if self._needs_timezone else np.zeros(n)
        return _Access(site, remote, start, end, np.asarray(offset, dtype=np.float64))

    def _site(self, cache: EncodingCache, roster: Roster, i: int) -> tuple[str, ...]:
        if self.site_column not in roster.frame.columns:
            return ()
        return cell_sets(cache, roster, self.site_column)[i]

    def _sides(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> tuple[_Access, _Access]:
        def build() -> tuple[_Access, _Access]:
            sites: dict[str, int] = {}
            return self._side(cache, mentors, sites, at), self._side(cache, mentees, sites, at)

        key = (
            "access",
            self.site_column,
            self.remote_column,
            self.default_hours,
            self.same_site,
            at,
        )
        return cache.get(key, (mentors, mentees), build)

    def _allowed(self, a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> np.ndarray:
        site_a, remote_a, start_a, end_a, off_a = a
        site_b, remote_b, start_b, end_b, off_b = b
        ok = remote_a & remote_b
        if self._needs_timezone:
            known = ~(np.isnan(off_a) | np.isnan(off_b))
            with np.errstate(invalid="ignore"):
                overlap = overlap_minutes(start_a, end_a, off_a, start_b, end_b, off_b)
            # a tiny slack so that 2 h computed as 119.99999 min still counts
            ok = (
                ok
                & known
                & (np.nan_to_num(overlap, nan=-1.0) >= self.min_overlap_hours * 60.0 - 1e-6)
            )
        if self.same_site:
            ok = ok | ((site_a == site_b) & (site_a >= 0))
        return ok

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        left, right = self._sides(mentors, mentees, cache, at)
        la, lc = left.distinct()
        ra, rc = right.distinct()
        if fits_table(len(la[0]), len(ra[0])):
            table = self._allowed(tuple(x[:, None] for x in la), tuple(x[None, :] for x in ra))
            return [TableMask(Table(lc, rc, table))]

        def fn(_inner: None, a: tuple, b: tuple) -> np.ndarray:
            return self._allowed(a, b)

        return [FuncMask(Func(fn, left.fields(), right.fields()))]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        left, right = self._sides(mentors, mentees, cache, at)
        rm, re_ = _role(mentors, "mentor"), _role(mentees, "mentee")
        parts: list[str] = []
        if self.same_site:
            sm = self._site(cache, mentors, row)
            se = self._site(cache, mentees, col)
            if sm and se and sm[0] == se[0]:
                return f"same site ({sm[0]})"
            parts.append(
                f"different sites ({sm[0] if sm else 'unknown'} vs {se[0] if se else 'unknown'})"
            )
        if not left.remote[row] or not right.remote[col]:
            who = " and ".join(
                w for w, ok in ((rm, left.remote[row]), (re_, right.remote[col])) if not ok
            )
            parts.append(f"remote mentoring not accepted by the {who}")
        if self._needs_timezone:
            if math.isnan(left.offset[row]) or math.isnan(right.offset[col]):
                who = rm if math.isnan(left.offset[row]) else re_
                parts.append(f"the {who}'s time zone is unknown")
            else:
                overlap = float(
                    overlap_minutes(
                        left.start[row],
                        left.end[row],
                        left.offset[row],
                        right.start[col],
                        right.end[col],
                        right.offset[col],
                    )
                )
                need = f"{self.min_overlap_hours:g} h needed"
                parts.append(f"working hours overlap {_hours_text(overlap)} ({need})")
        return "; ".join(parts) if parts else "remote mentoring accepted by both"


# ---------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------


def _any_shared(inter: np.ndarray, _ls: np.ndarray, _rs: np.ndarray) -> np.ndarray:
    return (inter > 0.5).astype(np.float64)


@dataclass(frozen=True)
class SharedLanguage(Rule):
    """Mentor and mentee share at least one language (a blank list fails).

    Parameters
    ----------
    column : str
        The list column of languages (default ``"languages"``).
    name : str
        Default ``"shared_language"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "languages": ["en;de"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"], "languages": ["fr;de", "es"]}))
    >>> SharedLanguage().mask(m, e)
    array([[ True, False]])
    """

    column: str = "languages"
    name: str = ""

    def __post_init__(self) -> None:
        self._set_name("shared_language")

    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("mentors", self.column), ("mentees", self.column))

    def label(self) -> str:
        return "a shared language"

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        term = set_table_or_func(cache, mentors, mentees, self.column, self.column, _any_shared)
        return [bool_mask_term(term)]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        a = cell_sets(cache, mentors, self.column)[row]
        b = cell_sets(cache, mentees, self.column)[col]
        shared = [x for x in a if x in b]
        if shared:
            return f"both speak {', '.join(shared)}"
        rm, re_ = _role(mentors, "mentor"), _role(mentees, "mentee")
        return (
            f"no shared language ({rm}: {', '.join(a) or 'none given'}; "
            f"{re_}: {', '.join(b) or 'none given'})"
        )


# ---------------------------------------------------------------------------
# Lists of pairs
# ---------------------------------------------------------------------------


def _pair_positions(
    pairs: Iterable[tuple[str, str]], mentors: Roster, mentees: Roster
) -> tuple[list[tuple[int, int]], list[tuple[str, str]]]:
    """Positions of the pairs (both directions for one pool) and the pairs not found."""
    mp, ep = _id_lookup(mentors), _id_lookup(mentees)
    both = same_pool(mentors, mentees)
    found: list[tuple[int, int]] = []
    unknown: list[tuple[str, str]] = []
    for a, b in pairs:
        i, j = mp.get(a), ep.get(b)
        if i is not None and j is not None:
            found.append((i, j))
        if both:
            i2, j2 = mp.get(b), ep.get(a)
            if i2 is not None and j2 is not None:
                found.append((i2, j2))
        if (i is None or j is None) and not (
            both and mp.get(b) is not None and ep.get(a) is not None
        ):
            unknown.append((a, b))
    return found, unknown


def _listed(items: Sequence[str], shown: int = 5) -> str:
    """``'a', 'b', 'c', 'd', 'e' and 7 more``: at most ``shown`` items, then a count."""
    head = ", ".join(items[:shown])
    return head + (f" and {len(items) - shown} more" if len(items) > shown else "")


def _unknown_ids(
    pairs: Iterable[tuple[str, str]], mentors: Roster, mentees: Roster, key: str
) -> None:
    """Raise when a listed pair names an id that is in neither roster (``key``: the rule)."""
    mp, ep = _id_lookup(mentors), _id_lookup(mentees)
    both = same_pool(mentors, mentees)
    unknown: list[str] = []
    for a, b in pairs:
        for who, lookup in ((a, mp), (b, ep)):
            known = who in lookup or (both and (who in mp or who in ep))
            if not known and repr(who) not in unknown:
                unknown.append(repr(who))
    if unknown:
        raise InputError(
            f"`{key}` pairs must name people in the rosters; got unknown ids "
            f"{_listed(unknown)} (not in {roster_display(mentors)} / "
            f"{roster_display(mentees)}). Fix: correct those ids, or remove their pairs from "
            f"`rules.{key}` in the programme."
        )


@dataclass(frozen=True)
class Exclude(Rule):
    """Never form the listed pairs (mentor id, mentee id).

    Parameters
    ----------
    pairs : iterable of (str, str)
        Pairs of ids; for one pool (peers) they apply in both directions.
    name : str
        Default ``"exclude"``.
    strict : bool
        When True, a pair naming an id that is in neither roster raises an
        :class:`InputError` naming up to five ids and the count (a programme
        file's ``rules.exclude`` is strict). When False (the default for code,
        e.g. one standing list shared by several cohorts) such pairs are
        ignored with a logged note.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a", "b"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x"]}))
    >>> Exclude([("a", "x")]).mask(m, e).ravel()
    array([False,  True])
    """

    pairs: tuple[tuple[str, str], ...] = ()
    name: str = ""
    strict: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", _normalise_pairs(self.pairs, "Exclude"))
        self._set_name("exclude")

    def label(self) -> str:
        return "not on the exclusion list"

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        found, unknown = _pair_positions(self.pairs, mentors, mentees)
        if unknown and self.strict:
            _unknown_ids(unknown, mentors, mentees, "exclude")
        if unknown:
            logger.info(
                "%s: %d listed pairs name people not in these rosters; ignored (e.g. %s)",
                self.name,
                len(unknown),
                unknown[0],
            )
        return [ForbidPairs(_pairs_matrix(found, (len(mentors), len(mentees))))]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        return "not on the exclusion list" if allowed else "the pair is on the exclusion list"


@dataclass(frozen=True)
class Require(Rule):
    """Required pairs: the mentee gets that mentor (its column is allowed only at that row).

    For one pool (peers) the two people are restricted to each other both ways.

    Parameters
    ----------
    pairs : iterable of (str, str)
        (mentor id, mentee id) pairs; ids must be in the rosters.
    name : str
        Default ``"require"``.

    Raises
    ------
    InputError
        (from :meth:`mask`) When an id is not in the rosters or a mentee is
        required with two different mentors.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a", "b"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"]}))
    >>> Require([("b", "x")]).mask(m, e)
    array([[False,  True],
           [ True,  True]])
    """

    pairs: tuple[tuple[str, str], ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", _normalise_pairs(self.pairs, "Require"))
        self._set_name("require")

    def label(self) -> str:
        return "the required pairs"

    def _restrictions(self, mentors: Roster, mentees: Roster) -> tuple[np.ndarray, np.ndarray]:
        mp, ep = _id_lookup(mentors), _id_lookup(mentees)
        col_row = np.full(len(mentees), -1, dtype=np.intp)
        row_col = np.full(len(mentors), -1, dtype=np.intp)
        both = same_pool(mentors, mentees)
        if any(a not in mp or b not in ep for a, b in self.pairs):
            _unknown_ids(self.pairs, mentors, mentees, "require")
        conflicts: list[str] = []

        def restrict(arr: np.ndarray, k: int, v: int, who: str) -> None:
            if arr[k] >= 0 and arr[k] != v:
                conflicts.append(who)
            arr[k] = v

        for a, b in self.pairs:
            i, j = mp[a], ep[b]
            restrict(col_row, j, i, b)
            if both:
                restrict(col_row, ep[a], mp[b], a)
                restrict(row_col, i, j, a)
                restrict(row_col, mp[b], ep[a], b)
        if conflicts:
            raise InputError(
                f"`require` must give each person one required partner; got "
                f"{', '.join(dict.fromkeys(map(repr, conflicts)))} with two or more. "
                "Fix: keep one required pair per person."
            )
        return col_row, row_col

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        col_row, row_col = self._restrictions(mentors, mentees)
        return [Restrict(col_row, row_col)]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        col_row, row_col = self._restrictions(mentors, mentees)
        if col_row[col] >= 0:
            other = mentors.ids[col_row[col]]
            if allowed:
                return f"{mentees.ids[col]} is required to be paired with {other}"
            return (
                f"{mentees.ids[col]} is required to be paired with {other}, not {mentors.ids[row]}"
            )
        if row_col[row] >= 0:
            other = mentees.ids[row_col[row]]
            return f"{mentors.ids[row]} is required to be paired with {other}"
        return "no required pair involves them"


def _outcome_key(value: Any) -> str:
    return str(value).strip().lower().replace(" ", "_").replace("-", "_")


@dataclass(frozen=True)
class NoRepeat(Rule):
    """No repeat of earlier pairs (a history table with ``mentor_id``, ``mentee_id``).

    By default every earlier pair is excluded; with ``only_failed=True`` only
    those whose ``outcome`` is one of ``failed_outcomes`` (compared ignoring
    case, spaces and hyphens: "Ended early" matches ``ended_early``).

    Parameters
    ----------
    history : pandas.DataFrame or iterable of tuples
        Columns ``mentor_id``, ``mentee_id`` and optionally ``outcome``; or
        ``(mentor_id, mentee_id[, outcome])`` tuples. Copied at construction.
    only_failed : bool
    failed_outcomes : tuple of str
    name : str
        Default ``"no_repeat"``.

    Raises
    ------
    InputError
        When the table lacks ``mentor_id`` / ``mentee_id``, or ``only_failed``
        is set and there is no ``outcome`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a", "b"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x"]}))
    >>> h = pd.DataFrame({"mentor_id": ["a", "b"], "mentee_id": ["x", "x"],
    ...                   "outcome": ["completed", "ended early"]})
    >>> NoRepeat(h).mask(m, e).ravel(), NoRepeat(h, only_failed=True).mask(m, e).ravel()
    (array([False, False]), array([ True, False]))
    """

    history: Any = field(default=(), compare=False, repr=False)
    only_failed: bool = False
    failed_outcomes: tuple[str, ...] = FAILED_OUTCOMES
    name: str = ""
    pairs: tuple[tuple[str, str, str], ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        rows: list[tuple[str, str, str]] = []
        history = self.history
        if isinstance(history, pd.DataFrame):
            cols = {str(c).strip().lower(): c for c in history.columns}
            missing = [c for c in ("mentor_id", "mentee_id") if c not in cols]
            if missing:
                raise InputError(
                    f"`history` must have columns mentor_id and mentee_id; got "
                    f"{', '.join(map(str, history.columns))}. Fix: rename the columns, "
                    "e.g. history.rename(columns={'mentor': 'mentor_id', 'mentee': 'mentee_id'})."
                )
            if self.only_failed and "outcome" not in cols:
                raise InputError(
                    "`history` must have an outcome column when only_failed=True; got "
                    f"{', '.join(map(str, history.columns))}. Fix: add an outcome column "
                    "(e.g. completed / failed / ended_early) or use only_failed=False."
                )
            outcome = history[cols["outcome"]] if "outcome" in cols else [""] * len(history)
            for a, b, o in zip(
                history[cols["mentor_id"]], history[cols["mentee_id"]], outcome, strict=True
            ):
                if pd.isna(a) or pd.isna(b):
                    continue
                rows.append((str(a).strip(), str(b).strip(), "" if pd.isna(o) else str(o)))
        else:
            for item in history:
                if (
                    isinstance(item, str)
                    or not isinstance(item, Sequence)
                    or len(item) not in (2, 3)
                ):
                    raise InputError(
                        f"`history` rows must be (mentor_id, mentee_id[, outcome]); got {item!r}. "
                        "Fix: pass a DataFrame with mentor_id, mentee_id and outcome columns."
                    )
                rows.append(
                    (
                        str(item[0]).strip(),
                        str(item[1]).strip(),
                        str(item[2]) if len(item) == 3 else "",
                    )
                )
        object.__setattr__(self, "pairs", tuple(rows))
        object.__setattr__(self, "failed_outcomes", tuple(self.failed_outcomes))
        self._set_name("no_repeat")

    def _excluded(self) -> list[tuple[str, str]]:
        if not self.only_failed:
            return [(a, b) for a, b, _ in self.pairs]
        failed = {_outcome_key(o) for o in self.failed_outcomes}
        return [(a, b) for a, b, o in self.pairs if _outcome_key(o) in failed]

    def label(self) -> str:
        return (
            "no repeat of a failed earlier pair"
            if self.only_failed
            else "no repeat of an earlier pair"
        )

    def relaxed(self) -> NoRepeat | None:
        """Only failed earlier pairs are refused (``only_failed=True``).

        None when that is the rule already, or when the history has no outcomes to tell.
        """
        if self.only_failed or not any(o for _, _, o in self.pairs):
            return None
        return dataclasses.replace(self, history=list(self.pairs), only_failed=True)

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        found, _ = _pair_positions(self._excluded(), mentors, mentees)
        return [ForbidPairs(_pairs_matrix(found, (len(mentors), len(mentees))))]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        a, b = str(mentors.ids[row]), str(mentees.ids[col])
        both = same_pool(mentors, mentees)
        earlier = [o for x, y, o in self.pairs if (x, y) == (a, b) or (both and (x, y) == (b, a))]
        if not earlier:
            return "not paired before"
        outcome = f" (outcome: {earlier[-1]})" if earlier[-1] else ""
        if allowed:
            return f"paired before{outcome}, which did not count as failed"
        return f"paired before{outcome}"


# ---------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------


def _bool_column(roster: Roster, column: str, *, default: bool, owner: str) -> np.ndarray:
    series = roster.frame[column]
    if series.dtype == bool:
        return series.to_numpy(dtype=bool)
    values = series.tolist()
    out = np.empty(len(values), dtype=bool)
    bad: list[str] = []
    for i, v in enumerate(values):
        if isinstance(v, bool | np.bool_):
            out[i] = bool(v)
            continue
        if (
            v is None
            or (isinstance(v, float) and math.isnan(v))
            or v is pd.NA
            or not str(v).strip()
        ):
            out[i] = default
            continue
        text = str(v).strip().lower()
        if text in _TRUE:
            out[i] = True
        elif text in _FALSE:
            out[i] = False
        else:
            out[i] = default
            bad.append(f"{roster.ids[i]} ({v!r})")
    if bad:
        raise InputError(
            f"`{column}` must be yes or no (true/false, y/n, 1/0) for {owner}; got "
            f"{_listed(bad)} "
            f"({roster_display(roster)}). Fix: write yes or no, or leave the cell blank."
        )
    return out


@dataclass(frozen=True)
class OptIn(Rule):
    """Only willing participants: a yes/no column on either side (or both).

    With ``side="both"`` each roster that has the column is checked; a roster
    without it counts as willing (at least one roster must have it). A blank
    cell counts as ``default`` (not opted in, unless you say otherwise).

    Parameters
    ----------
    column : str
        Default ``"opt_in"``.
    side : {"both", "mentor", "mentee"}
    default : bool
        The value of a blank cell.
    name : str
        Default ``"opt_in"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a", "b"], "opt_in": ["yes", "no"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"], "opt_in": ["y", ""]}))
    >>> OptIn().mask(m, e)
    array([[ True, False],
           [False, False]])
    """

    column: str = "opt_in"
    side: str = "both"
    default: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        if self.side not in _OPT_IN_SIDES:
            raise InputError(
                f"`side` of OptIn must be one of {', '.join(map(repr, _OPT_IN_SIDES))}; got "
                f"{self.side!r}. Fix: choose one of them."
            )
        self._set_name("opt_in")

    def _checked(self, mentors: Roster, mentees: Roster) -> list[str]:
        sides = {"both": ["mentors", "mentees"], "mentor": ["mentors"], "mentee": ["mentees"]}[
            self.side
        ]
        return [
            s
            for s in sides
            if self.column in (mentors if s == "mentors" else mentees).frame.columns
        ]

    def check_columns(self, mentors: Roster, mentees: Roster, *, allow_protected: bool) -> None:
        check_protected([self.column], f"rule {self.name!r}", allow_protected)
        if self.side == "both":
            if not self._checked(mentors, mentees):
                require_column(mentees, self.column, "mentees", f"rule {self.name!r}")
        else:
            side = f"{self.side}s"
            require_column(
                mentors if side == "mentors" else mentees, self.column, side, f"rule {self.name!r}"
            )

    def missing_columns(self, mentors: Roster, mentees: Roster) -> list[str]:
        sides = {"both": ["mentors", "mentees"], "mentor": ["mentors"], "mentee": ["mentees"]}[
            self.side
        ]
        have = [s for s in sides if (mentors if s == "mentors" else mentees).has(self.column)]
        if self.side == "both" and have:
            return []
        if have == sides:
            return []
        lacking = [s for s in sides if s not in have]
        where = ", ".join(roster_display(mentors if s == "mentors" else mentees) for s in lacking)
        return [f"`{self.column}` in the {' and '.join(lacking)} roster(s) ({where})"]

    def label(self) -> str:
        return "opt-in"

    def _flags(self, mentors: Roster, mentees: Roster) -> tuple[np.ndarray, np.ndarray]:
        checked = self._checked(mentors, mentees)
        owner = f"rule {self.name!r}"
        left = (
            _bool_column(mentors, self.column, default=self.default, owner=owner)
            if "mentors" in checked
            else np.ones(len(mentors), dtype=bool)
        )
        right = (
            _bool_column(mentees, self.column, default=self.default, owner=owner)
            if "mentees" in checked
            else np.ones(len(mentees), dtype=bool)
        )
        return left, right

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        return [Flags(*self._flags(mentors, mentees))]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        left, right = self._flags(mentors, mentees)
        rm, re_ = _role(mentors, "mentor"), _role(mentees, "mentee")
        missing = [w for w, ok in ((rm, left[row]), (re_, right[col])) if not ok]
        if not missing:
            return "both opted in"
        return f"the {' and the '.join(missing)} did not opt in ({self.column})"


@dataclass(frozen=True)
class NotSelf(Rule):
    """Nobody is paired with themselves (same id on both sides); for one pool of peers.

    Parameters
    ----------
    name : str
        Default ``"not_self"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> p = load_roster(pd.DataFrame({"id": ["a", "b"]}))
    >>> NotSelf().mask(p, p)
    array([[False,  True],
           [ True, False]])
    """

    name: str = ""

    def __post_init__(self) -> None:
        self._set_name("not_self")

    def label(self) -> str:
        return "two different people"

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache, at: _dt.date | None
    ) -> list[MaskTerm]:
        ep = _id_lookup(mentees)
        pairs = [(i, ep[str(v)]) for i, v in enumerate(mentors.ids.tolist()) if str(v) in ep]
        return [ForbidPairs(_pairs_matrix(pairs, (len(mentors), len(mentees))))]

    def reason(
        self,
        mentors: Roster,
        mentees: Roster,
        row: int,
        col: int,
        allowed: bool,
        cache: EncodingCache,
        at: _dt.date | None,
    ) -> str:
        return "two different people" if allowed else f"{mentors.ids[row]} is the same person"


# ---------------------------------------------------------------------------
# Who may share a learning group
# ---------------------------------------------------------------------------


def together(
    roster: Roster,
    *,
    common_hours: float | None,
    shared_language: bool,
    at: _dt.date | None = None,
) -> np.ndarray | None:
    """Person x person mask of who may share a learning group (a common window and a language).

    Two members may share a group when their working hours overlap by at
    least ``common_hours`` (or they work at the same site) and they share a
    language. The hours are compared as :class:`Accessible` compares them
    (time zones on day ``at``, overnight shifts), except that members are not
    asked whether they accept remote work and that a member whose working
    hours or time zone is unknown is not kept apart from anyone by the hours.
    The language test is :class:`SharedLanguage` on the roster against
    itself: a blank language list shares no language, so such a member may
    share a group with nobody. Each check applies only when the roster has
    its columns (``work_hours`` and ``timezone``; ``languages``).

    For windows on one line, every pair overlapping by ≥ h hours is the same
    as the whole group sharing an h-hour window (Helly's theorem in one
    dimension: the common part is [latest start, earliest end], the overlap
    of one pair). Working days compared in UTC lie on a 24-hour circle, where
    that equivalence can fail for windows spread round the clock (three
    12-hour shifts starting 8 hours apart overlap pairwise but share no
    hour); such groups need a site in common or a manual look.

    Parameters
    ----------
    roster : Roster
        The members (protégés): rows and columns of the result.
    common_hours : float or None
        Hours per day two members' working windows must share; None or 0
        skips the check.
    shared_language : bool
        Whether two members must share a language.
    at : datetime.date, optional
        Day for time-zone offsets (summer time); default today.

    Returns
    -------
    numpy.ndarray or None
        bool of shape ``(len(roster), len(roster))``, True on the diagonal;
        None when no check applies.

    Examples
    --------
    >>> import datetime, pandas as pd
    >>> from pairwise.roster import load_roster
    >>> people = load_roster(pd.DataFrame({"id": ["a", "b", "c"],
    ...     "timezone": ["Europe/Berlin", "Europe/London", "Asia/Tokyo"],
    ...     "work_hours": ["09:00-17:00"] * 3, "languages": ["en;de", "en", "en"]}))
    >>> together(people, common_hours=2, shared_language=True, at=datetime.date(2025, 1, 15))
    array([[ True,  True, False],
           [ True,  True, False],
           [False, False,  True]])
    """
    n = len(roster)
    cache = EncodingCache(at=at)
    mask = np.ones((n, n), dtype=bool)
    touched = False
    if common_hours and roster.has("work_hours") and roster.has("timezone"):
        mask &= _common_hours(roster, float(common_hours), cache, at)
        touched = True
    if shared_language and roster.has("languages"):
        mask &= SharedLanguage().mask(roster, roster, at=at, cache=cache)
        touched = True
    if not touched:
        return None
    np.fill_diagonal(mask, True)
    return mask


def _common_hours(
    roster: Roster, hours: float, cache: EncodingCache, at: _dt.date | None
) -> np.ndarray:
    """Who shares ``hours`` of working time or a site, by :class:`Accessible`'s own test."""
    # a negative requirement is met by every pair, as the "no hours needed" rule is
    rule = Accessible(min_overlap_hours=max(hours, 0.0), same_site=True, at=at)
    side, _ = rule._sides(roster, roster, cache, at)
    # members meet within their group: whether they accept remote mentoring is not asked
    side = dataclasses.replace(side, remote=np.ones(len(roster), dtype=bool))
    # compared kind against kind (same site, hours and offset), then spread to people
    kinds, code = side.distinct()
    ok = rule._allowed(tuple(x[:, None] for x in kinds), tuple(x[None, :] for x in kinds))
    ok = ok[code[:, None], code[None, :]]
    start, _ = roster.work_hours_minutes()
    known = ~np.isnan(start) & ~np.isnan(side.offset)
    # unknown hours or time zone: the data cannot say, so it keeps nobody apart
    return ok | ~(known[:, None] & known[None, :])
