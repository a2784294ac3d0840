"""Re-matching against a previous matching: keep as many of its pairs as the rules allow.

The order of the objectives is exact and lexicographic:

1. the number of matched mentees (subject to ``min_load``);
2. the matched mentees of each priority tier (highest first);
3. the number of pairs kept from ``previous``;
4. with ``objective="fair"``, the lowest matched score;
5. the (weighted) total score.

Kept pairs come after the count and the priority, so a dropout or a late
joiner never leaves a mentee unmatched to keep an old pair; they come before
fairness and the score, so no previous pair is broken merely to raise a score.

What counts (:func:`tally`): a previous pair is *keepable* when it is still a
candidate (allowed, or a stored entry of a sparse matrix) and its mentor
takes mentees (capacity above 0); it is *kept* when the result holds it and
*broken* when it does not. A previous pair that is not keepable *ended*: its
person left, the pair is no longer allowed or the mentor takes nobody. Ended
pairs never count against ``max_changes``: nothing could have kept them.

Methods: steps 1-2 are the flows of :mod:`pairwise.solvers._flow`; step 3 is
one more unit-cost flow (cost -1 per previous arc) with the earlier counts as
lower bounds; step 5 is the min-cost flow with a keep bonus on previous arcs
(:func:`pairwise.solvers._flow.mcf_assign`). When ``max_changes`` forbids
the lexicographic optimum (it breaks too many pairs), "at least
``keepable - max_changes`` kept" is a side constraint no flow network
expresses, and the steps run as a sequence of exact CP-SAT models instead
(:func:`solve_bounded`), each step's optimum fixed before the next.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from pairwise.errors import InfeasibleError, InputError, SolverError
from pairwise.solvers import _flow, _ortools
from pairwise.solvers._lsap import Solved, bottleneck, empty
from pairwise.solvers._ortools import integer_scale
from pairwise.solvers._validation import ScoreProblem

__all__ = [
    "check_max_changes",
    "check_previous",
    "keep_mask",
    "solve_bounded",
    "solve_with_previous",
    "tally",
]


def check_previous(previous: Any, shape: tuple[int, int], where: str) -> np.ndarray | None:
    """``previous`` as a ``(k, 2)`` int64 array of (row, col) pairs, or None.

    It must be a pair ``(rows, cols)`` of equal-length integer sequences with
    every index inside ``shape``, no pair twice and no mentee (col) twice (a
    previous matching gave each mentee one mentor).
    """
    if previous is None:
        return None
    fix = "pass previous=(rows, cols), two equal-length integer arrays of last cohort's pairs."
    try:
        rows_in, cols_in = previous
        rows = np.asarray(rows_in)
        cols = np.asarray(cols_in)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"`previous` must be a pair (rows, cols) of index arrays; got "
            f"{type(previous).__name__} ({where}). Fix: {fix}"
        ) from exc
    for name, arr in (("rows", rows), ("cols", cols)):
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise InputError(
                f"`previous` {name} must be a 1-D array of integers; got dtype {arr.dtype}, "
                f"shape {arr.shape} ({where}). Fix: {fix}"
            )
    if rows.size != cols.size:
        raise InputError(
            f"`previous` rows and cols must have the same length; got {rows.size} and "
            f"{cols.size} ({where}). Fix: {fix}"
        )
    pairs = np.stack([rows.astype(np.int64), cols.astype(np.int64)], axis=1)
    for axis, name, size in ((0, "mentor", shape[0]), (1, "mentee", shape[1])):
        bad = (pairs[:, axis] < 0) | (pairs[:, axis] >= size)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"`previous` {name} index must lie in 0..{size - 1}; got {int(pairs[k, axis])} "
                f"in pair {k} ({where}). Fix: drop pairs of people who are no longer listed."
            )
    seen, first = np.unique(pairs[:, 1], return_counts=True)
    if np.any(first > 1):
        j = int(seen[first > 1][0])
        raise InputError(
            f"`previous` must give each mentee at most one mentor; mentee {j} appears "
            f"{int(first[first > 1][0])} times ({where}). Fix: keep one pair per mentee."
        )
    return pairs


def check_max_changes(max_changes: Any, previous: np.ndarray | None, where: str) -> int | None:
    """A whole number >= 0, or None; only meaningful with ``previous``."""
    if max_changes is None:
        return None
    if (
        not isinstance(max_changes, numbers.Integral)
        or isinstance(max_changes, bool | np.bool_)
        or int(max_changes) < 0
    ):
        raise InputError(
            f"`max_changes` must be a whole number >= 0 or None; got {max_changes!r} "
            f"({where}). Fix: pass e.g. max_changes=3, or None for no cap."
        )
    if previous is None:
        raise InputError(
            f"`max_changes` needs `previous` (the pairs it counts changes against); got "
            f"max_changes={max_changes!r} without previous ({where}). Fix: pass previous= "
            f"or drop max_changes."
        )
    return int(max_changes)


def keep_mask(r: np.ndarray, c: np.ndarray, previous: np.ndarray, m: int) -> np.ndarray:
    """Which arcs ``(r, c)`` are pairs of ``previous``."""
    if previous.size == 0 or r.size == 0:
        return np.zeros(r.size, dtype=bool)
    return np.isin(r * max(m, 1) + c, previous[:, 0] * max(m, 1) + previous[:, 1])


def tally(
    previous: np.ndarray, keepable: np.ndarray, rows: np.ndarray, cols: np.ndarray, m: int
) -> dict[str, int]:
    """``kept``, ``broken`` and ``ended`` counts of the previous pairs (see the module notes).

    ``keepable`` is a boolean per previous pair.
    """
    chosen = keep_mask(previous[:, 0], previous[:, 1], np.stack([rows, cols], axis=1), m)
    kept = int(np.sum(chosen & keepable))
    return {
        "kept": kept,
        "broken": int(keepable.sum()) - kept,
        "ended": int(previous.shape[0] - keepable.sum()),
    }


def _max_kept(
    shape: tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int],
    keep: np.ndarray,
    tier: np.ndarray | None,
    best: np.ndarray | None,
) -> int:
    """Most previous arcs in a flow of ``count`` mentees meeting the tier counts ``best``."""
    solved = _flow.solve_network(*shape, arc_costs=-keep.astype(np.int64), tier=tier, lower=best)
    if solved is None:
        return -1
    return -int(solved[0].optimal_cost())


def _fair_threshold(
    shape: tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int],
    s: np.ndarray,
    previous: np.ndarray,
    tier: np.ndarray | None,
    best: np.ndarray | None,
    kept: int,
) -> float:
    """Largest threshold keeping the count, the tier counts and ``kept`` previous pairs."""
    n, m, r, c, capacity, min_load, count = shape

    def counter(rr: np.ndarray, cc: np.ndarray) -> int:
        got = _flow.max_count(n, m, rr, cc, capacity, min_load)
        if got is None or got < count:
            return -1
        sub = (n, m, rr, cc, capacity, min_load, count)
        if tier is not None and best is not None:
            reached = _flow.tier_counts(n, m, rr, cc, capacity, min_load, count, tier)
            if np.any(reached < best):
                return -1
        if kept and _max_kept(sub, keep_mask(rr, cc, previous, m), tier, best) < kept:
            return -1
        return got

    return bottleneck(n, m, r, c, s, count, counter)


def solve_with_previous(
    problem: ScoreProblem,
    weights: np.ndarray | None,
    capacity: np.ndarray,
    min_load: np.ndarray,
    fair: bool,
    priority: np.ndarray | None,
    previous: np.ndarray,
    max_changes: int | None,
    seed: int = 0,
) -> tuple[Solved, float | None, dict[str, int]]:
    """The lexicographic optimum of the module notes; the pairs, threshold and the tally.

    Raises :class:`InfeasibleError` when ``min_load`` cannot be met, or when
    no plan breaks at most ``max_changes`` keepable previous pairs.
    """
    n, m = problem.shape
    r, c, s = problem.arcs()
    open_arcs = capacity[r] > 0
    r, c, s = r[open_arcs], c[open_arcs], s[open_arcs]
    keep = keep_mask(r, c, previous, m)
    keepable = keep_mask(previous[:, 0], previous[:, 1], np.stack([r[keep], c[keep]], axis=1), m)
    n_keepable = int(keepable.sum())
    count = _flow.max_count(n, m, r, c, capacity, min_load)
    if count is None:
        reasons = _flow.min_load_reasons(n, m, r, c, min_load)
        raise InfeasibleError("min_load cannot be met: " + reasons[0], reasons)
    tier = _flow.priority_tiers(priority)
    shape = (n, m, r, c, capacity, min_load, count)
    best = None
    if count and tier is not None:
        best = _flow.tier_counts(n, m, r, c, capacity, min_load, count, tier)
    kept = _max_kept(shape, keep, tier, best) if count and keep.any() else 0
    if max_changes is not None and n_keepable - kept > max_changes:
        bounded, low = solve_bounded(
            problem, weights, capacity, min_load, fair, tier, previous,
            n_keepable - max_changes, seed,
        )  # fmt: skip
        return bounded, low, tally(previous, keepable, bounded.rows, bounded.cols, m)
    if count == 0:
        return empty(), None, tally(previous, keepable, r[:0], c[:0], m)
    threshold: float | None = None
    if fair:
        threshold = _fair_threshold(shape, s, previous, tier, best, kept)
        sel = s >= threshold
        r, c, s, keep = r[sel], c[sel], s[sel], keep[sel]
    values = s * weights[c] if weights is not None else s
    # No cheap fallback keeps the previous pairs: the solve runs to its end (Ctrl-C stops it).
    with _ortools.no_deadline():
        rows, cols, scaling = _flow.mcf_assign(
            n, m, r, c, values, capacity, min_load, count, tier, best, keep=keep
        )
    counts = tally(previous, keepable, rows, cols, m)
    if counts["kept"] != kept:
        raise SolverError("internal: the keep bonus lost a kept pair (please report)")
    method = "keep+min_cost_flow" if tier is None else "priority+keep+min_cost_flow"
    method = method if threshold is None else f"bottleneck+{method}"
    return Solved(rows, cols, method, scaling), threshold, counts


def _cp_arcs(
    model: Any, n: int, m: int, r: np.ndarray, c: np.ndarray, capacity: Any, min_load: Any
) -> list[Any]:
    """One boolean per arc, with the mentor loads and one mentor per mentee."""
    x = [model.new_bool_var(f"x{a}") for a in range(r.size)]
    by_row: list[list[Any]] = [[] for _ in range(n)]
    by_col: list[list[Any]] = [[] for _ in range(m)]
    for a, (i, j) in enumerate(zip(r.tolist(), c.tolist(), strict=True)):
        by_row[i].append(x[a])
        by_col[j].append(x[a])
    for i in range(n):
        if by_row[i] or min_load[i]:
            model.add(sum(by_row[i]) <= int(capacity[i]))
            model.add(sum(by_row[i]) >= int(min_load[i]))
    for j in range(m):
        if len(by_col[j]) > 1:
            model.add(sum(by_col[j]) <= 1)
    return x


def _bounded_reasons(
    n_keepable: int, need: int, most: int, previous: np.ndarray, capacity: np.ndarray
) -> list[str]:
    """Why no plan keeps ``need`` previous pairs: the most that can be kept, and the mentors."""
    reasons = [
        f"at most {most} of the {n_keepable} previous pairs that are still allowed can be kept "
        f"together, so at least {n_keepable - most} must change; max_changes allows "
        f"{n_keepable - need}. Fix: raise max_changes to {n_keepable - most}, or raise the "
        f"capacity of the mentors below."
    ]
    load = np.bincount(previous[:, 0], minlength=capacity.size)
    over = np.flatnonzero(load > capacity)
    for i in over[:5].tolist():
        reasons.append(
            f"mentor {i} had {int(load[i])} previous pairs but capacity {int(capacity[i])} now."
        )
    return reasons


def solve_bounded(
    problem: ScoreProblem,
    weights: np.ndarray | None,
    capacity: np.ndarray,
    min_load: np.ndarray,
    fair: bool,
    tier: np.ndarray | None,
    previous: np.ndarray,
    need: int,
    seed: int = 0,
) -> tuple[Solved, float | None]:
    """The lexicographic optimum among plans keeping at least ``need`` previous pairs.

    A sequence of CP-SAT models on one boolean per arc, each run to proven
    optimality (exact; a wall-clock deadline that cuts one keeps its best plan
    and marks the result ``stopped_by_time_limit``): the most matched; the
    most of each priority tier; the most kept; with ``fair`` the highest rank
    of the lowest score (ranks of the distinct scores, exact); the total on an
    exact integer grid (:func:`~pairwise.solvers._ortools.integer_scale`,
    rounded only when none fits, then said by the scaling's tolerance).
    """
    cp = _ortools.cp_model()
    n, m = problem.shape
    r, c, s = problem.arcs()
    open_arcs = capacity[r] > 0
    r, c, s = r[open_arcs], c[open_arcs], s[open_arcs]
    keep = keep_mask(r, c, previous, m)
    model = cp.CpModel()
    x = _cp_arcs(model, n, m, r, c, capacity, min_load)
    kept_expr = sum(x[a] for a in np.flatnonzero(keep).tolist())
    state = {"stopped": False}

    def maximise(expr: Any) -> int:
        model.maximize(expr)
        run = _ortools.solve_cp(model, max_det_time=None, seed=seed)
        if run.status == cp.INFEASIBLE:
            return -1
        if run.status not in (cp.OPTIMAL, cp.FEASIBLE):
            raise SolverError(
                "no plan within max_changes was found before the time limit. Fix: raise "
                "time_limit, or drop max_changes for the exact flow solve."
            )
        state["stopped"] |= run.stopped_by_time_limit
        value = round(run.solver.objective_value)
        model.clear_hints()
        for var in x:
            model.add_hint(var, run.solver.boolean_value(var))
        model.add(expr >= value)
        return value

    model.add(kept_expr >= need)
    if maximise(sum(x)) < 0:
        most = _most_kept(n, m, r, c, capacity, min_load, keep, seed)
        n_keepable = int(keep.sum())
        reasons = _bounded_reasons(n_keepable, need, most, previous, capacity)
        raise InfeasibleError("max_changes cannot be met: " + reasons[0], reasons)
    if tier is not None:
        for k in range(int(tier.max())):
            maximise(sum(x[a] for a in np.flatnonzero(tier[c] <= k).tolist()))
    maximise(kept_expr)
    threshold: float | None = None
    if fair and r.size:
        distinct, rank = np.unique(s, return_inverse=True)
        z = model.new_int_var(0, distinct.size - 1, "lowest")
        for a in range(r.size):
            model.add(z <= int(rank[a])).only_enforce_if(x[a])
        low = maximise(z)
        if low > 0:
            threshold = float(distinct[low])
            for a in np.flatnonzero(rank < low).tolist():
                model.add(x[a] == 0)
    values = s * weights[c] if weights is not None else s
    scaling = integer_scale(values, limit=2.0**60, terms=max(r.size, 1), shift=True)
    ints = scaling.integers(values) if r.size else np.zeros(0, np.int64)
    model.maximize(sum(int(v) * x[a] for a, v in enumerate(ints.tolist())))
    run = _ortools.solve_cp(model, max_det_time=None, seed=seed)
    chosen = np.array([run.solver.boolean_value(v) for v in x], dtype=bool)
    stopped = state["stopped"] or run.stopped_by_time_limit
    method = "keep-bounded+cp-sat"
    return Solved(r[chosen], c[chosen], method, scaling, stopped_by_time_limit=stopped), threshold


def _most_kept(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    keep: np.ndarray,
    seed: int,
) -> int:
    """Most previous pairs any plan (any count, ``min_load`` met) keeps; -1 if none meets it."""
    cp = _ortools.cp_model()
    model = cp.CpModel()
    x = _cp_arcs(model, n, m, r, c, capacity, min_load)
    model.maximize(sum(x[a] for a in np.flatnonzero(keep).tolist()))
    run = _ortools.solve_cp(model, max_det_time=None, seed=seed)
    if run.status not in (cp.OPTIMAL, cp.FEASIBLE):
        return -1
    return round(run.solver.objective_value)
