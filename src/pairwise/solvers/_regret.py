"""Regret of every candidate pair: what the optimal plan loses when that pair is forced.

The plan is an optimal mentor–mentee assignment in the order of
:func:`~pairwise.solvers.one_to_many`: (1) the most matched mentees, (2) the
best total score. Forcing a pair ``(i, j)`` that is not in the plan changes the
plan along one cycle of the residual flow graph (source → mentor → mentee →
sink). With node potentials that are optimal LP duals of the plan (every
residual arc gets a non-negative reduced cost), the best such cycle is the
pair's reduced cost plus a shortest path from ``j`` back to ``i``, found by
Dijkstra's algorithm:

* **Same number of mentees.** A cycle that neither drops nor adds a matched
  mentee exists exactly when ``i`` and ``j`` lie in one strongly connected
  component of the residual graph (without the source–sink return arc); its
  best cost is ``reduced_cost(i, j) + dist(j, i)``, one Dijkstra per mentee
  (or per mentor on the reversed graph, when fewer mentors are involved).
* **One mentee fewer.** Otherwise forcing the pair leaves one more mentee
  unmatched (never two: removing a mentee and one seat of a mentor lowers a
  maximum matching by at most two, and the forced pair adds one back). The
  best such plan routes ``j`` to the source and the sink to ``i``:
  ``-score(i, j) + dist(j, source) + dist(sink, i)``, two Dijkstras for all
  pairs at once.

Beyond a work budget (Dijkstra arcs scanned), pairs of the first kind whose
mentee (or mentor) was not searched get the reduced cost alone, a lower bound on their
regret (``exact`` says which). Priority tiers and the ``"fair"`` objective are
not part of this order: the regret compares plans by count, then total score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from pairwise.errors import InputError
from pairwise.solvers._validation import check_per_row, check_scores

__all__ = ["DEFAULT_BUDGET", "Regret", "pair_regret"]

#: Dijkstra work (arcs scanned, summed over the searches) spent on exact regrets.
DEFAULT_BUDGET = 200_000_000
# Mentees searched per scipy call (the call returns a dense block of distances).
_CHUNK = 256


@dataclass(frozen=True)
class Regret:
    """The regret of each candidate pair, one entry per pair (sorted by mentee, then mentor).

    Attributes
    ----------
    rows, cols : ndarray of int
        Mentor and mentee of each candidate pair (mentors with capacity 0 are left out).
    scores : ndarray of float
        The pair's score.
    regret : ndarray of float
        Optimal plan's total score minus the best plan's total with the pair
        forced; 0 for the plan's own pairs. A lower bound where ``exact`` is False.
    lost : ndarray of bool
        Forcing the pair leaves one more mentee unmatched than the optimal
        plan (``regret`` then compares a plan with one pair fewer, and may be
        negative when the plan had to take a low-scoring pair to match everyone).
    exact : ndarray of bool
        False where ``regret`` is the reduced cost (a lower bound) because the
        work budget ran out.
    in_plan : ndarray of bool
        The pair is in the optimal plan.
    """

    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray
    regret: np.ndarray
    lost: np.ndarray
    exact: np.ndarray
    in_plan: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def _check_plan(
    plan_rows: npt.ArrayLike,
    plan_cols: npt.ArrayLike,
    keys: np.ndarray,
    cap: np.ndarray,
    shape: tuple[int, int],
    where: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plan indices as int arrays, and the position of each plan pair among ``keys``."""
    r = np.asarray(plan_rows, dtype=np.int64).ravel()
    c = np.asarray(plan_cols, dtype=np.int64).ravel()
    n, m = shape
    fix = "Fix: pass the rows and cols of the solver's result for these scores."
    if r.shape != c.shape:
        raise InputError(
            f"`plan_rows` and `plan_cols` must have the same length; got {len(r)} and "
            f"{len(c)} ({where}). {fix}"
        )
    if len(r) and (r.min() < 0 or r.max() >= n or c.min() < 0 or c.max() >= m):
        raise InputError(
            f"the plan must hold mentor positions below {n} and mentee positions below {m}; "
            f"got values out of range ({where}). {fix}"
        )
    if len(np.unique(c)) != len(c):
        raise InputError(f"the plan must give each mentee at most one mentor ({where}). {fix}")
    over = np.flatnonzero(np.bincount(r, minlength=n) > cap)
    if len(over):
        raise InputError(
            f"the plan must respect capacity; got mentor {int(over[0])} over its capacity "
            f"{int(cap[over[0]])} ({where}). {fix}"
        )
    pos = np.searchsorted(keys, r * m + c)
    bad = (pos >= len(keys)) | (keys[np.minimum(pos, len(keys) - 1)] != r * m + c)
    if len(keys) == 0:
        bad = np.ones(len(r), dtype=bool)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"the plan must use candidate pairs only; got mentor {int(r[k])} with mentee "
            f"{int(c[k])}, which is not allowed ({where}). {fix}"
        )
    return r, c, pos


def _potentials(tail: np.ndarray, head: np.ndarray, cost: np.ndarray, size: int) -> np.ndarray:
    """Shortest distances from a virtual root (Bellman–Ford, vectorised): LP duals of the plan.

    Raises when a negative cycle remains, i.e. the plan is not optimal.
    """
    tol = 1e-9 * max(1.0, float(np.max(np.abs(cost), initial=0.0)))
    dist = np.zeros(size)
    for _ in range(size + 1):
        best = dist.copy()
        np.minimum.at(best, head, dist[tail] + cost)
        better = best < dist - tol
        if not better.any():
            return dist
        dist = np.where(better, best, dist)
    raise InputError(
        "the plan must be optimal (most matched mentees, then the best total score); a "
        "better plan exists (pair_regret). Fix: pass the result of one_to_many / one_to_one "
        "solved with objective='total' and no priority."
    )


def pair_regret(
    scores: npt.ArrayLike | sp.sparray | sp.spmatrix,
    allowed: npt.ArrayLike | None = None,
    capacity: int | npt.ArrayLike = 1,
    *,
    plan_rows: npt.ArrayLike,
    plan_cols: npt.ArrayLike,
    budget: int = DEFAULT_BUDGET,
) -> Regret:
    """The regret of every candidate pair against an optimal plan.

    Parameters
    ----------
    scores : array_like (n_mentors, n_mentees) or scipy.sparse matrix
        As in :func:`~pairwise.solvers.one_to_many` (sparse: stored entries are
        the candidates).
    allowed : array_like of bool, optional
        Hard mask of permitted pairs (dense ``scores`` only).
    capacity : int or array_like of int
        Mentees per mentor.
    plan_rows, plan_cols : array_like of int
        The optimal plan (e.g. ``res.rows``, ``res.cols`` of ``one_to_many``
        with ``objective="total"`` and no priority).
    budget : int
        Dijkstra work (arcs scanned) allowed for exact regrets; beyond it the
        remaining mentees' pairs get the reduced cost, a lower bound.

    Returns
    -------
    Regret

    Raises
    ------
    InputError
        Bad scores, capacity or plan, or a plan that is not optimal (a larger
        matching or a better total at the same count exists).

    Examples
    --------
    >>> import numpy as np
    >>> r = pair_regret(np.array([[3.0, 1.0], [2.0, 2.0]]), plan_rows=[0, 1], plan_cols=[0, 1])
    >>> r.regret.tolist(), r.lost.tolist()
    ([0.0, 2.0, 2.0, 0.0], [False, False, False, False])
    """
    where = "pair_regret"
    problem = check_scores(scores, allowed, where)
    n, m = problem.shape
    cap = check_per_row(capacity, n, "capacity", where, unit="mentor")
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise InputError(
            f"`budget` must be a non-negative integer; got {budget!r} ({where}). "
            "Fix: pass e.g. budget=10**8 (0: reduced costs only)."
        )
    arc_r, arc_c, arc_w = problem.arcs()
    keep = cap[arc_r] > 0
    arc_r, arc_c, arc_w = arc_r[keep], arc_c[keep], np.asarray(arc_w, float)[keep]
    order = np.argsort(arc_r * m + arc_c, kind="stable")
    arc_r, arc_c, arc_w = arc_r[order], arc_c[order], arc_w[order]
    keys = arc_r * m + arc_c
    pr, pc, pos = _check_plan(plan_rows, plan_cols, keys, cap, (n, m), where)
    in_plan = np.zeros(len(keys), dtype=bool)
    in_plan[pos] = True
    regret, lost, exact = _solve(n, m, cap, arc_r, arc_c, arc_w, in_plan, pr, pc, int(budget))
    by_mentee = np.lexsort((arc_r, arc_c))
    return Regret(
        rows=arc_r[by_mentee],
        cols=arc_c[by_mentee],
        scores=arc_w[by_mentee],
        regret=regret[by_mentee],
        lost=lost[by_mentee],
        exact=exact[by_mentee],
        in_plan=in_plan[by_mentee],
    )


def _solve(
    n: int,
    m: int,
    cap: np.ndarray,
    arc_r: np.ndarray,
    arc_c: np.ndarray,
    arc_w: np.ndarray,
    in_plan: np.ndarray,
    pr: np.ndarray,
    pc: np.ndarray,
    budget: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regret, lost and exact per arc (arcs as given), from the residual graph of the plan."""
    size = n + m + 2
    s, t = n + m, n + m + 1
    load = np.bincount(pr, minlength=n)
    matched = np.zeros(m, dtype=bool)
    matched[pc] = True
    mentor = np.arange(n)
    mentee = n + np.arange(m)
    # Residual arcs (tail, head, cost = -score gained); the source-sink return arc is left out.
    parts = [
        (np.where(in_plan, n + arc_c, arc_r), np.where(in_plan, arc_r, n + arc_c),
         np.where(in_plan, arc_w, -arc_w)),
        (np.full(int((load < cap).sum()), s), mentor[load < cap], None),
        (mentor[load > 0], np.full(int((load > 0).sum()), s), None),
        (mentee[~matched], np.full(int((~matched).sum()), t), None),
        (np.full(int(matched.sum()), t), mentee[matched], None),
    ]  # fmt: skip
    tail = np.concatenate([p[0] for p in parts]).astype(np.int64)
    head = np.concatenate([p[1] for p in parts]).astype(np.int64)
    cost = np.concatenate([p[2] if p[2] is not None else np.zeros(len(p[0])) for p in parts])
    pi = _potentials(tail, head, cost, size)
    reduced = np.maximum(cost + pi[tail] - pi[head], 0.0)
    graph = sp.csr_matrix((reduced, (tail, head)), shape=(size, size))
    from_s = dijkstra(graph, indices=s, unweighted=True)
    if np.isfinite(from_s[t]):
        raise InputError(
            "the plan must match as many mentees as possible; an augmenting path exists "
            "(pair_regret). Fix: pass the result of one_to_many / one_to_one for these scores."
        )
    _, comp = connected_components(graph, directed=True, connection="strong")
    lost = ~in_plan & (comp[arc_r] != comp[n + arc_c])
    pair_rc = np.maximum(-arc_w + pi[arc_r] - pi[n + arc_c], 0.0)
    regret = np.where(in_plan, 0.0, pair_rc)
    exact = in_plan.copy()
    # One mentee fewer: j -> source and sink -> i, two searches for every pair.
    if lost.any():
        to_s = dijkstra(graph.T.tocsr(), indices=s)
        from_t = dijkstra(graph, indices=t)
        j_part = to_s[n + arc_c] - pi[n + arc_c] + pi[s]
        i_part = from_t[arc_r] - pi[t] + pi[arc_r]
        loss = -arc_w + j_part + i_part
        regret = np.where(lost, loss, regret)
        exact |= lost & np.isfinite(loss)
    # Same count: reduced cost plus dist(j, i) in reduced costs: one search per mentee from
    # j, or per mentor into i on the reversed graph, whichever side has fewer to search.
    same = ~in_plan & ~lost
    by_mentor = len(np.unique(arc_r[same])) < len(np.unique(arc_c[same]))
    near, far, offset = (arc_r, arc_c, 0) if by_mentor else (arc_c, arc_r, n)
    far_node = far + (n if by_mentor else 0)
    searched = graph.T.tocsr() if by_mentor else graph
    sources = np.unique(near[same])
    per_search = graph.nnz + size
    affordable = sources[: budget // per_search]
    slot = np.full(max(n, m), -1, dtype=np.int64)
    for start in range(0, len(affordable), _CHUNK):
        chunk = affordable[start : start + _CHUNK]
        dist = dijkstra(searched, indices=offset + chunk)
        slot[chunk] = np.arange(len(chunk))
        hit = same & (slot[near] >= 0)
        regret[hit] = pair_rc[hit] + dist[slot[near[hit]], far_node[hit]]
        exact |= hit
        slot[chunk] = -1
    return regret, lost, exact
