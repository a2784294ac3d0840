"""Soft criteria: how well a mentor suits a mentee, as a score in [0, 1] for every pair.

A criterion compares a column of the mentor roster (rows) with a column of the
mentee roster (columns) and returns a float64 matrix of scores in ``[0, 1]``;
a missing value always scores 0, never NaN. Criteria are frozen dataclasses
with a ``name`` and a ``weight``; :class:`~pairwise.compatibility.CompatibilityModel`
combines them into a weighted mean.

Internally a criterion is turned into a few *terms* whose sum is the score
(the engine in :mod:`pairwise._terms`): low-rank products of one-hot /
multi-hot encodings (categories, skills, goals and any function of a handful
of distinct values such as levels or UTC offsets), sparse matrices (ranked
preferences, rare categories) and, only when a column has too many distinct
values for a table, element-wise functions. Low-rank terms of several criteria
fuse into one matrix product, which is what makes a 5000 x 5000 score matrix
cost a few nanoseconds per pair instead of the tens a broadcast comparison of
strings would cost. Encodings are computed once per (roster pair, column) in an
:class:`EncodingCache` and shared by every criterion and rule of one scoring run.

:func:`diversity_distance` is the protégé x protégé dissimilarity that learning
groups spread.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._terms import (
    ColumnChecks,
    EncodingCache,
    Index,
    LowRank,
    MultiHot,
    SparseTerm,
    Table,
    Term,
    as_index,
    cell_sets,
    evaluate,
    evaluate_pairs,
    multi_hot,
    numeric_table_or_func,
    numeric_values,
    overlap_terms,
    safe_inverse,
    set_table_or_func,
)
from .errors import InputError
from .roster import LIST_COLUMNS

if TYPE_CHECKING:
    import numpy.typing as npt

    from .roster import Roster

__all__ = [
    "Closeness",
    "Complement",
    "Criterion",
    "Different",
    "EncodingCache",
    "LevelGap",
    "Preferences",
    "Same",
    "SharedGoals",
    "diversity_distance",
]

logger = logging.getLogger(__name__)

_COMPLEMENT_METHODS = ("coverage", "jaccard")
_GOAL_METHODS = ("cosine", "jaccard", "coverage")
_PREFERENCE_SIDES = ("mentee", "mentor", "both")


# ---------------------------------------------------------------------------
# Criteria
# ---------------------------------------------------------------------------


def _check_weight(weight: float, owner: str) -> None:
    if isinstance(weight, bool) or not isinstance(weight, int | float | np.number):
        raise InputError(
            f"`weight` of {owner} must be a number; got {weight!r}. Fix: use e.g. weight=1.0."
        )
    if not math.isfinite(float(weight)) or weight < 0:
        raise InputError(
            f"`weight` of {owner} must be a finite number >= 0; got {weight!r}. "
            "Fix: use a non-negative weight (0 switches the criterion off)."
        )


def _check_choice(value: str, valid: Sequence[str], key: str, owner: str) -> None:
    if value not in valid:
        raise InputError(
            f"`{key}` of {owner} must be one of {', '.join(map(repr, valid))}; got {value!r}. "
            f"Fix: choose one of {', '.join(map(repr, valid))}."
        )


def _check_column_name(value: Any, key: str, owner: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"`{key}` of {owner} must be a column name; got {value!r}. "
            "Fix: name a roster column, e.g. 'function'."
        )


class Criterion(ColumnChecks):
    """Base of the soft criteria: a score in [0, 1] for every (mentor, mentee) pair.

    Subclasses are frozen dataclasses with a ``name`` and a ``weight`` and
    implement :meth:`columns` and :meth:`terms`.
    """

    name: str
    weight: float

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        """The terms whose weighted sum is the score (columns already checked)."""
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------

    def _set_name(self, default: str) -> None:
        if not self.name:
            object.__setattr__(self, "name", default)
        _check_weight(self.weight, f"criterion {self.name!r}")

    def describe(self) -> str:
        """A short phrase for explanations, e.g. "different function"."""
        return self.name.replace("_", " ")

    def score(
        self,
        mentors: Roster,
        mentees: Roster,
        *,
        rows: Index = None,
        cols: Index = None,
        cache: EncodingCache | None = None,
        allow_protected: bool = False,
    ) -> np.ndarray:
        """Scores in [0, 1] for mentors ``rows`` x mentees ``cols``.

        Parameters
        ----------
        mentors, mentees : Roster
            Rows and columns of the result (they may be the same roster for peers).
        rows, cols : slice or sequence of int, optional
            Positions to score (a block); default all.
        cache : EncodingCache, optional
            Encodings shared with other criteria and rules of the same run.
        allow_protected : bool
            Allow a protected column (gender, ethnicity); refused by default.

        Returns
        -------
        numpy.ndarray
            float64 of shape ``(len(rows), len(cols))``, never NaN.

        Raises
        ------
        InputError
            When a column is absent (naming it and the roster) or protected.
        """
        cache = cache if cache is not None else EncodingCache()
        self.check_columns(mentors, mentees, allow_protected=allow_protected)
        terms = self.terms(mentors, mentees, cache)
        return evaluate(terms, (len(mentors), len(mentees)), rows, cols)

    def score_pairs(
        self,
        mentors: Roster,
        mentees: Roster,
        rows: Sequence[int] | np.ndarray,
        cols: Sequence[int] | np.ndarray,
        *,
        cache: EncodingCache | None = None,
        allow_protected: bool = False,
    ) -> np.ndarray:
        """Scores at the pairs ``(rows[k], cols[k])`` (a 1-d array)."""
        cache = cache if cache is not None else EncodingCache()
        self.check_columns(mentors, mentees, allow_protected=allow_protected)
        r = as_index(rows, len(mentors), "rows")
        c = as_index(cols, len(mentees), "cols")
        r = np.arange(len(mentors))[r]
        c = np.arange(len(mentees))[c]
        if r.shape != c.shape:
            raise InputError(
                f"`rows` and `cols` must have the same length; got {len(r)} and {len(c)}. "
                "Fix: pass one row position and one column position per pair."
            )
        return evaluate_pairs(self.terms(mentors, mentees, cache), r, c)


def _single_valued(mh: MultiHot) -> bool:
    return bool((mh.left_size.max(initial=0) <= 1) and (mh.right_size.max(initial=0) <= 1))


def _any_overlap(inter: np.ndarray, _ls: np.ndarray, _rs: np.ndarray) -> np.ndarray:
    return (inter > 0.5).astype(np.float64)


def _disjoint(inter: np.ndarray, ls: np.ndarray, rs: np.ndarray) -> np.ndarray:
    return ((inter < 0.5) & (ls > 0) & (rs > 0)).astype(np.float64)


def _jaccard(inter: np.ndarray, ls: np.ndarray, rs: np.ndarray) -> np.ndarray:
    union = ls + rs - inter
    out = np.zeros(np.broadcast_shapes(np.shape(inter), np.shape(union)))
    np.divide(inter, union, out=out, where=union > 0)
    return out


@dataclass(frozen=True)
class Same(Criterion):
    """1 when mentor and mentee have the same value of ``column``, else 0.

    For list columns (e.g. ``languages``) 1 means they share at least one
    value. A blank on either side scores 0.

    Parameters
    ----------
    column : str
        The column compared on both rosters.
    weight : float
        Weight in the model's weighted mean (>= 0).
    name : str
        Default ``"same_<column>"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a", "b"], "site": ["Oslo", "Rome"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"], "site": ["Rome", None]}))
    >>> Same("site").score(m, e)
    array([[0., 0.],
           [1., 0.]])
    """

    column: str
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        _check_column_name(self.column, "column", "Same")
        self._set_name(f"same_{self.column}")

    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("mentors", self.column), ("mentees", self.column))

    def describe(self) -> str:
        return f"same {self.column}"

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        mh = multi_hot(cache, mentors, mentees, self.column, self.column)
        if _single_valued(mh):
            return overlap_terms(mh.left, mh.right)
        return [
            (
                1.0,
                set_table_or_func(cache, mentors, mentees, self.column, self.column, _any_overlap),
            )
        ]


@dataclass(frozen=True)
class Different(Criterion):
    """1 when mentor and mentee differ in ``column`` (e.g. cross-function exposure), else 0.

    For list columns 1 means the two share no value. A blank on either side
    scores 0: an unknown function is not a different one.

    Parameters
    ----------
    column : str
        The column compared on both rosters.
    weight : float
        Weight in the model's weighted mean (>= 0).
    name : str
        Default ``"different_<column>"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "function": ["Sales"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y", "z"], "function": ["Sales", "IT", None]}))
    >>> Different("function").score(m, e)
    array([[0., 1., 0.]])
    """

    column: str
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        _check_column_name(self.column, "column", "Different")
        self._set_name(f"different_{self.column}")

    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("mentors", self.column), ("mentees", self.column))

    def describe(self) -> str:
        return f"different {self.column}"

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        mh = multi_hot(cache, mentors, mentees, self.column, self.column)
        if _single_valued(mh):
            present = LowRank(mh.left_size[:, None], mh.right_size[:, None])
            same = overlap_terms(mh.left, mh.right)
            return [(1.0, present), *((-coef, t) for coef, t in same)]
        return [
            (1.0, set_table_or_func(cache, mentors, mentees, self.column, self.column, _disjoint))
        ]


@dataclass(frozen=True)
class Complement(Criterion):
    """How much of what the mentee wants the mentor offers.

    ``method="coverage"``: ``|offer ∩ want| / |want|`` (the share of the
    mentee's wishes the mentor covers); ``method="jaccard"``:
    ``|offer ∩ want| / |offer ∪ want|``. A mentee who wants nothing scores 0.
    With ``mutual=True`` (peers) the score is the mean of both directions.

    Parameters
    ----------
    offer : str
        The mentors' column of what they offer (default ``"skills"``).
    want : str
        The mentees' column of what they seek (default ``"wants"``).
    method : {"coverage", "jaccard"}
    weight : float
    mutual : bool
        Also count what the mentee offers the mentor; for peer pools.
    name : str
        Default ``"complement_<offer>_<want>"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "skills": ["SQL;Python;Negotiation"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"], "wants": ["Python;Public speaking", ""]}))
    >>> Complement().score(m, e)
    array([[0.5, 0. ]])
    """

    offer: str = "skills"
    want: str = "wants"
    method: str = "coverage"
    weight: float = 1.0
    mutual: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        _check_column_name(self.offer, "offer", "Complement")
        _check_column_name(self.want, "want", "Complement")
        _check_choice(self.method, _COMPLEMENT_METHODS, "method", "Complement")
        self._set_name(f"complement_{self.offer}_{self.want}")

    def columns(self) -> tuple[tuple[str, str], ...]:
        cols = [("mentors", self.offer), ("mentees", self.want)]
        if self.mutual:
            cols += [("mentees", self.offer), ("mentors", self.want)]
        return tuple(cols)

    def describe(self) -> str:
        return f"{self.offer} that meet {self.want}"

    def _direction(
        self, left: Roster, right: Roster, cache: EncodingCache, *, flip: bool
    ) -> list[tuple[float, Term]]:
        # left offers, right wants; flip=True means left/right are mentees/mentors
        if self.method == "coverage":
            mh = multi_hot(cache, left, right, self.offer, self.want)
            terms = overlap_terms(mh.left, mh.right, None, safe_inverse(mh.right_size))
        else:
            terms = [(1.0, set_table_or_func(cache, left, right, self.offer, self.want, _jaccard))]
        if flip:
            terms = [(coef, t.transpose()) for coef, t in terms]
        return terms

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        forward = self._direction(mentors, mentees, cache, flip=False)
        if not self.mutual:
            return forward
        backward = self._direction(mentees, mentors, cache, flip=True)
        return [(0.5 * c, t) for c, t in forward] + [(0.5 * c, t) for c, t in backward]


@dataclass(frozen=True)
class SharedGoals(Criterion):
    """Overlap of the two sets of development goals.

    ``method="cosine"`` (default): ``|G_m ∩ G_e| / sqrt(|G_m| |G_e|)``, symmetric
    and computed as one matrix product; ``"jaccard"``: ``|∩| / |∪|``;
    ``"coverage"``: the share of the mentee's goals the mentor shares. Blank
    goals score 0.

    Parameters
    ----------
    column : str
        The goals column on both rosters (default ``"goals"``).
    weight : float
    method : {"cosine", "jaccard", "coverage"}
    name : str
        Default ``"shared_<column>"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "goals": ["leadership;strategy"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x"], "goals": ["strategy;visibility"]}))
    >>> SharedGoals().score(m, e).round(3)
    array([[0.5]])
    """

    column: str = "goals"
    weight: float = 1.0
    method: str = "cosine"
    name: str = ""

    def __post_init__(self) -> None:
        _check_column_name(self.column, "column", "SharedGoals")
        _check_choice(self.method, _GOAL_METHODS, "method", "SharedGoals")
        self._set_name(f"shared_{self.column}")

    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("mentors", self.column), ("mentees", self.column))

    def describe(self) -> str:
        return f"shared {self.column}"

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        if self.method == "jaccard":
            return [
                (
                    1.0,
                    set_table_or_func(cache, mentors, mentees, self.column, self.column, _jaccard),
                )
            ]
        mh = multi_hot(cache, mentors, mentees, self.column, self.column)
        if self.method == "coverage":
            return overlap_terms(mh.left, mh.right, None, safe_inverse(mh.right_size))
        return overlap_terms(
            mh.left,
            mh.right,
            np.sqrt(safe_inverse(mh.left_size)),
            np.sqrt(safe_inverse(mh.right_size)),
        )


@dataclass(frozen=True)
class Closeness(Criterion):
    """Closeness of a number: ``max(0, 1 - |x_mentor - x_mentee| / scale)``.

    ``column="timezone"`` compares UTC offsets in hours on the model's date
    (summer time included), circularly: UTC-11 and UTC+12 are one hour apart.
    Any other column must be numeric (e.g. tenure in years). A blank on either
    side scores 0.

    Parameters
    ----------
    column : str
    scale : float, optional
        The difference at which the score reaches 0. Default: 12 hours for
        ``timezone``, otherwise the range of the column over both rosters.
    weight : float
    name : str
        Default ``"close_<column>"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "timezone": ["UTC+11"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"], "timezone": ["UTC-11", "UTC+8"]}))
    >>> Closeness("timezone", scale=6).score(m, e).round(3)
    array([[0.667, 0.5  ]])
    """

    column: str
    scale: float | None = None
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        _check_column_name(self.column, "column", "Closeness")
        self._set_name(f"close_{self.column}")
        if self.scale is not None and (
            isinstance(self.scale, bool)
            or not isinstance(self.scale, int | float | np.number)
            or not math.isfinite(float(self.scale))
            or self.scale <= 0
        ):
            raise InputError(
                f"`scale` of criterion {self.name!r} must be a positive number; got "
                f"{self.scale!r}. Fix: give the difference at which the score reaches 0, "
                "e.g. scale=6 (hours) for time zones."
            )

    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("mentors", self.column), ("mentees", self.column))

    def describe(self) -> str:
        return "close time zone" if self.column == "timezone" else f"close {self.column}"

    def resolved_scale(self, xl: np.ndarray, xr: np.ndarray) -> float:
        """The scale used: as given, 12 h for time zones, else the column's range."""
        if self.scale is not None:
            return float(self.scale)
        if self.column == "timezone":
            return 12.0
        both = np.concatenate([xl, xr])
        both = both[~np.isnan(both)]
        spread = float(both.max() - both.min()) if both.size else 0.0
        return spread if spread > 0 else 1.0

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        xl = numeric_values(cache, mentors, self.column)
        xr = numeric_values(cache, mentees, self.column)
        scale = self.resolved_scale(xl, xr)
        circular = self.column == "timezone"

        def closeness(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            d = np.abs(a - b)
            if circular:
                d = np.mod(d, 24.0)
                d = np.minimum(d, 24.0 - d)
            return np.maximum(0.0, 1.0 - d / scale)

        return [(1.0, numeric_table_or_func(xl, xr, closeness, 0.0))]


@dataclass(frozen=True)
class LevelGap(Criterion):
    """1 at the ideal level gap (mentor minus mentee), falling linearly on both sides.

    ``score = max(0, 1 - |gap - ideal| / (tolerance + 1))``: with ``ideal=2``
    and ``tolerance=2``, gaps 2, 3 and 4 score 1, 2/3 and 1/3, a gap of 5 (or
    -1) scores 0. ``tolerance`` is the largest deviation that still scores
    above 0. A blank level scores 0. With ``direction="below"`` (reverse
    mentoring) the gap is mentee minus mentor: the mentor is junior.

    Parameters
    ----------
    ideal : float
        The best gap (default 2, the classic "two levels above").
    tolerance : float
        Largest deviation from ``ideal`` that still scores above 0 (>= 0).
    column : str
        The level column (default ``"level"``, higher = more senior).
    weight : float
    name : str
        Default ``"level_gap"``.
    direction : {"above", "below"}
        Where the mentor stands: above the mentee (default) or below.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "level": [6]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y", "z"], "level": [4, 3, 1]}))
    >>> LevelGap(ideal=2, tolerance=2).score(m, e).round(3)
    array([[1.   , 0.667, 0.   ]])
    """

    ideal: float = 2.0
    tolerance: float = 2.0
    column: str = "level"
    weight: float = 1.0
    name: str = ""
    direction: str = "above"

    def __post_init__(self) -> None:
        _check_column_name(self.column, "column", "LevelGap")
        self._set_name("level_gap")
        _check_choice(self.direction, ("above", "below"), "direction", "LevelGap")
        for key in ("ideal", "tolerance"):
            value = getattr(self, key)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float | np.number)
                or not math.isfinite(float(value))
            ):
                raise InputError(
                    f"`{key}` of criterion {self.name!r} must be a finite number; got "
                    f"{value!r}. Fix: e.g. LevelGap(ideal=2, tolerance=2)."
                )
        if self.tolerance < 0:
            raise InputError(
                f"`tolerance` of criterion {self.name!r} must be >= 0; got {self.tolerance!r}. "
                "Fix: use 0 to score only the ideal gap, or a positive number."
            )

    def columns(self) -> tuple[tuple[str, str], ...]:
        return (("mentors", self.column), ("mentees", self.column))

    def describe(self) -> str:
        if self.direction == "below":
            return f"mentor about {self.ideal:g} levels below"
        return f"level gap near {self.ideal:g}"

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        xl = numeric_values(cache, mentors, self.column)
        xr = numeric_values(cache, mentees, self.column)
        ideal, width = float(self.ideal), float(self.tolerance) + 1.0
        sign = -1.0 if self.direction == "below" else 1.0

        def gap_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.maximum(0.0, 1.0 - np.abs(sign * (a - b) - ideal) / width)

        return [(1.0, numeric_table_or_func(xl, xr, gap_score, 0.0))]


@dataclass(frozen=True)
class Preferences(Criterion):
    """Stated ranked choices: 1.0 for the first choice, then falling linearly.

    The ``column`` holds ids of the other side in order of preference (a
    ``;``-separated list). Rank ``r`` (0 = first) scores
    ``max(0, 1 - r / depth)``: with ``depth=5``, 1.0, 0.8, 0.6, 0.4, 0.2, then 0.
    ``side="mentee"`` reads the mentees' lists of mentor ids; ``"mentor"`` the
    mentors' lists of mentee ids; ``"both"`` the mean of the two (use it for
    peers, where it is symmetric). Ids that are not in the other roster are
    ignored; unranked pairs score 0.

    Parameters
    ----------
    column : str
        Default ``"preferences"``.
    side : {"mentee", "mentor", "both"}
    depth : int
        Number of ranks that score above 0 (>= 1).
    weight : float
    name : str
        Default ``"preferences"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> m = load_roster(pd.DataFrame({"id": ["a", "b", "c"]}))
    >>> e = load_roster(pd.DataFrame({"id": ["x"], "preferences": ["c;a"]}))
    >>> Preferences().score(m, e)
    array([[0.8],
           [0. ],
           [1. ]])
    """

    column: str = "preferences"
    side: str = "mentee"
    depth: int = 5
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        _check_column_name(self.column, "column", "Preferences")
        _check_choice(self.side, _PREFERENCE_SIDES, "side", "Preferences")
        self._set_name(self.column)
        if (
            isinstance(self.depth, bool)
            or not isinstance(self.depth, int | np.integer)
            or self.depth < 1
        ):
            raise InputError(
                f"`depth` of criterion {self.name!r} must be a whole number >= 1; got "
                f"{self.depth!r}. Fix: e.g. depth=5 (five ranked choices count)."
            )

    def columns(self) -> tuple[tuple[str, str], ...]:
        if self.side == "mentee":
            return (("mentees", self.column),)
        if self.side == "mentor":
            return (("mentors", self.column),)
        return (("mentors", self.column), ("mentees", self.column))

    def describe(self) -> str:
        return "stated preference"

    def _ranked(self, chooser: Roster, chosen: Roster, cache: EncodingCache) -> sp.csr_matrix:
        # rows: chooser, columns: chosen
        lists = cell_sets(cache, chooser, self.column)
        lookup = {str(v): i for i, v in enumerate(chosen.ids.tolist())}
        r: list[int] = []
        c: list[int] = []
        v: list[float] = []
        unknown = 0
        for i, ranked in enumerate(lists):
            seen: set[int] = set()
            for rank, ident in enumerate(ranked):
                j = lookup.get(ident)
                if j is None:
                    unknown += 1
                    continue
                if j in seen:
                    continue  # a repeated id keeps its first (best) rank
                seen.add(j)
                value = 1.0 - rank / self.depth
                if value > 0:
                    r.append(i)
                    c.append(j)
                    v.append(value)
        if unknown:
            logger.debug(
                "%s: %d ranked ids are not in the other roster; ignored", self.name, unknown
            )
        return sp.csr_matrix((v, (r, c)), shape=(len(chooser), len(chosen)))

    def terms(
        self, mentors: Roster, mentees: Roster, cache: EncodingCache
    ) -> list[tuple[float, Term]]:
        def build(side: str) -> sp.csr_matrix:
            if side == "mentee":
                return self._ranked(mentees, mentors, cache).T.tocsr()
            return self._ranked(mentors, mentees, cache)

        key = ("preferences", self.column, self.depth, self.side)
        if self.side == "both":
            matrix = cache.get(
                key, (mentors, mentees), lambda: 0.5 * (build("mentee") + build("mentor"))
            )
        else:
            matrix = cache.get(key, (mentors, mentees), lambda: build(self.side))
        return [(1.0, SparseTerm(matrix))]


# ---------------------------------------------------------------------------
# Diversity of learning groups
# ---------------------------------------------------------------------------


def diversity_distance(
    roster: Roster, columns: Sequence[str], *, dtype: npt.DTypeLike = np.float64
) -> np.ndarray:
    """Person x person dissimilarity in [0, 1]: the mean over ``columns``.

    A categorical column adds 1 when two values differ; ``level`` (or any
    numeric column) adds the absolute difference over its range; a list
    column (:data:`~pairwise.roster.LIST_COLUMNS`) adds one minus the Jaccard
    similarity of the two sets. Missing values count as "different" (0.5); a
    blank list shares nothing with a non-blank one (1) and is like another
    blank one (0). Columns the roster lacks or leaves blank are skipped; the
    diagonal is 0. Learning groups use it to spread protégés (``diversity_weight``).

    The matrix is built by row blocks (each column's values tabulated over
    its distinct values, the mean taken in float64 per block), so besides
    the result only block-sized temporaries are made; ``dtype=np.float32``
    halves the result (a pool of 9,000 takes 324 MB instead of 648 MB) and
    equals the float64 matrix rounded to float32.

    Parameters
    ----------
    roster : Roster
        The people (rows and columns of the result).
    columns : sequence of str
        The columns that make people different.
    dtype : numpy dtype, default float64
        ``np.float64`` or ``np.float32``.

    Returns
    -------
    numpy.ndarray
        ``dtype`` of shape ``(len(roster), len(roster))``, symmetric; all 0
        when no column is usable.

    Raises
    ------
    InputError
        ``dtype`` is neither float64 nor float32.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> people = load_roster(pd.DataFrame({"id": ["a", "b", "c"], "level": [1, 2, 3],
    ...                                    "goals": ["x;y", "y", ""]}))
    >>> diversity_distance(people, ["level", "goals"])
    array([[0.  , 0.5 , 1.  ],
           [0.5 , 0.  , 0.75],
           [1.  , 0.75, 0.  ]])
    >>> diversity_distance(people, ["level"], dtype=np.float32).dtype
    dtype('float32')
    """
    out_dtype = np.dtype(dtype)
    if out_dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(
            f"`dtype` must be float64 or float32; got {out_dtype}. Fix: pass np.float32 to "
            "halve the memory of a large pool, or leave the default."
        )
    n = len(roster)
    cache = EncodingCache()
    terms = [
        term
        for column in columns
        if roster.has(column) and (term := _column_distance(cache, roster, column)) is not None
    ]
    total = np.zeros((n, n), dtype=out_dtype)
    if terms:
        everyone = slice(None)
        step = max(1, _DISTANCE_BLOCK // max(n, 1))
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            block = terms[0].block(rows, everyone).astype(np.float64, copy=False)
            for term in terms[1:]:
                block += term.block(rows, everyone)
            block /= len(terms)
            total[rows] = block
    np.fill_diagonal(total, 0.0)
    return total


#: Elements of one row block of :func:`diversity_distance` (float64 temporaries).
_DISTANCE_BLOCK = 1 << 21


def _column_distance(cache: EncodingCache, roster: Roster, column: str) -> Term | None:
    """One column's share of :func:`diversity_distance` as a term (None: it has no values)."""
    if column in LIST_COLUMNS:
        if not multi_hot(cache, roster, roster, column, column).vocab:
            return None
        return set_table_or_func(cache, roster, roster, column, column, _jaccard_distance)
    values = roster.column(column)
    if pd.api.types.is_numeric_dtype(values):
        x = numeric_values(cache, roster, column)
        span = np.nanmax(x) - np.nanmin(x) if np.isfinite(x).any() else 0.0
        scale = span if span > 0 else 1.0

        def gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            d = np.abs(a - b) / scale
            return np.where(np.isnan(d), 0.5, d)

        return numeric_table_or_func(x, x, gap, 0.5)
    # any other column is a category: distinct values by equality, as pandas groups them;
    # code -1 (missing) becomes the last row and column of the table, "different" by 0.5
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    nv = len(uniques)
    table = 1.0 - np.eye(nv + 1)
    table[nv, :] = 0.5
    table[:, nv] = 0.5
    codes = np.where(codes < 0, nv, codes)
    return Table(codes, codes, table)


def _jaccard_distance(inter: np.ndarray, ls: np.ndarray, rs: np.ndarray) -> np.ndarray:
    """``1 - |A ∩ B| / |A ∪ B|``, 0 for two empty sets (they do not differ)."""
    union = ls + rs - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, 1.0 - inter / np.maximum(union, 1), 0.0)
