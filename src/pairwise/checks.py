"""Rule checks for solver results: one plain sentence per violated rule, recomputed from scratch.

Nothing here calls a solver or shares code with one: every count, size and
objective is recomputed with deliberately simple loops, so the functions can
serve as independent referees in tests, reports and the command line.

``violations`` / ``matching_violations`` *report* (a list of sentences, empty
when every rule holds); ``check_grouping`` / ``check_matching`` *raise*
:class:`~pairwise.errors.InputError` listing them.

Missing attribute values (None, NaN, blank text) are "unknown", as in
:mod:`pairwise.diversity`: never isolated, never capped by ``max_count`` and
not counted as a distinct value.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "check_grouping",
    "check_matching",
    "matching_violations",
    "objective_of_grouping",
    "violations",
]

_UNKNOWN = object()


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _value(value: Any) -> Any:
    if _missing(value):
        return _UNKNOWN
    return value.strip() if isinstance(value, str) else value


def _per_group(value: Any, n: int, name: str) -> list[int]:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return [int(arr)] * n
    if arr.shape != (n,):
        raise InputError(
            f"`{name}` must be an int or one int per leader ({n}); got shape {arr.shape}."
        )
    return [int(v) for v in arr]


def objective_of_grouping(
    labels: Sequence[int] | np.ndarray,
    fit: np.ndarray,
    distance: np.ndarray | None = None,
    diversity_weight: float = 0.0,
) -> float:
    """Σ fit[label[p], p] + diversity_weight × Σ distance[p, q] over p < q in the same group.

    Parameters
    ----------
    labels : sequence of int
        Leader per protégé, -1 for unassigned.
    fit : ndarray, shape (n_leaders, n_proteges)
    distance : ndarray, shape (n_proteges, n_proteges), optional
        Only entries ``distance[p, q]`` with ``p < q`` are read.
    diversity_weight : float

    Returns
    -------
    float

    Examples
    --------
    >>> objective_of_grouping([0, 0, 1], [[1.0, 2.0, 0.0], [0.0, 0.0, 5.0]])
    8.0
    """
    labels = [int(v) for v in np.asarray(labels).ravel()]
    fit = np.asarray(fit, dtype=float)
    total = 0.0
    for p, g in enumerate(labels):
        if g >= 0:
            total += float(fit[g, p])
    if distance is not None and diversity_weight:
        d = np.asarray(distance, dtype=float)
        pair_sum = 0.0
        for p in range(len(labels)):
            for q in range(p + 1, len(labels)):
                if labels[p] >= 0 and labels[p] == labels[q]:
                    pair_sum += float(d[p, q])
        total += float(diversity_weight) * pair_sum
    return total


def violations(
    result_or_labels: Any,
    *,
    fit: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    min_size: int | Sequence[int] | np.ndarray = 5,
    max_size: int | Sequence[int] | np.ndarray = 7,
    attributes: Any = None,
    min_distinct: Mapping[str, int] | None = None,
    max_count: Mapping[str, int] | None = None,
    no_isolation: str | Iterable[str] | None = None,
    together: np.ndarray | None = None,
    distance: np.ndarray | None = None,
    diversity_weight: float = 0.0,
    n_leaders: int | None = None,
    protected: Iterable[str] = (),
) -> list[str]:
    """Every broken rule of a grouping, as plain sentences (empty when all hold).

    Parameters
    ----------
    result_or_labels : GroupingResult or sequence of int
        A result of :func:`~pairwise.solvers.learning_groups` or its labels
        (leader per protégé, -1 unassigned). For a result, the reported
        objective is also compared with the recomputed one (when ``fit`` is
        given) and every unassigned protégé and every leader without a group
        must have a reason.
    fit, allowed : ndarray, shape (n_leaders, n_proteges), optional
        ``allowed``: pairs that may be used.
    min_size, max_size : int or array per leader
        Size of every group that is used.
    attributes : pandas.DataFrame, optional
        One row per protégé, with the rule columns.
    min_distinct, max_count : dict column -> int, optional
    no_isolation : str or list of str, optional
    together : ndarray of bool, shape (n_proteges, n_proteges), optional
        True where two protégés may share a group.
    distance, diversity_weight : optional
        For the objective recomputation.
    n_leaders : int, optional
        Number of leaders when neither ``fit`` nor ``allowed`` gives it.
    protected : iterable of str
        Protected columns (a programme passes its ``[program] protected``):
        a sentence about a group names "one <column> value" instead of the
        value, so that no member's protected value can be read from it.

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        A rule names a column ``attributes`` does not have, or shapes disagree.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"gender": ["F", "M", "M"]})
    >>> violations([0, 0, 0], min_size=2, max_size=3, attributes=frame,
    ...            no_isolation=["gender"])
    ["leader 0's group has exactly one member with gender='F'; no_isolation gender"]
    >>> violations([0, 0, 0], min_size=2, max_size=3, attributes=frame,
    ...            no_isolation=["gender"], protected=["gender"])
    ["leader 0's group has exactly one member with one gender value; no_isolation gender"]
    """
    result = result_or_labels if hasattr(result_or_labels, "labels") else None
    labels_in = result.labels if result is not None else result_or_labels
    labels = [int(v) for v in np.asarray(labels_in).ravel()]
    fit, allowed, n_leaders = _check_shapes(labels, fit, allowed, min_size, max_size, n_leaders)
    lows = _per_group(min_size, n_leaders, "min_size")
    highs = _per_group(max_size, n_leaders, "max_size")
    out: list[str] = []
    members = _members(labels, n_leaders, out)
    out += _size_violations(members, lows, highs, allowed)
    if together is not None:
        out += _together_violations(members, np.asarray(together, dtype=bool))
    out += _composition_violations(
        members, len(labels), attributes, min_distinct, max_count, no_isolation, protected
    )
    if result is not None:
        out += _result_violations(
            result, labels, members, n_leaders, fit, distance, diversity_weight
        )
    return out


def _check_shapes(
    labels: list[int],
    fit: np.ndarray | None,
    allowed: np.ndarray | None,
    min_size: Any,
    max_size: Any,
    n_leaders: int | None,
) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """``fit`` and ``allowed`` as arrays of matching shapes, and the number of leaders."""
    n_proteges = len(labels)
    if fit is not None:
        fit = np.asarray(fit, dtype=float)
        n_leaders = fit.shape[0]
        if fit.shape[1] != n_proteges:
            raise InputError(
                f"`fit` must have one column per protégé ({n_proteges}); got {fit.shape[1]}."
            )
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if n_leaders is None:
            n_leaders = allowed.shape[0]
        if allowed.shape != (n_leaders, n_proteges):
            raise InputError(
                f"`allowed` must have shape ({n_leaders}, {n_proteges}); got {allowed.shape}."
            )
    if n_leaders is None:
        for value in (min_size, max_size):
            if np.ndim(value) == 1:
                n_leaders = len(value)
                break
    if n_leaders is None:
        n_leaders = max(labels, default=-1) + 1
    return fit, allowed, n_leaders


def _members(labels: list[int], n_leaders: int, out: list[str]) -> dict[int, list[int]]:
    """Protégés per leader; a label that is no leader index is reported in ``out``."""
    members: dict[int, list[int]] = {}
    for p, g in enumerate(labels):
        if g == -1:
            continue
        if g < -1 or g >= n_leaders:
            out.append(
                f"protégé {p} has label {g}, which is not a leader index (0..{n_leaders - 1})"
            )
            continue
        members.setdefault(g, []).append(p)
    return members


def _size_violations(
    members: dict[int, list[int]],
    lows: list[int],
    highs: list[int],
    allowed: np.ndarray | None,
) -> list[str]:
    out: list[str] = []
    for g in sorted(members):
        size = len(members[g])
        if size < lows[g]:
            out.append(f"leader {g}'s group has {size} protégés; min_size is {lows[g]}")
        if size > highs[g]:
            out.append(f"leader {g}'s group has {size} protégés; max_size is {highs[g]}")
        if allowed is not None:
            for p in members[g]:
                if not allowed[g, p]:
                    out.append(f"protégé {p} is in leader {g}'s group, a pair that is not allowed")
    return out


def _together_violations(members: dict[int, list[int]], tog: np.ndarray) -> list[str]:
    out: list[str] = []
    for g in sorted(members):
        group = members[g]
        for i, p in enumerate(group):
            for q in group[i + 1 :]:
                if not (tog[p, q] and tog[q, p]):
                    out.append(
                        f"protégés {p} and {q} share leader {g}'s group but may not meet "
                        "(together)"
                    )
    return out


def _rule_columns(
    attributes: Any,
    n_proteges: int,
    min_distinct: Mapping[str, int] | None,
    max_count: Mapping[str, int] | None,
    iso: list[str],
) -> list[str]:
    """The columns the composition rules name, checked against ``attributes``."""
    rule_cols: list[str] = []
    for spec in (min_distinct or {}, max_count or {}, dict.fromkeys(iso)):
        for col in spec:
            if col not in rule_cols:
                rule_cols.append(col)
    if not rule_cols:
        return rule_cols
    if attributes is None:
        raise InputError(
            "`attributes` must be given when composition rules are checked; got None. "
            "Fix: pass the protégé table."
        )
    if len(attributes) != n_proteges:
        raise InputError(
            f"`attributes` must have one row per protégé ({n_proteges}); got {len(attributes)}."
        )
    for col in rule_cols:
        if col not in attributes.columns:
            raise InputError(
                f"rule column {col!r} is not in `attributes`; available columns: "
                f"{list(attributes.columns)}. Fix: name one of them."
            )
    return rule_cols


def _composition_violations(
    members: dict[int, list[int]],
    n_proteges: int,
    attributes: Any,
    min_distinct: Mapping[str, int] | None,
    max_count: Mapping[str, int] | None,
    no_isolation: str | Iterable[str] | None,
    protected: Iterable[str] = (),
) -> list[str]:
    iso = [no_isolation] if isinstance(no_isolation, str) else list(no_isolation or [])
    rule_cols = _rule_columns(attributes, n_proteges, min_distinct, max_count, iso)
    out: list[str] = []
    if not rule_cols:
        return out
    values = {col: [_value(v) for v in attributes[col].tolist()] for col in rule_cols}
    shielded = frozenset([protected] if isinstance(protected, str) else protected)

    def said(col: str, v: Any) -> str:
        return f"one {col} value" if col in shielded else f"{col}={v!r}"

    for g in sorted(members):
        for col in rule_cols:
            counts = Counter(values[col][p] for p in members[g] if values[col][p] is not _UNKNOWN)
            if min_distinct and col in min_distinct and len(counts) < min_distinct[col]:
                out.append(
                    f"leader {g}'s group has {len(counts)} distinct {col} value(s); "
                    f"min_distinct {col}={min_distinct[col]}"
                )
            ordered = sorted(counts.items(), key=lambda kv: str(kv[0]))
            if max_count and col in max_count:
                out.extend(
                    f"leader {g}'s group has {n} members with {said(col, v)}; "
                    f"max_count {col}={max_count[col]}"
                    for v, n in ordered
                    if n > max_count[col]
                )
            if col in iso:
                out.extend(
                    f"leader {g}'s group has exactly one member with {said(col, v)}; "
                    f"no_isolation {col}"
                    for v, n in ordered
                    if n == 1
                )
    return out


def _result_violations(
    result: Any,
    labels: list[int],
    members: dict[int, list[int]],
    n_leaders: int,
    fit: np.ndarray | None,
    distance: np.ndarray | None,
    diversity_weight: float,
) -> list[str]:
    """A result's own promises: reasons for everyone left out, its objective and bound."""
    out: list[str] = []
    reasons = getattr(result, "reasons", {}) or {}
    for p, g in enumerate(labels):
        if g == -1 and str(p) not in reasons:
            out.append(f"protégé {p} is unassigned but has no reason")
    for g in range(n_leaders):
        if g not in members and f"leader:{g}" not in reasons:
            out.append(f"leader {g} has no group but no reason")
    if fit is not None:
        recomputed = objective_of_grouping(labels, fit, distance, diversity_weight)
        reported = float(result.objective)
        if not math.isclose(reported, recomputed, rel_tol=1e-9, abs_tol=1e-6):
            out.append(
                f"reported objective {reported:.9g} differs from the recomputed {recomputed:.9g}"
            )
    bound = getattr(result, "bound", None)
    objective = float(result.objective)
    if bound is not None and float(bound) < objective - 1e-6 * max(1.0, abs(objective)):
        out.append(f"bound {bound:.9g} is below the objective {result.objective:.9g}")
    return out


def check_grouping(
    result_or_labels: Any,
    *,
    fit: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    min_size: int | Sequence[int] | np.ndarray = 5,
    max_size: int | Sequence[int] | np.ndarray = 7,
    attributes: Any = None,
    min_distinct: Mapping[str, int] | None = None,
    max_count: Mapping[str, int] | None = None,
    no_isolation: str | Iterable[str] | None = None,
    together: np.ndarray | None = None,
    distance: np.ndarray | None = None,
    diversity_weight: float = 0.0,
    n_leaders: int | None = None,
    protected: Iterable[str] = (),
) -> None:
    """Raise :class:`InputError` listing every violation found by :func:`violations`.

    Takes the same arguments as :func:`violations`.

    Raises
    ------
    InputError
        With ``problems`` holding one sentence per violation.

    Examples
    --------
    >>> check_grouping([0, 0, 1, 1], min_size=2, max_size=2)
    """
    found = violations(
        result_or_labels,
        fit=fit,
        allowed=allowed,
        min_size=min_size,
        max_size=max_size,
        attributes=attributes,
        min_distinct=min_distinct,
        max_count=max_count,
        no_isolation=no_isolation,
        together=together,
        distance=distance,
        diversity_weight=diversity_weight,
        n_leaders=n_leaders,
        protected=protected,
    )
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise InputError(
            f"`grouping` must satisfy every rule; got {len(found)} violation(s): {shown}. "
            "Fix: re-run the solver with these rules or relax them.",
            found,
        )


def matching_violations(
    rows: Sequence[int] | np.ndarray,
    cols: Sequence[int] | np.ndarray,
    *,
    shape: tuple[int, int],
    allowed: np.ndarray | None = None,
    capacity: int | Sequence[int] | np.ndarray | None = None,
    min_load: int | Sequence[int] | np.ndarray | None = None,
    peers: bool = False,
) -> list[str]:
    """Every broken rule of a set of pairs, as plain sentences (empty when all hold).

    Parameters
    ----------
    rows, cols : sequences of int
        The pairs (mentor row, mentee column); for ``peers`` both index the
        same pool.
    shape : (n_rows, n_cols)
    allowed : ndarray of bool, optional
    capacity : int or array per row, optional
        Largest number of partners per row; None means one (a one-to-one
        pairing).
    min_load : int or array per row, optional
        Smallest number of partners every row must have.
    peers : bool
        One pool of people: each pair has ``row < col`` and nobody is in two
        pairs.

    Returns
    -------
    list of str

    Examples
    --------
    >>> matching_violations([0, 0], [1, 2], shape=(2, 3))
    ['row 0 has 2 partners; capacity is 1']
    """
    rows_l = [int(v) for v in np.asarray(rows).ravel()]
    cols_l = [int(v) for v in np.asarray(cols).ravel()]
    n_rows, n_cols = int(shape[0]), int(shape[1])
    out: list[str] = []
    if len(rows_l) != len(cols_l):
        return [f"rows and cols differ in length ({len(rows_l)} vs {len(cols_l)})"]
    seen_pairs: set[tuple[int, int]] = set()
    good: list[tuple[int, int]] = []
    for r, c in zip(rows_l, cols_l, strict=True):
        if not (0 <= r < n_rows and 0 <= c < n_cols):
            out.append(f"pair ({r}, {c}) is outside the matrix {n_rows} × {n_cols}")
            continue
        if (r, c) in seen_pairs:
            out.append(f"pair ({r}, {c}) appears more than once")
            continue
        seen_pairs.add((r, c))
        good.append((r, c))
        if allowed is not None and not bool(np.asarray(allowed)[r, c]):
            out.append(f"pair ({r}, {c}) is not allowed")
    if peers:
        appearances: Counter[int] = Counter()
        for r, c in good:
            if r >= c:
                out.append(f"peer pair ({r}, {c}) must have row < col")
            appearances[r] += 1
            appearances[c] += 1
        for person, n in sorted(appearances.items()):
            if n > 1:
                out.append(f"person {person} appears in {n} pairs")
        return out
    col_count = Counter(c for _, c in good)
    for c, n in sorted(col_count.items()):
        if n > 1:
            out.append(f"column {c} is matched {n} times")
    load = Counter(r for r, _ in good)
    caps = _per_group(1 if capacity is None else capacity, n_rows, "capacity")
    for r in range(n_rows):
        if load[r] > caps[r]:
            out.append(f"row {r} has {load[r]} partners; capacity is {caps[r]}")
    if min_load is not None:
        lows = _per_group(min_load, n_rows, "min_load")
        for r in range(n_rows):
            if load[r] < lows[r]:
                out.append(f"row {r} has {load[r]} partners; min_load is {lows[r]}")
    return out


def check_matching(
    rows: Sequence[int] | np.ndarray,
    cols: Sequence[int] | np.ndarray,
    *,
    shape: tuple[int, int],
    allowed: np.ndarray | None = None,
    capacity: int | Sequence[int] | np.ndarray | None = None,
    min_load: int | Sequence[int] | np.ndarray | None = None,
    peers: bool = False,
) -> None:
    """Raise :class:`InputError` listing every violation found by :func:`matching_violations`.

    Takes the same arguments as :func:`matching_violations`.

    Raises
    ------
    InputError
        With ``problems`` holding one sentence per violation.

    Examples
    --------
    >>> check_matching([0, 1], [1, 0], shape=(2, 2))
    """
    found = matching_violations(
        rows,
        cols,
        shape=shape,
        allowed=allowed,
        capacity=capacity,
        min_load=min_load,
        peers=peers,
    )
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise InputError(
            f"`pairs` must satisfy every rule; got {len(found)} violation(s): {shown}. "
            "Fix: re-run the solver with these rules or relax them.",
            found,
        )
