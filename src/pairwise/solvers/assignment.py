"""Exact mentor–mentee assignment: one-to-one pairs and one-to-many (mentor capacity).

Both solvers maximise, in this order: (1) the number of matched mentees;
(2) the total ``priority`` of the matched mentees (priority mentees are placed
first); (3) with ``objective="fair"`` the lowest matched score; (4) the
(weighted) total score. Every step is exact: no big-M bonus mixes them.

How the exact answer is reached, fastest first (see :func:`one_to_one`):

* **Dense score matrix.** A maximum-cardinality matching (Hopcroft–Karp) and the
  Dulmage–Mendelsohn decomposition split the problem into blocks that each
  have a full matching of their smaller side; each block is a plain linear
  sum assignment problem solved in floating point by a portfolio of exact
  methods: a row-maximum certificate, aggregation of identical rows/columns
  into a transportation problem, a *pruned* solve on the best candidate arcs
  certified by LP duals on the whole matrix, and finally SciPy's dense solver.
* **Sparse score matrix** (stored entries are the candidates): the same
  decomposition, then OR-Tools' cost-scaling assignment on integer costs.
* **One-to-many**, and one-to-one with ``priority``: OR-Tools min-cost flow,
  maximum flow first, then one small unit-cost flow per priority tier, then
  the minimum cost with the tier counts as lower bounds; ``min_load`` lower
  bounds by the standard flow transform.

With ``previous`` (last cohort's pairs), the pairs kept from it come right
after the count and the priority, before fairness and the total
(:mod:`pairwise.solvers._keep`): one more unit-cost flow finds the most that
can be kept, and the final min-cost flow gives previous arcs a keep bonus
larger than any difference of totals; ``max_changes`` that forbids that
optimum switches to a sequence of exact CP-SAT models.

Integer solvers see the scores on an exact integer grid when there is one
(:func:`pairwise.solvers._ortools.integer_scale`); otherwise sparse blocks are
solved in floating point, and a flow whose grid had to round says so
(``status="feasible"``, ``tolerance > 0``, ``bound = objective + tolerance``).

This module holds the public entries; the engines are ``_lsap.py`` (assignment)
and ``_flow.py`` (min-cost flow).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from pairwise.errors import InputError
from pairwise.solvers import _flow, _keep, _lsap, _ortools
from pairwise.solvers._lsap import OBJECTIVES, check_objective, finish
from pairwise.solvers._result import MatchingResult
from pairwise.solvers._validation import (
    check_per_row,
    check_priority,
    check_scores,
    check_seed,
    check_time_limit,
    check_weights,
)

__all__ = ["OBJECTIVES", "one_to_many", "one_to_one"]


def one_to_one(
    scores: npt.ArrayLike | sp.sparray | sp.spmatrix,
    allowed: npt.ArrayLike | None = None,
    *,
    objective: str = "total",
    priority: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    previous: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    max_changes: int | None = None,
) -> MatchingResult:
    """Pair each mentee with at most one mentor and each mentor with at most one mentee.

    Maximises, in this order: (1) the number of pairs; (2) the total
    ``priority`` of the matched mentees; (3) with ``objective="fair"``, the
    lowest score of a pair (unweighted); (4) the total score,
    ``sum(weights[j] * scores[i, j])`` over the pairs.

    Why count before priority: a priority mentee never displaces two ordinary
    mentees (a mentee left out while an allowed mentor had room is a defect),
    but among the largest matchings the priority mentees are placed first,
    whatever their scores.

    Parameters
    ----------
    scores : array_like (n_mentors, n_mentees) or scipy.sparse matrix
        Compatibility, larger is better. A sparse matrix lists the candidate
        pairs: only its stored entries can be used (a stored 0 is a candidate;
        duplicate entries are summed, as SciPy does).
    allowed : array_like of bool, same shape, optional
        Hard mask of permitted pairs (dense ``scores`` only). NaN/inf scores
        are fine where ``allowed`` is False.
    objective : {"total", "fair"}
        ``"fair"`` first raises the lowest matched score as far as possible
        (bottleneck), then maximises the total among such matchings.
    priority : array_like (n_mentees,), optional
        Positive number per mentee, e.g. 1 for ordinary and 2 for priority
        mentees. Among the matchings with the most pairs, the one matching the
        greatest total priority is chosen, before any score is looked at: a
        priority mentee scoring 0.1 keeps its only mentor against an ordinary
        mentee scoring 0.3. Only the order of the values matters (the
        matchable sets of mentees form a matroid, so the greatest total is
        reached by placing higher priorities first, for any values).
    weights : array_like (n_mentees,), optional
        Positive score multiplier per mentee: ``weights[j]`` multiplies every
        score of mentee ``j`` in the total (step 4). It never trades away a
        pair and never overrides ``priority``; use ``priority`` to place
        mentees first.
    time_limit : float, optional
        Wall-clock cap in seconds for the call (None: no cap of its own; an
        enclosing :class:`pairwise.Program` run still applies its own). Every
        method here is exact and polynomial, so on most inputs the cap never
        acts. Large solves (more than
        :data:`~pairwise.solvers._ortools.FORK_ARCS` arcs) run where the cap
        and Ctrl-C can stop them; when the cap stops one, the pairs of a
        maximum matching come back instead (as many pairs as the optimum;
        the total is not optimised) with ``status="feasible"``,
        ``bound=None`` and ``stopped_by_time_limit=True``.
    seed : int
        Seeds the column sampling of the pruned method; results are
        deterministic for a given seed (with ties, another seed may return
        another optimal matching).
    previous : (rows, cols), optional
        Last cohort's pairs as two index arrays (each mentee at most once).
        After the count and the priority, the most of these pairs are kept;
        only then come fairness and the total (see
        :mod:`pairwise.solvers._keep`). A previous pair that is no longer a
        candidate (not allowed, not stored, or its mentor has capacity 0)
        *ended* and is not counted as broken. ``options`` then holds
        ``kept``, ``broken`` and ``ended``.
    max_changes : int, optional
        At most this many keepable previous pairs may be broken (needs
        ``previous``). When the lexicographic optimum breaks more, the best
        plan that breaks at most ``max_changes`` is found exactly by a
        sequence of CP-SAT models (it may match fewer mentees); when no plan
        can, :class:`InfeasibleError` says how many must change.

    Returns
    -------
    MatchingResult
        ``rows``/``cols`` sorted by column; ``objective`` recomputed in float64
        from the input; ``status="optimal"`` (optimal for the scores given;
        ``"feasible"`` with ``bound = objective + tolerance`` only if an
        integer grid had to round them; ``"feasible"`` with ``bound=None`` and
        ``stopped_by_time_limit=True`` when ``time_limit`` cut the solve);
        ``min_score`` is the lowest matched score; for integer solvers
        ``scale`` (integer units per score unit) and ``tolerance`` (0 when the
        scores lie on that grid, else the most the rounding can cost);
        ``options`` holds ``objective`` and, with ``priority``,
        ``"priority": True``.

    Raises
    ------
    InputError
        Bad shapes, dtypes, NaN/inf on allowed pairs, unknown ``objective``,
        bad ``priority``, ``weights``, ``time_limit``, ``seed``, ``previous``
        or ``max_changes``.
    InfeasibleError
        No plan breaks at most ``max_changes`` previous pairs; ``reasons``
        say how many must change and which mentors lost capacity.

    Notes
    -----
    Method, fastest exact choice per case:

    1. A maximum-cardinality matching (Hopcroft–Karp, SciPy) and the
       Dulmage–Mendelsohn decomposition reduce "as many pairs as possible,
       then best total" to independent blocks that each have a full matching
       of their smaller side — exact, with no big-M bonus that would eat
       floating-point or integer precision. Skipped when every pair is
       allowed (then every row of the smaller side is matched).
    2. Dense blocks, in order: SciPy's ``linear_sum_assignment`` for small
       blocks; a *row-maximum certificate* (a full matching using only row
       maxima is optimal — the common case for few distinct integer scores);
       *aggregation* of identical rows/columns into a transportation problem
       (min-cost flow) when scores come from a few categorical attributes;
       scores on a small lattice (a few weighted criteria, rounded: at most
       4096 levels on a step of at least 1/1024, recognised on a sample) go
       to SciPy's dense solver, which handles their ties best; otherwise a
       *pruned, certified* solve — optimal matching on the ~16 best cells of
       each row and column (SciPy's sparse LAPJV, floating point), then LP
       duals from a longest-path computation are checked against every cell;
       violated cells join and the solve repeats, and a clean check proves
       optimality for the whole matrix; SciPy's dense solver otherwise. A
       mask that keeps at most 30% of the pairs, on scores off such a
       lattice, is solved on its arcs as in step 3.
    3. Sparse input: OR-Tools' cost-scaling ``SimpleLinearSumAssignment`` on
       integer costs. It is robust to heavy ties, where SciPy's sparse LAPJV
       can be two orders of magnitude slower. The integer scale is the
       smallest grid (1, 2, 3, ..., 10, 100, ..., then the power of two of
       the scores' last bits) that holds every score exactly, after the
       block's smallest score is subtracted (every full matching of a block
       has the same number of pairs). When no grid fits the solver's range,
       SciPy's sparse LAPJV solves the block in floating point instead.
    4. ``objective="fair"``: binary search over the distinct scores for the
       largest threshold that keeps the maximum cardinality (one
       Hopcroft–Karp per step), then the total on the pairs at or above it.
    5. With ``priority`` (two or more distinct values) the problem goes to
       the min-cost-flow engine of :func:`one_to_many` with every capacity 1.

    Examples
    --------
    >>> import numpy as np
    >>> res = one_to_one(np.array([[3.0, 1.0], [2.0, 2.0]]))
    >>> res.rows.tolist(), res.cols.tolist(), res.objective
    ([0, 1], [0, 1], 5.0)
    >>> res = one_to_one(np.array([[3.0, 1.0], [2.0, 2.0]]), objective="fair")
    >>> res.min_score
    2.0
    >>> res = one_to_one(np.array([[3.0, 1.0], [2.0, 2.0]]), previous=([0], [1]))
    >>> res.rows.tolist(), res.cols.tolist(), res.options["kept"]
    ([1, 0], [0, 1], 1)
    """
    started = time.perf_counter()
    where = "one_to_one"
    problem = check_scores(scores, allowed, where)
    objective = check_objective(objective, where)
    prio = check_priority(priority, problem.shape[1], where)
    w = check_weights(weights, problem.shape[1], where)
    time_limit = check_time_limit(time_limit, where)
    seed = check_seed(seed, where)
    prev = _keep.check_previous(previous, problem.shape, where)
    limit_changes = _keep.check_max_changes(max_changes, prev, where)
    options: dict[str, Any] = {"objective": objective, "time_limit": time_limit}
    if w is not None:
        options["weighted"] = True
    if prev is not None:
        ones = np.ones(problem.shape[0], np.int64)
        return _with_previous(
            problem, w, (ones, 0 * ones), objective, prio, (prev, limit_changes),
            started=started, seed=seed, time_limit=time_limit, options=options,
        )  # fmt: skip
    threshold: float | None = None
    if 0 in problem.shape:
        return finish(
            problem, _lsap.empty(), weights=w, started=started, seed=seed, options=options
        )
    # The cap reaches every large solve below (run where it can be stopped).
    with _ortools.wall_deadline(_ortools.deadline_after(started, time_limit)):
        if prio is not None:
            options["priority"] = True
            ones = np.ones(problem.shape[0], np.int64)
            solved, threshold = _flow.solve_capacitated(
                problem, w, ones, 0 * ones, fair=objective == "fair", priority=prio
            )
            options["threshold"] = threshold
        else:
            if objective == "fair":
                threshold = options["threshold"] = _lsap.fair_threshold(problem)
            solved = _lsap.solve_problem(problem, w, threshold, seed)
            if threshold is not None:
                solved.method = f"bottleneck+{solved.method}"
    return finish(problem, solved, weights=w, started=started, seed=seed, options=options)


def _check_loads(
    capacity: Any, min_load: Any, n: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """``capacity`` and ``min_load`` per mentor, with ``min_load <= capacity``."""
    cap = check_per_row(capacity, n, "capacity", where, unit="mentor")
    low = check_per_row(min_load, n, "min_load", where, unit="mentor")
    above = np.flatnonzero(low > cap)
    if above.size:
        i = int(above[0])
        raise InputError(
            f"`min_load` must not exceed `capacity`; got min_load {int(low[i])} > capacity "
            f"{int(cap[i])} for mentor {i} ({where}). Fix: raise that mentor's capacity or "
            f"lower its min_load."
        )
    return cap, low


def one_to_many(
    scores: npt.ArrayLike | sp.sparray | sp.spmatrix,
    capacity: int | npt.ArrayLike,
    allowed: npt.ArrayLike | None = None,
    *,
    min_load: int | npt.ArrayLike = 0,
    objective: str = "total",
    priority: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    previous: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    max_changes: int | None = None,
) -> MatchingResult:
    """Give each mentee at most one mentor; mentor ``i`` takes up to ``capacity[i]`` mentees.

    Maximises, in this order: (1) the number of matched mentees, subject to
    ``min_load``; (2) the total ``priority`` of the matched mentees (priority
    mentees placed first; see :func:`one_to_one` for why the count comes
    first); (3) with ``objective="fair"`` the lowest matched score; (4) the
    weighted total score.

    Parameters
    ----------
    scores : array_like (n_mentors, n_mentees) or scipy.sparse matrix
        As in :func:`one_to_one`.
    capacity : int or array_like of int (n_mentors,)
        Most mentees per mentor (0 = mentor takes none).
    allowed : array_like of bool, optional
        Hard mask of permitted pairs (dense ``scores`` only).
    min_load : int or array_like of int (n_mentors,)
        Hard lower bound: mentor ``i`` receives at least ``min_load[i]``
        mentees. The matched count is maximised *subject to* it, so a
        ``min_load`` can cost pairs elsewhere; when it cannot be met at all an
        :class:`InfeasibleError` names the mentors and what to relax.
    objective : {"total", "fair"}
    priority : array_like (n_mentees,), optional
        Positive number per mentee; higher is placed first (see
        :func:`one_to_one`).
    weights : array_like (n_mentees,), optional
        Positive score multiplier per mentee (see :func:`one_to_one`).
    time_limit : float, optional
        Wall-clock cap in seconds for the call, as in :func:`one_to_one`. When
        the cap stops a large min-cost flow, a maximum flow comes back
        instead (most mentees matched; priority, fairness and the total not
        optimised) with ``status="feasible"``, ``bound=None`` and
        ``stopped_by_time_limit=True``; with ``min_load`` no such fallback
        keeps the lower bounds, so that solve runs to its end (Ctrl-C still
        stops it).
    seed : int
        Recorded; the method is deterministic.
    previous : (rows, cols), optional
        Last cohort's pairs as two index arrays (each mentee at most once).
        After the count and the priority, the most of these pairs are kept;
        only then come fairness and the total (see
        :mod:`pairwise.solvers._keep`). A previous pair that is no longer a
        candidate (not allowed, not stored, or its mentor has capacity 0)
        *ended* and is not counted as broken. ``options`` then holds
        ``kept``, ``broken`` and ``ended``.
    max_changes : int, optional
        At most this many keepable previous pairs may be broken (needs
        ``previous``). When the lexicographic optimum breaks more, the best
        plan that breaks at most ``max_changes`` is found exactly by a
        sequence of CP-SAT models (it may match fewer mentees); when no plan
        can, :class:`InfeasibleError` says how many must change.

    Returns
    -------
    MatchingResult
        As in :func:`one_to_one`; ``scale`` and ``tolerance`` describe the
        integer costs.

    Raises
    ------
    InputError
        As in :func:`one_to_one`, plus bad ``capacity`` / ``min_load`` (not
        whole, negative, wrong length, ``min_load`` above ``capacity``).
    InfeasibleError
        ``min_load`` cannot be met, or ``max_changes`` cannot (as in
        :func:`one_to_one`); ``reasons`` name the mentors.

    Notes
    -----
    OR-Tools ``SimpleMinCostFlow``: source → mentor (capacity), mentor →
    mentee (allowed pairs, cost = −scaled weighted score), mentee → sink (1).
    Without ``min_load``, ``solve_max_flow_with_min_cost`` gives "most
    mentees, then best total" in one exact solve. With ``min_load``, the lower
    bounds move into node supplies; a first unit-cost circulation finds the
    largest feasible count, a second solve the best total at that count.
    With ``priority``, mentees feed a chain of tier nodes (highest priority
    first); one unit-cost flow per tier finds the most mentees of that tier
    and above that a maximum matching can hold, and the final solve keeps
    these counts as lower bounds on the chain (exact integers throughout).
    ``objective="fair"`` runs the bottleneck search of :func:`one_to_one`
    with maximum flow as the cardinality check. When every capacity is 1 and
    there is no ``min_load`` the problem is handed to :func:`one_to_one`.

    Examples
    --------
    >>> import numpy as np
    >>> res = one_to_many(np.array([[3.0, 2.0, 1.0], [1.0, 1.0, 2.0]]), capacity=2)
    >>> res.rows.tolist(), res.cols.tolist(), res.objective
    ([0, 0, 1], [0, 1, 2], 7.0)
    """
    started = time.perf_counter()
    where = "one_to_many"
    problem = check_scores(scores, allowed, where)
    n, m = problem.shape
    cap, low = _check_loads(capacity, min_load, n, where)
    objective = check_objective(objective, where)
    prio = check_priority(priority, m, where)
    w = check_weights(weights, m, where)
    time_limit = check_time_limit(time_limit, where)
    seed = check_seed(seed, where)
    prev = _keep.check_previous(previous, problem.shape, where)
    limit_changes = _keep.check_max_changes(max_changes, prev, where)
    if prev is not None:
        options0: dict[str, Any] = {"objective": objective, "time_limit": time_limit}
        return _with_previous(
            problem, w, (cap, low), objective, prio, (prev, limit_changes),
            started=started, seed=seed, time_limit=time_limit, options=options0,
        )  # fmt: skip
    if np.all(cap == 1) and not np.any(low):
        with _ortools.wall_deadline(_ortools.deadline_after(started, time_limit)):
            res = one_to_one(
                scores,
                allowed,
                objective=objective,
                priority=priority,
                weights=weights,
                time_limit=time_limit,
                seed=seed,
            )
        wall_time = time.perf_counter() - started
        return dataclasses.replace(
            res, wall_time=wall_time, options=dict(res.options, capacity=1, min_load=0)
        )
    with _ortools.wall_deadline(_ortools.deadline_after(started, time_limit)):
        solved, threshold = _flow.solve_capacitated(
            problem, w, cap, low, fair=objective == "fair", priority=prio
        )
    options = {"objective": objective, "time_limit": time_limit, "threshold": threshold}
    if prio is not None:
        options["priority"] = True
    return finish(problem, solved, weights=w, started=started, seed=seed, options=options)


def _with_previous(
    problem: Any,
    w: np.ndarray | None,
    loads: tuple[np.ndarray, np.ndarray],
    objective: str,
    prio: np.ndarray | None,
    change: tuple[np.ndarray, int | None],
    *,
    started: float,
    seed: int,
    time_limit: float | None,
    options: dict[str, Any],
) -> MatchingResult:
    """Both entries with ``previous``: the keep-aware flow (or CP-SAT under ``max_changes``)."""
    cap, low = loads
    prev, limit_changes = change
    with _ortools.wall_deadline(_ortools.deadline_after(started, time_limit)):
        solved, threshold, counts = _keep.solve_with_previous(
            problem, w, cap, low, objective == "fair", prio, prev, limit_changes, seed
        )
    options = dict(options, threshold=threshold, max_changes=limit_changes, **counts)
    if prio is not None:
        options["priority"] = True
    return finish(problem, solved, weights=w, started=started, seed=seed, options=options)
