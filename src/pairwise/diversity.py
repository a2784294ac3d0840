"""Group-composition rules as data: attribute encoding, rule validation, checks and diagnosis.

A learning group is meant to mix functions, genders and backgrounds; the rules
that say how are plain data here (:class:`CompositionRules`), validated once at
the boundary and then evaluated by small pure numpy functions that the solvers
and the reports share.

Three rule families exist, each keyed by an attribute column:

``min_distinct={"function": 3}``
    every group has at least 3 distinct known values of ``function``;
``max_count={"function": 3}``
    no group has more than 3 members with the same known value of ``function``;
``no_isolation=["gender"]``
    no group has exactly one member of any known value of ``gender``.

Missing values (``None``, ``NaN``, ``pd.NA`` and blank strings) are encoded as
*unknown* (code ``-1``). Unknown is not a value: it never counts towards
``min_distinct``, is never capped by ``max_count`` and is never isolated, so a
person whose attribute is not recorded is never excluded or singled out
because of it.

Protected columns (``protected``, by default gender and ethnicity) stay
aggregate: a sentence about one person or one group never states their value
(``"the only member of their ethnicity"``), and a sentence about the whole
pool names a value only when at least :data:`MIN_CELL` people hold it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError
from .roster import PROTECTED_COLUMNS

__all__ = [
    "CompositionRules",
    "Diagnosis",
    "composition_violations",
    "diagnose",
    "encode_column",
    "group_counts",
    "group_penalties",
    "make_rules",
]

#: Code of a missing (unknown) attribute value.
UNKNOWN = -1
#: Fewest people a pool-level sentence may name a protected value for (smaller cells suppressed).
MIN_CELL = 5


def _is_missing(value: Any) -> bool:
    """True for None, NaN, pd.NA / NaT and blank strings."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        import pandas as pd

        missing = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(missing) if np.ndim(missing) == 0 else False


def encode_column(values: Iterable[Any], *, name: str = "column") -> tuple[np.ndarray, tuple]:
    """Integer codes for one attribute column; missing values become ``-1``.

    Parameters
    ----------
    values : iterable
        One value per protégé (a pandas Series, a list, an array).
    name : str
        Column name, used in error messages.

    Returns
    -------
    codes : ndarray of int32
        Code per protégé, ``-1`` for unknown.
    labels : tuple
        The distinct known values; ``labels[code]`` is the value. Sorted when
        the values are mutually comparable, else in order of first appearance.

    Raises
    ------
    InputError
        When a value is unhashable (e.g. a list cell).

    Examples
    --------
    >>> codes, labels = encode_column(["F", "M", None, "F", ""])
    >>> codes.tolist(), labels
    ([0, 1, -1, 0, -1], ('F', 'M'))
    """
    items = list(values)
    known: dict[Any, int] = {}
    raw = np.full(len(items), UNKNOWN, dtype=np.int32)
    for i, value in enumerate(items):
        if _is_missing(value):
            continue
        key = value.strip() if isinstance(value, str) else value
        try:
            code = known.setdefault(key, len(known))
        except TypeError:
            raise InputError(
                f"`{name}` must hold one hashable value per protégé (text or number); "
                f"got {type(value).__name__} {value!r} (row {i}). "
                "Fix: split list cells into separate columns or join them into text."
            ) from None
        raw[i] = code
    labels = tuple(known)
    try:
        order = sorted(range(len(labels)), key=lambda k: labels[k])
    except TypeError:
        return raw, labels
    remap = np.empty(len(labels) + 1, dtype=np.int32)
    remap[-1] = UNKNOWN
    for new, old in enumerate(order):
        remap[old] = new
    return remap[raw], tuple(labels[k] for k in order)


@dataclass(frozen=True)
class CompositionRules:
    """Composition rules for learning groups, encoded for fast evaluation.

    Attributes
    ----------
    columns : tuple of str
        Attribute columns that at least one rule uses, in a fixed order.
    codes : ndarray of int32, shape (n_columns, n_proteges)
        Value code per column and protégé; ``-1`` is unknown.
    labels : tuple of tuple
        ``labels[c][v]`` is the value with code ``v`` in column ``c``.
    min_distinct : ndarray of int, shape (n_columns,)
        Required distinct known values per group (0 = no rule).
    max_count : ndarray of int, shape (n_columns,)
        Largest allowed count of one known value per group (0 = no rule).
    no_isolation : ndarray of bool, shape (n_columns,)
        Whether exactly one member of a known value is forbidden.
    protected : frozenset of str
        Columns whose values sentences about people or groups never state.
    """

    columns: tuple[str, ...] = ()
    codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))
    labels: tuple[tuple, ...] = ()
    min_distinct: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    max_count: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    no_isolation: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    protected: frozenset[str] = frozenset(PROTECTED_COLUMNS)

    def value_text(self, c: int, v: int | np.integer, count: int | None = None) -> str:
        """``function='Eng'``, or for a protected column ``one ethnicity value``.

        ``count`` is how many people of the pool hold the value: a protected
        value is named only in a pool-level sentence (``count`` given) about
        at least :data:`MIN_CELL` people.
        """
        col = self.columns[c]
        if col in self.protected and (count is None or count < MIN_CELL):
            return f"one {col} value"
        return f"{col}={self.labels[c][v]!r}"

    @property
    def n_columns(self) -> int:
        """Number of rule columns."""
        return len(self.columns)

    @property
    def is_empty(self) -> bool:
        """True when no rule is active."""
        return not (
            np.any(self.min_distinct > 0)
            or np.any(self.max_count > 0)
            or np.any(self.no_isolation)
        )

    def n_values(self, c: int) -> int:
        """Number of distinct known values in column ``c``."""
        return len(self.labels[c])

    def describe(self) -> list[str]:
        """One short phrase per active rule, e.g. ``"min_distinct function=3"``."""
        out = []
        for c, col in enumerate(self.columns):
            if self.min_distinct[c] > 0:
                out.append(f"min_distinct {col}={int(self.min_distinct[c])}")
            if self.max_count[c] > 0:
                out.append(f"max_count {col}={int(self.max_count[c])}")
            if self.no_isolation[c]:
                out.append(f"no_isolation {col}")
        return out

    def subset(self, index: np.ndarray) -> CompositionRules:
        """The same rules restricted to the protégés in ``index`` (codes kept)."""
        return CompositionRules(
            columns=self.columns,
            codes=self.codes[:, index],
            labels=self.labels,
            min_distinct=self.min_distinct,
            max_count=self.max_count,
            no_isolation=self.no_isolation,
            protected=self.protected,
        )


def _rule_int(value: Any, *, family: str, column: str, low: int) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise InputError(
            f"`{family}[{column!r}]` must be an integer >= {low}; got {value!r}. "
            f"Fix: give a whole number such as {family}={{{column!r}: 3}}."
        )
    if int(value) < low:
        raise InputError(
            f"`{family}[{column!r}]` must be an integer >= {low}; got {int(value)}. "
            f"Fix: use {low} or more, or drop {column!r} from `{family}`."
        )
    return int(value)


def _check_column(column: Any, available: Sequence[str], family: str) -> str:
    if not isinstance(column, str):
        raise InputError(
            f"`{family}` must name attribute columns as text; got {column!r}. "
            f"Fix: use one of {list(available)}."
        )
    if column not in available:
        from difflib import get_close_matches

        hint = get_close_matches(column, [str(a) for a in available], n=1)
        near = f" Did you mean {hint[0]!r}?" if hint else ""
        raise InputError(
            f"`{family}` refers to column {column!r}, which `attributes` does not have; "
            f"available columns: {list(available)}.{near} "
            f"Fix: add the column or name one of the available ones."
        )
    return column


def make_rules(
    attributes: Any,
    n_proteges: int | None = None,
    *,
    min_distinct: Mapping[str, int] | None = None,
    max_count: Mapping[str, int] | None = None,
    no_isolation: str | Iterable[str] | None = None,
    protected: Iterable[str] = PROTECTED_COLUMNS,
) -> CompositionRules:
    """Validate composition-rule specs against ``attributes`` and encode them.

    Parameters
    ----------
    attributes : pandas.DataFrame or None
        One row per protégé (in the column order of ``fit``). May be None
        only when no rule is given.
    n_proteges : int, optional
        Expected number of rows.
    min_distinct, max_count : mapping of column -> int, optional
        ``min_distinct`` values must be >= 1, ``max_count`` values >= 1.
    no_isolation : str or iterable of str, optional
        Columns where nobody may be the only one of their value in a group.
    protected : iterable of str
        Protected columns (the programme's ``[program] protected``): reasons
        and violations never state a person's value in them.

    Returns
    -------
    CompositionRules

    Raises
    ------
    InputError
        Unknown column (the message lists the available ones), a non-integer
        or too small limit, a wrong number of rows, missing ``attributes``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"function": ["a", "b", "a"], "gender": ["F", "M", None]})
    >>> rules = make_rules(frame, 3, min_distinct={"function": 2}, no_isolation="gender")
    >>> rules.columns, rules.describe()
    (('function', 'gender'), ['min_distinct function=2', 'no_isolation gender'])
    """
    shielded = frozenset(
        [protected] if isinstance(protected, str) else (str(c) for c in protected)
    )
    given = bool(min_distinct) or bool(max_count) or bool(no_isolation)
    if not given:
        return CompositionRules(protected=shielded)
    if attributes is None:
        raise InputError(
            "`attributes` must be a DataFrame with one row per protégé when composition "
            "rules are given; got None. Fix: pass attributes=<DataFrame with the rule columns>."
        )
    if not hasattr(attributes, "columns") or not hasattr(attributes, "__len__"):
        raise InputError(
            "`attributes` must be a pandas DataFrame (one row per protégé); "
            f"got {type(attributes).__name__}. Fix: pass pd.DataFrame(...)."
        )
    if n_proteges is not None and len(attributes) != n_proteges:
        raise InputError(
            f"`attributes` must have one row per protégé ({n_proteges}, the columns of `fit`); "
            f"got {len(attributes)} rows. Fix: pass the protégé table in the order of `fit`."
        )
    available = list(attributes.columns)
    for family, spec in (("min_distinct", min_distinct), ("max_count", max_count)):
        if spec is not None and not isinstance(spec, Mapping):
            raise InputError(
                f"`{family}` must be a mapping of column -> integer; got {spec!r}. "
                f"Fix: write {family}={{'function': 3}}."
            )
    if isinstance(no_isolation, str):
        no_isolation = [no_isolation]
    iso_cols = [] if no_isolation is None else list(no_isolation)

    columns: list[str] = []
    for family, names in (
        ("min_distinct", list((min_distinct or {}).keys())),
        ("max_count", list((max_count or {}).keys())),
        ("no_isolation", iso_cols),
    ):
        for name in names:
            col = _check_column(name, available, family)
            if col not in columns:
                columns.append(col)
    md = np.zeros(len(columns), dtype=np.int64)
    mc = np.zeros(len(columns), dtype=np.int64)
    ni = np.zeros(len(columns), dtype=bool)
    for col, value in (min_distinct or {}).items():
        md[columns.index(col)] = _rule_int(value, family="min_distinct", column=col, low=1)
    for col, value in (max_count or {}).items():
        mc[columns.index(col)] = _rule_int(value, family="max_count", column=col, low=1)
    for col in iso_cols:
        ni[columns.index(col)] = True
    codes = np.empty((len(columns), len(attributes)), dtype=np.int32)
    labels = []
    for c, col in enumerate(columns):
        series = attributes[col]
        if getattr(series, "ndim", 1) != 1:
            raise InputError(
                f"`attributes` must have a single column named {col!r}; got {series.shape[1]}. "
                "Fix: rename the duplicated columns."
            )
        codes[c], lab = encode_column(series.tolist(), name=col)
        labels.append(lab)
    return CompositionRules(
        columns=tuple(columns),
        codes=codes,
        labels=tuple(labels),
        min_distinct=md,
        max_count=mc,
        no_isolation=ni,
        protected=shielded,
    )


def group_counts(
    labels: np.ndarray, codes: np.ndarray, n_groups: int, n_values: int
) -> np.ndarray:
    """Count of each known value per group: shape ``(n_groups, n_values)``.

    Unassigned elements (label ``-1``) and unknown values (code ``-1``) are
    ignored.

    Examples
    --------
    >>> group_counts(np.array([0, 0, 1, -1]), np.array([1, 1, 0, 0]), 2, 2).tolist()
    [[0, 2], [1, 0]]
    """
    labels = np.asarray(labels)
    codes = np.asarray(codes)
    keep = (labels >= 0) & (codes >= 0)
    flat = labels[keep].astype(np.int64) * n_values + codes[keep]
    return np.bincount(flat, minlength=n_groups * n_values).reshape(n_groups, n_values)


def _column_penalty(counts: np.ndarray, sizes: np.ndarray, rules: CompositionRules, c: int):
    """Violation amount per group for column ``c`` (0 where all its rules hold)."""
    pen = np.zeros(counts.shape[0], dtype=np.int64)
    open_ = sizes > 0
    if rules.min_distinct[c] > 0:
        distinct = np.count_nonzero(counts, axis=1)
        pen += np.where(open_, np.maximum(0, rules.min_distinct[c] - distinct), 0)
    if rules.max_count[c] > 0:
        pen += np.maximum(0, counts - rules.max_count[c]).sum(axis=1)
    if rules.no_isolation[c]:
        pen += np.count_nonzero(counts == 1, axis=1)
    return pen


def group_penalties(labels: np.ndarray, rules: CompositionRules, n_groups: int) -> np.ndarray:
    """Total violation amount per group (0 where every composition rule holds).

    For each rule column it adds the shortfall of distinct values below
    ``min_distinct`` (open groups only), the excess over ``max_count`` summed
    over values, and the number of isolated values. Local search minimises
    this; it is zero exactly when :func:`composition_violations` is empty.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"g": ["F", "M", "M", "F", "M"]})
    >>> rules = make_rules(frame, 5, no_isolation=["g"])
    >>> group_penalties(np.array([0, 0, 0, 1, 1]), rules, 2).tolist()
    [1, 2]
    """
    labels = np.asarray(labels)
    sizes = np.bincount(labels[labels >= 0], minlength=n_groups)
    pen = np.zeros(n_groups, dtype=np.int64)
    for c in range(rules.n_columns):
        counts = group_counts(labels, rules.codes[c], n_groups, rules.n_values(c))
        pen += _column_penalty(counts, sizes, rules, c)
    return pen


def composition_violations(
    labels: np.ndarray,
    rules: CompositionRules,
    n_groups: int,
    *,
    group_name: Any = None,
) -> list[str]:
    """One plain sentence per broken composition rule and group.

    Parameters
    ----------
    labels : ndarray of int
        Group per protégé, ``-1`` for unassigned.
    rules : CompositionRules
    n_groups : int
    group_name : callable, optional
        ``group_name(g)`` -> text used in sentences (default ``"group g"``).

    Returns
    -------
    list of str
        Empty when every rule holds in every group.
    """
    name = group_name or (lambda g: f"group {g}")
    labels = np.asarray(labels)
    sizes = np.bincount(labels[labels >= 0], minlength=n_groups)
    out: list[str] = []
    for c, col in enumerate(rules.columns):
        counts = group_counts(labels, rules.codes[c], n_groups, rules.n_values(c))
        for g in np.flatnonzero(sizes):
            row = counts[g]
            k = int(rules.min_distinct[c])
            if k > 0 and np.count_nonzero(row) < k:
                out.append(
                    f"{name(g)} has {np.count_nonzero(row)} distinct {col} value(s); "
                    f"min_distinct {col}={k}"
                )
            cap = int(rules.max_count[c])
            if cap > 0:
                for v in np.flatnonzero(row > cap):
                    out.append(
                        f"{name(g)} has {row[v]} members with {rules.value_text(c, v)}; "
                        f"max_count {col}={cap}"
                    )
            if rules.no_isolation[c]:
                for v in np.flatnonzero(row == 1):
                    out.append(
                        f"{name(g)} has exactly one member with {rules.value_text(c, v)}; "
                        f"no_isolation {col}"
                    )
    return out


@dataclass(frozen=True)
class Diagnosis:
    """What cheap pre-checks found before any search.

    Attributes
    ----------
    fatal : list of str
        Problems that make every group impossible; each names a fix.
    notes : list of str
        Facts that limit the result without making it impossible (some
        protégés will wait, some groups cannot open); each names a fix.
    excluded : dict of int -> str
        Protégés who can never join any group, with the reason.
    max_groups : int
        Upper bound on the number of groups the composition rules allow.
    """

    fatal: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    excluded: dict[int, str] = field(default_factory=dict)
    max_groups: int = 0


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def diagnose(
    rules: CompositionRules,
    *,
    eligible: np.ndarray,
    min_size: np.ndarray,
    max_size: np.ndarray,
) -> Diagnosis:
    """Cheap feasibility pre-checks of composition rules against group sizes.

    Parameters
    ----------
    rules : CompositionRules
    eligible : ndarray of bool, shape (n_proteges,)
        Protégés that have at least one allowed leader.
    min_size, max_size : ndarray of int, shape (n_leaders,)
        Group size bounds per leader.

    Returns
    -------
    Diagnosis
        ``fatal`` is non-empty when no group at all can satisfy the rules.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"function": ["a", "b", "a", "b", "a", "b"]})
    >>> rules = make_rules(frame, 6, min_distinct={"function": 3})
    >>> d = diagnose(rules, eligible=np.ones(6, bool), min_size=np.array([3]),
    ...              max_size=np.array([4]))
    >>> print(d.fatal[0])  # doctest: +NORMALIZE_WHITESPACE
    min_distinct function=3 but only 2 functions exist among protégés (a, b);
    lower min_distinct function to 2 or drop it
    """
    fatal: list[str] = []
    notes: list[str] = []
    excluded: dict[int, str] = {}
    n_leaders = len(min_size)
    smallest = int(np.min(min_size)) if n_leaders else 0
    largest = int(np.max(max_size)) if n_leaders else 0
    max_groups = n_leaders
    pool = eligible.copy()
    for c in range(rules.n_columns):
        codes = rules.codes[c]
        lab = rules.labels[c]
        if rules.no_isolation[c]:
            counts_all = np.bincount(codes[pool & (codes >= 0)], minlength=len(lab))
            for v in np.flatnonzero(counts_all == 1):
                who = int(np.flatnonzero(pool & (codes == v))[0])
                excluded[who] = _isolated_reason(rules, c, v)
                pool[who] = False
    for c, col in enumerate(rules.columns):
        codes = rules.codes[c]
        lab = rules.labels[c]
        known = pool & (codes >= 0)
        counts = np.bincount(codes[known], minlength=len(lab))
        present = np.flatnonzero(counts)
        n_unknown = int(np.count_nonzero(pool & (codes < 0)))
        k = int(rules.min_distinct[c])
        cap = int(rules.max_count[c])
        iso = bool(rules.no_isolation[c])
        names = _value_list(rules, c, present, counts)
        plural_col = col if col.endswith("s") else col + "s"
        if k > 0 and len(present) < k:
            fatal.append(
                f"min_distinct {col}={k} but only {len(present)} {plural_col} exist among "
                f"protégés ({names}); lower min_distinct {col} to "
                f"{max(len(present), 1)} or drop it"
            )
        if k > largest > 0:
            fatal.append(
                f"min_distinct {col}={k} needs groups of at least {k}, but max_size is {largest}; "
                f"raise max_size or lower min_distinct {col}"
            )
        if k > 0 and iso and 2 * k > largest > 0:
            fatal.append(
                f"min_distinct {col}={k} with no_isolation on {col} needs at least {2 * k} "
                f"members per group (two of each value), but max_size is {largest}; raise "
                f"max_size, lower min_distinct {col} or drop {col} from no_isolation"
            )
        if k > 0 and iso and len(present):
            # each group holds >= 2 members of each of >= k values: pack pairs
            limit = _distinct_group_limit(counts // 2, k)
            if limit < max_groups:
                max_groups = limit
                notes.append(
                    f"min_distinct {col}={k} with no_isolation on {col} allows at most "
                    f"{_plural(limit, 'group')} (each needs two members of {k} {plural_col}); "
                    f"lower min_distinct {col} or drop {col} from no_isolation"
                )
        elif k > 0 and len(present):
            limit = _distinct_group_limit(counts, k)
            if limit < max_groups:
                max_groups = limit
                notes.append(
                    f"min_distinct {col}={k} allows at most {_plural(limit, 'group')} with the "
                    f"{plural_col} present; lower min_distinct {col} or allow fewer groups"
                )
        if cap > 0:
            if len(present) * cap + n_unknown < smallest:
                fatal.append(
                    f"max_count {col}={cap} with {len(present)} {plural_col} allows at most "
                    f"{len(present) * cap + n_unknown} members per group, fewer than min_size "
                    f"{smallest}; raise max_count {col} or lower min_size"
                )
            over = counts - cap * n_leaders
            for v in np.flatnonzero(over > 0):
                notes.append(
                    f"max_count {col}={cap} with {n_leaders} leaders leaves room for at most "
                    f"{cap * n_leaders} protégés with {rules.value_text(c, v, int(counts[v]))}, "
                    f"but {counts[v]} are eligible: {over[v]} will wait; raise max_count {col} "
                    "or add leaders"
                )
        if iso:
            for v in present:
                # a value rarer than a group's minimum size can join only a few groups
                if 2 <= counts[v] < smallest and counts[v] // 2 < n_leaders:
                    notes.append(
                        f"only {counts[v]} protégés have "
                        f"{rules.value_text(c, v, int(counts[v]))}: no_isolation on {col} "
                        f"allows at most {counts[v] // 2} group(s) with them; lower min_size, "
                        f"allow fewer groups, or drop {col} from no_isolation"
                    )
    return Diagnosis(fatal=fatal, notes=notes, excluded=excluded, max_groups=max(0, max_groups))


def _isolated_reason(rules: CompositionRules, c: int, v: int | np.integer) -> str:
    """Why the only protégé of a value waits (a protected value is not stated)."""
    col = rules.columns[c]
    if col in rules.protected:
        return (
            f"placing them would leave them the only member of their {col} in a group "
            f"(`no_isolation` on {col}); drop {col} from [groups] no_isolation to place them"
        )
    value = rules.value_text(c, v)
    return (
        f"the only protégé with {value}: no_isolation on {col} would leave them alone in any "
        f"group; add another {value} protégé or drop {col} from no_isolation"
    )


def _value_list(rules: CompositionRules, c: int, present: np.ndarray, counts: np.ndarray) -> str:
    """The values present (six at most); protected ones held by few people are not named."""
    col = rules.columns[c]
    shown = [
        str(rules.labels[c][v])
        for v in present
        if col not in rules.protected or counts[v] >= MIN_CELL
    ]
    hidden = len(present) - len(shown)
    text = ", ".join(shown[:6]) + (", …" if len(shown) > 6 else "")
    if hidden:
        text += (", " if text else "") + f"{hidden} held by fewer than {MIN_CELL} people"
    return text


def _distinct_group_limit(counts: np.ndarray, k: int) -> int:
    """Largest number of groups that can each hold k distinct values.

    With value counts ``n_v`` and each group needing ``k`` different values,
    ``G`` groups are possible iff ``sum_v min(n_v, G) >= k * G`` (a standard
    result for packing distinct items into bins).
    """
    total = int(np.sum(counts))
    hi = total // k if k else total
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.minimum(counts, mid).sum()) >= k * mid:
            lo = mid
        else:
            hi = mid - 1
    return lo
