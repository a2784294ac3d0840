"""Exact mentor–mentee assignment: one-to-one pairs and one-to-many (mentor capacity).

Both solvers maximise, in this order: the number of matched mentees; with
``objective="fair"`` the lowest matched score; the (weighted) total score.

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
* **One-to-many**: OR-Tools min-cost flow, maximum flow first, then minimum
  cost; lower bounds (``min_load``) by the standard flow transform.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from pairwise.errors import InfeasibleError, InputError, SolverError
from pairwise.solvers import _ortools
from pairwise.solvers._result import MatchingResult
from pairwise.solvers._validation import (
    ScoreProblem as _Problem,
)
from pairwise.solvers._validation import (
    check_choice,
    check_per_row,
    check_seed,
    check_time_limit,
)
from pairwise.solvers._validation import check_scores as _check_scores
from pairwise.solvers._validation import check_weights as _check_weights

__all__ = ["OBJECTIVES", "one_to_many", "one_to_one"]

logger = logging.getLogger(__name__)

#: Valid values of ``objective``.
OBJECTIVES = ("total", "fair")

# Below this many cells a dense block goes straight to SciPy's solver: the
# certificate machinery costs more than it saves on small matrices.
_SMALL_DENSE = 200 * 200
# Candidate arcs kept per row / column in the pruned solve.
_PRUNE_K = 16
# Pruned solve: rounds of "add violated arcs, solve again" before giving up.
_PRUNE_ROUNDS = 3
# Aggregate identical rows/columns only when the type graph is this much smaller.
_AGGREGATE_FACTOR = 8
# Scales tried to turn scores into integers exactly: every whole number up to
# 1024 (thirds, sevenths, quarters, ...), then larger powers of ten and two.
_SMALL_GRIDS = np.arange(1, 1025, dtype=np.float64)
_LARGE_GRIDS = tuple(sorted({10.0**k for k in range(4, 10)} | {2.0**k for k in range(11, 31)}))
# Upper limit on the scaled peak score when scores are not on a grid: more
# bits make cost-scaling solvers slower for no practical gain.
_MAX_SCALED_PEAK = 2.0**36


# --------------------------------------------------------------------------
# Input validation (shared with peers.py)
# --------------------------------------------------------------------------


def _check_objective(objective: Any, where: str) -> str:
    return check_choice(
        objective,
        "objective",
        OBJECTIVES,
        where,
        "pass objective='total' (highest total score) or objective='fair' "
        "(raise the lowest matched score first).",
    )


def _check_per_mentor(value: Any, n_rows: int, name: str, where: str) -> np.ndarray:
    return check_per_row(value, n_rows, name, where, unit="mentor")


# --------------------------------------------------------------------------
# Integer scaling
# --------------------------------------------------------------------------


def _is_integral(x: np.ndarray) -> bool:
    r = np.rint(x)
    return bool(np.all(np.abs(x - r) <= 1e-9 * np.maximum(1.0, np.abs(r))))


def _integer_scale(values: np.ndarray, limit: float) -> tuple[float, bool]:
    """Scale that makes ``values * scale`` integers no larger than ``limit``.

    Returns ``(scale, exact)``: the smallest grid scale (any whole number up to
    1024, then 10**k and 2**k) under which every value is a whole number when
    there is one, so that the
    integer problem *is* the original one; otherwise the largest power of two
    within ``limit`` (and :data:`_MAX_SCALED_PEAK`), which rounds each score to
    a multiple of ``1 / scale``.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1.0, True
    peak = float(np.max(np.abs(finite)))
    if peak == 0.0:
        return 1.0, True
    sample = finite[:: max(1, finite.size // 1024)][:1024]
    grid = sample[:, None] * _SMALL_GRIDS[None, :]
    fits = np.all(np.abs(grid - np.rint(grid)) <= 1e-9 * np.maximum(1.0, np.abs(grid)), axis=0)
    candidates = [float(q) for q in _SMALL_GRIDS[fits]] + list(_LARGE_GRIDS)
    for scale in candidates:
        if peak * scale > limit:
            break
        if _is_integral(sample * scale) and _is_integral(finite * scale):
            return scale, True
    # Largest power of two within the limit (below 1 when scores are huge).
    cap = min(float(limit), _MAX_SCALED_PEAK) / peak
    return 2.0 ** math.floor(math.log2(cap)), False


def _to_cost(values: np.ndarray, scale: float) -> np.ndarray:
    """Integer costs for a minimising solver from scores to maximise."""
    return -np.rint(values * scale).astype(np.int64)


# --------------------------------------------------------------------------
# Matching building blocks
# --------------------------------------------------------------------------


def _csr(n: int, m: int, rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    """Pattern matrix of the arcs; built directly when arcs come row-sorted."""
    data = np.ones(len(rows), dtype=np.int8)
    if len(rows) and np.all(rows[1:] >= rows[:-1]):
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return sp.csr_matrix((data, cols, indptr), shape=(n, m))
    return sp.csr_matrix((data, (rows, cols)), shape=(n, m))


def _max_matching(n: int, m: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Hopcroft–Karp: column matched to each row (-1 when unmatched)."""
    from scipy.sparse.csgraph import maximum_bipartite_matching

    if n == 0 or m == 0 or len(rows) == 0:
        return np.full(n, -1, dtype=np.int64)
    match = maximum_bipartite_matching(_csr(n, m, rows, cols), perm_type="column")
    return np.asarray(match, dtype=np.int64)


def _alternating_reach(
    n: int, m: int, rows: np.ndarray, cols: np.ndarray, mate_of_row: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns reachable by alternating paths from unmatched rows."""
    from scipy.sparse.csgraph import breadth_first_order

    free = np.flatnonzero(mate_of_row < 0)
    reach_r = np.zeros(n, dtype=bool)
    reach_c = np.zeros(m, dtype=bool)
    if free.size == 0:
        return reach_r, reach_c
    matched = np.flatnonzero(mate_of_row >= 0)
    source = n + m
    tails = np.concatenate([rows, n + mate_of_row[matched], np.full(free.size, source)])
    heads = np.concatenate([n + cols, matched, free])
    graph = _csr(n + m + 1, n + m + 1, tails, heads)
    order = breadth_first_order(graph, source, directed=True, return_predecessors=False)
    order = order[order != source]
    reach_r[order[order < n]] = True
    reach_c[order[order >= n] - n] = True
    return reach_r, reach_c


def _dm_blocks(
    n: int, m: int, rows: np.ndarray, cols: np.ndarray, mate_of_row: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Dulmage–Mendelsohn blocks of a bipartite graph given a maximum matching.

    Every maximum matching is the union of: a matching of the columns ``O_C``
    into the rows ``E_R`` (rows some maximum matching leaves out), a matching
    of the rows ``O_R`` into the columns ``E_C``, and a perfect matching of the
    remaining rows and columns; and every such union is a maximum matching.
    So the lexicographic (cardinality, total) optimum is the union of three
    independent "full matching of the smaller side" problems — no big-M
    penalty, hence no loss of precision.
    """
    mate_of_col = np.full(m, -1, dtype=np.int64)
    has = mate_of_row >= 0
    mate_of_col[mate_of_row[has]] = np.flatnonzero(has)
    even_r, odd_c = _alternating_reach(n, m, rows, cols, mate_of_row)
    even_c, odd_r = _alternating_reach(m, n, cols, rows, mate_of_col)
    rest_r = ~(even_r | odd_r)
    rest_c = ~(even_c | odd_c)
    blocks = [
        (np.flatnonzero(even_r), np.flatnonzero(odd_c)),
        (np.flatnonzero(odd_r), np.flatnonzero(even_c)),
        (np.flatnonzero(rest_r), np.flatnonzero(rest_c)),
    ]
    return [(r, c) for r, c in blocks if r.size and c.size]


# --------------------------------------------------------------------------
# Dense full matching (rows = smaller side): a portfolio of exact methods
# --------------------------------------------------------------------------


def _scipy_dense(T: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(T, maximize=True)
    mate = np.full(T.shape[0], -1, dtype=np.int64)
    mate[r] = c
    return mate


def _row_max_certificate(T: np.ndarray) -> np.ndarray | None:
    """Full matching on row maxima, if one exists (then U = row max, V = 0 proves it)."""
    n, m = T.shape
    row_max = T.max(axis=1)
    r, c = np.nonzero(row_max[:, None] == T)
    mate = _max_matching(n, m, r.astype(np.int64), c.astype(np.int64))
    return mate if np.all(mate >= 0) else None


def _candidate_groups(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probable groups of identical rows: ``(type_of_row, first_row_of_type)``.

    A random projection (BLAS, one pass) gives each row a key; identical rows
    get keys equal up to rounding, which the relative rounding absorbs.
    :func:`_verify_groups` then checks the groups exactly.
    """
    rng = np.random.default_rng(0x5EED)  # hashing only: fixed, not the caller's seed
    proj = X @ rng.standard_normal(X.shape[1])
    mag = np.maximum(np.abs(proj), 1.0)
    key = np.round(proj / mag, 9) * mag
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    return inv.astype(np.int64).ravel(), first.astype(np.int64)


def _verify_groups(X: np.ndarray, inv: np.ndarray, first: np.ndarray) -> bool:
    """Exact check that every row equals the first row of its group."""
    rep = first[inv]
    step = max(1, (1 << 22) // max(1, X.shape[1]))  # ~4M cells per chunk
    for start in range(0, X.shape[0], step):
        stop = start + step
        if not np.array_equal(X[start:stop], X[rep[start:stop]]):
            return False
    return True


def _transport(T: np.ndarray) -> np.ndarray | None:
    """Exact solve by aggregating identical rows and columns (few "types").

    Scores built from a handful of categorical attributes repeat whole rows
    and columns; the assignment then reduces to a transportation problem
    between types, solved exactly by min-cost flow when the scores are on an
    integer grid. Returns None when aggregation does not pay or is not exact.
    """
    n, m = T.shape
    finite = np.isfinite(T)
    has_forbidden = not finite.all()
    X = T
    if has_forbidden:
        low = float(T[finite].min()) - 1.0
        X = np.where(finite, T, low)
    budget = n * m // _AGGREGATE_FACTOR
    row_type, row_rep = _candidate_groups(X)
    kr = row_rep.size
    if kr > budget:
        return None
    # Once rows are known to repeat, columns repeat in X exactly when they
    # repeat in the (small) matrix of representative rows.
    reduced = X[row_rep]
    col_type, col_rep = _candidate_groups(reduced.T)
    kc = col_rep.size
    if kr * kc > budget:
        return None
    if not _verify_groups(X, row_type, row_rep):
        return None
    if not np.array_equal(reduced, reduced[:, col_rep[col_type]]):
        return None
    block = T[np.ix_(row_rep, col_rep)]
    ok = np.isfinite(block)
    a_r, a_c = np.nonzero(ok)
    values = block[a_r, a_c]
    n_nodes = kr + kc + 2
    scale, exact = _integer_scale(values, _ortools.mcf_cost_limit(n_nodes) / max(n, 1))
    if not exact:
        return None
    count_r = np.bincount(row_type, minlength=kr)
    count_c = np.bincount(col_type, minlength=kc)
    source, sink = kr + kc, kr + kc + 1
    tails = np.concatenate([np.full(kr, source), a_r, kr + np.arange(kc)])
    heads = np.concatenate([np.arange(kr), kr + a_c, np.full(kc, sink)])
    caps = np.concatenate([count_r, np.minimum(count_r[a_r], count_c[a_c]), count_c])
    costs = np.concatenate(
        [np.zeros(kr, np.int64), _to_cost(values, scale), np.zeros(kc, np.int64)]
    )
    flow = _ortools.min_cost_flow().SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int64), heads.astype(np.int64), caps.astype(np.int64), costs
    )
    flow.set_nodes_supplies(np.array([source, sink]), np.array([n, -n]))
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        return None
    amounts = flow.flows(arcs[kr : kr + a_r.size])
    if int(amounts.sum()) != n:
        return None
    # Hand out concrete rows and columns of each type in index order.
    rows_by_type = np.argsort(row_type, kind="stable")
    cols_by_type = np.argsort(col_type, kind="stable")
    next_r = np.searchsorted(row_type[rows_by_type], np.arange(kr))
    next_c = np.searchsorted(col_type[cols_by_type], np.arange(kc))
    mate = np.full(n, -1, dtype=np.int64)
    for arc in np.flatnonzero(amounts):
        f = int(amounts[arc])
        tr, tc = a_r[arc], a_c[arc]
        rr = rows_by_type[next_r[tr] : next_r[tr] + f]
        cc = cols_by_type[next_c[tc] : next_c[tc] + f]
        mate[rr] = cc
        next_r[tr] += f
        next_c[tc] += f
    return mate if np.all(mate >= 0) else None


def _sample_threshold(T: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Per-row estimate of the k-th largest score, from a sample of columns."""
    m = T.shape[1]
    size = min(m, 256)
    idx = np.sort(rng.choice(m, size, replace=False)) if size < m else np.arange(m)
    q = min(size, max(1, round(k * size / m)))
    return np.partition(T[:, idx], size - q, axis=1)[:, size - q]


def _sparse_float_full(n: int, m: int, r: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Full matching of the rows, maximum weight, on candidate arcs (float exact)."""
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    # SciPy minimises and drops explicit zeros: costs strictly positive.
    cost = (float(w.max()) + 1.0) - w
    graph = sp.csr_matrix((cost, (r, c)), shape=(n, m))
    rr, cc = min_weight_full_bipartite_matching(graph)
    mate = np.full(n, -1, dtype=np.int64)
    mate[rr] = cc
    return mate


def _row_duals(
    T: np.ndarray, r: np.ndarray, c: np.ndarray, mate: np.ndarray, square: bool
) -> np.ndarray:
    """Row potentials U of an optimal matching on the arcs ``(r, c)``.

    With column potentials ``V_j = T[owner(j), j] - U[owner(j)]``, the LP
    dual constraints ``U_i + V_j >= T_ij`` on candidate arcs read
    ``U_i >= U_owner(j) + T_ij - T_owner(j),j``: a longest-path problem on
    rows, solved by vectorised label correcting. The result need not be exact
    (iterations are capped): the caller repairs feasibility on the full matrix,
    so any U gives a valid bound.
    """
    n, m = T.shape
    owner = np.full(m, -1, dtype=np.int64)
    owner[mate] = np.arange(n)
    w = T[r, c]
    o = owner[c]
    if square:
        base = np.zeros(n)
    else:
        # Unmatched columns keep V_j = 0, so U_i >= T_ij on arcs to them.
        base = np.full(n, -np.inf)
        free = o < 0
        np.maximum.at(base, r[free], w[free])
        matched_value = T[np.arange(n), mate]
        base = np.where(np.isfinite(base), np.minimum(base, matched_value), matched_value)
    sel = (o >= 0) & (o != r)
    heads, tails = r[sel], o[sel]
    gain = w[sel] - T[tails, c[sel]]
    U = base.copy()
    if heads.size == 0:
        return U
    order = np.argsort(heads, kind="stable")
    heads, tails, gain = heads[order], tails[order], gain[order]
    starts = np.flatnonzero(np.r_[True, heads[1:] != heads[:-1]])
    targets = heads[starts]
    for _ in range(4 * n + 10):
        best = np.maximum.reduceat(U[tails] + gain, starts)
        improved = best > U[targets]
        if not improved.any():
            break
        U[targets[improved]] = best[improved]
    return U


def _pruned_certified(
    T: np.ndarray, safety: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Solve on the best candidate arcs, prove optimality on the whole matrix.

    Candidates are the ~k best scores of each row and each column plus a known
    full matching (``safety``). After solving on them, LP duals (U, V) are
    built and checked against every cell; violated cells join the candidates
    and the solve repeats. When no cell is violated the duals prove the
    matching optimal for the full matrix. Gives up (None) when the duals are
    far off, which happens on very degenerate, tie-heavy matrices.
    """
    n, m = T.shape
    square = n == m
    info: dict[str, Any] = {"rounds": 0}
    thr_r = _sample_threshold(T, _PRUNE_K, rng)
    thr_c = _sample_threshold(T.T, _PRUNE_K, rng)
    cand = (thr_r[:, None] <= T) | (thr_c[None, :] <= T)
    if not np.isfinite(thr_r).all() or not np.isfinite(thr_c).all():
        cand &= np.isfinite(T)
    cand[np.arange(n), safety] = True
    r, c = np.nonzero(cand)
    r, c = r.astype(np.int64), c.astype(np.int64)
    del cand
    finite_max = float(np.max(np.abs(T[r, c])))
    tol = 1e-9 * max(1.0, finite_max)
    for round_ in range(_PRUNE_ROUNDS):
        info["rounds"] = round_ + 1
        info["arcs"] = int(r.size)
        mate = _sparse_float_full(n, m, r, c, T[r, c])
        U = _row_duals(T, r, c, mate, square)
        V = np.zeros(m)
        V[mate] = T[np.arange(n), mate] - U
        slack = T - U[:, None]
        slack -= V[None, :]
        vr, vc = np.nonzero(slack > tol)
        if vr.size == 0:
            if not square and np.any(-tol > V):
                # Rectangular: unmatched-capable columns need V >= 0 too.
                return None, info
            return mate, info
        if vr.size > 4 * (n + m):
            info["violations"] = int(vr.size)
            return None, info
        key = np.unique(np.concatenate([r * m + c, vr.astype(np.int64) * m + vc]))
        r, c = key // m, key % m
    return None, info


def _dense_full(T: np.ndarray, safety: np.ndarray | None, seed: int) -> tuple[np.ndarray, str]:
    """Maximum-weight matching saturating the rows of ``T`` (rows <= columns).

    ``T`` may hold ``-inf`` for forbidden cells; a full matching of the rows
    must exist. ``safety`` is a known full matching (column per row) or None
    when every cell is finite (then the diagonal is one).
    """
    n, m = T.shape
    if n * m <= _SMALL_DENSE:
        return _scipy_dense(T), "lsa"
    mate = _row_max_certificate(T)
    if mate is not None:
        return mate, "row-max"
    mate = _transport(T)
    if mate is not None:
        return mate, "transport"
    if safety is None:
        safety = np.arange(n, dtype=np.int64)
    mate2, info = _pruned_certified(T, safety, np.random.default_rng(seed))
    if mate2 is not None:
        return mate2, "lsa-pruned"
    logger.debug("pruned solve gave up (%s); dense solve", info)
    return _scipy_dense(T), "lsa"


# --------------------------------------------------------------------------
# Sparse full matching: OR-Tools cost-scaling assignment on integer costs
# --------------------------------------------------------------------------


def _ortools_full(
    n: int, m: int, r: np.ndarray, c: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Maximum-weight matching saturating the smaller side, on arcs.

    A full matching of the smaller side must exist. Returns matched
    ``(rows, cols, scale, exact)``. OR-Tools' assignment wants a square
    problem: a rectangular one gets, whichever is smaller, dummy rows joined to
    every column, or one copy per column (unmatched) plus one copy per row fed
    through the transposed arcs — both exact and free of big-M costs.
    """
    if n > m:
        cc, rr, scale, exact = _ortools_full(m, n, c, r, values)
        return rr, cc, scale, exact
    module = _ortools.linear_sum_assignment()
    extra = m - n
    if extra == 0:
        tails, heads, n_left = r, c, n
        vals = values
    elif extra * m <= r.size + m:
        tails = np.concatenate([r, n + np.repeat(np.arange(extra), m)])
        heads = np.concatenate([c, np.tile(np.arange(m), extra)])
        vals = np.concatenate([values, np.zeros(extra * m)])
        n_left = m
    else:
        # Left: rows, column copies; right: columns, row copies.
        tails = np.concatenate([r, n + np.arange(m), n + c])
        heads = np.concatenate([c, np.arange(m), m + r])
        vals = np.concatenate([values, np.zeros(m + r.size)])
        n_left = n + m
    scale, exact = _integer_scale(values, _ortools.lsa_cost_limit(n_left))
    solver = module.SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(
        tails.astype(np.int64), heads.astype(np.int64), _to_cost(vals, scale)
    )
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise SolverError(
            f"the assignment solver stopped with status {status.name} on a problem that has "
            f"a full matching; this should not happen. Fix: report it with the input, or pass "
            f"a dense matrix."
        )
    mate = np.fromiter((solver.right_mate(i) for i in range(n)), dtype=np.int64, count=n)
    return np.arange(n, dtype=np.int64), mate, scale, exact


# --------------------------------------------------------------------------
# Cardinality-first, total-second solve (one-to-one)
# --------------------------------------------------------------------------


@dataclass
class _Solved:
    rows: np.ndarray
    cols: np.ndarray
    method: str
    scale: float | None = None
    exact: bool = True


def _solve_dense(T: np.ndarray, seed: int) -> _Solved:
    """Lexicographic (cardinality, total) optimum of a dense matrix (-inf = forbidden)."""
    n, m = T.shape
    finite = np.isfinite(T)
    all_allowed = bool(finite.all())
    if all_allowed:
        blocks = [(np.arange(n), np.arange(m))]
        mate_hint: np.ndarray | None = None
    else:
        r, c = np.nonzero(finite)
        r, c = r.astype(np.int64), c.astype(np.int64)
        mate_hint = _max_matching(n, m, r, c)
        k = int(np.sum(mate_hint >= 0))
        if k == 0:
            return _Solved(np.empty(0, np.int64), np.empty(0, np.int64), "empty")
        blocks = (
            [(np.arange(n), np.arange(m))] if k == min(n, m) else _dm_blocks(n, m, r, c, mate_hint)
        )
    rows_out, cols_out, methods = [], [], []
    for R, C in blocks:
        whole = R.size == n and C.size == m
        sub = T if whole else T[np.ix_(R, C)]
        transpose = R.size > C.size
        block = sub.T if transpose else sub
        safety = None
        if mate_hint is not None:
            # The maximum matching restricted to the block is full on its smaller side.
            pos_r = np.full(n, -1, np.int64)
            pos_r[R] = np.arange(R.size)
            pos_c = np.full(m, -1, np.int64)
            pos_c[C] = np.arange(C.size)
            rr = np.flatnonzero((mate_hint >= 0) & (pos_r >= 0))
            rr = rr[pos_c[mate_hint[rr]] >= 0]
            br, bc = pos_r[rr], pos_c[mate_hint[rr]]
            if transpose:
                br, bc = bc, br
            safety = np.full(block.shape[0], -1, np.int64)
            safety[br] = bc
            if np.any(safety < 0):
                raise SolverError("internal: block without a full matching (please report)")
        mate, method = _dense_full(
            np.ascontiguousarray(block) if transpose else block, safety, seed
        )
        brows = np.arange(block.shape[0])
        if transpose:
            brows, mate = mate, brows
        rows_out.append(R[brows])
        cols_out.append(C[mate])
        methods.append(method)
    rows = np.concatenate(rows_out) if rows_out else np.empty(0, np.int64)
    cols = np.concatenate(cols_out) if cols_out else np.empty(0, np.int64)
    method = "+".join(dict.fromkeys(methods)) or "empty"
    if len(blocks) > 1 or not all_allowed:
        method = f"dm:{method}" if len(blocks) > 1 else method
    return _Solved(rows, cols, method)


def _solve_sparse(n: int, m: int, r: np.ndarray, c: np.ndarray, values: np.ndarray) -> _Solved:
    """Lexicographic (cardinality, total) optimum on candidate arcs."""
    mate = _max_matching(n, m, r, c)
    k = int(np.sum(mate >= 0))
    if k == 0:
        return _Solved(np.empty(0, np.int64), np.empty(0, np.int64), "empty")
    blocks = [(np.arange(n), np.arange(m))] if k == min(n, m) else _dm_blocks(n, m, r, c, mate)
    rows_out, cols_out = [], []
    scales, exact = [], True
    for R, C in blocks:
        pos_r = np.full(n, -1, np.int64)
        pos_r[R] = np.arange(R.size)
        pos_c = np.full(m, -1, np.int64)
        pos_c[C] = np.arange(C.size)
        keep = (pos_r[r] >= 0) & (pos_c[c] >= 0)
        br, bc, s, ex = _ortools_full(R.size, C.size, pos_r[r[keep]], pos_c[c[keep]], values[keep])
        rows_out.append(R[br])
        cols_out.append(C[bc])
        scales.append(s)
        exact &= ex
    method = "lsa-ortools" if len(blocks) == 1 else "dm:lsa-ortools"
    return _Solved(np.concatenate(rows_out), np.concatenate(cols_out), method, min(scales), exact)


def _bottleneck(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    s: np.ndarray,
    target: int,
    count: Any,
) -> float:
    """Largest threshold t such that the arcs with score >= t still reach ``target``.

    ``count(rows, cols)`` returns the best cardinality on a set of arcs; it
    grows as the threshold drops, so a binary search over the distinct scores
    finds the bottleneck with O(log E) cardinality checks.
    """
    order = np.argsort(-s, kind="stable")
    sorted_s = s[order]
    distinct = np.unique(sorted_s)[::-1]  # descending
    lo, hi = 0, distinct.size - 1  # answer index in [lo, hi]; hi always works
    while lo < hi:
        mid = (lo + hi) // 2
        p = int(np.searchsorted(-sorted_s, -distinct[mid], side="right"))
        sel = order[:p]
        if count(r[sel], c[sel]) >= target:
            hi = mid
        else:
            lo = mid + 1
    return float(distinct[lo])


def _finish(
    *,
    problem: _Problem,
    scores: Any,
    rows: np.ndarray,
    cols: np.ndarray,
    weights: np.ndarray | None,
    method: str,
    status: str,
    started: float,
    seed: int,
    options: dict[str, Any],
    sort_by: str = "col",
) -> MatchingResult:
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    order = np.lexsort((rows, cols)) if sort_by == "col" else np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    if problem.dense is not None:
        raw = problem.dense[rows, cols].astype(np.float64)
    else:
        # Candidate arcs are sorted by (row, col): look the pairs up by key.
        m = problem.shape[1]
        assert problem.arc_rows is not None and problem.arc_cols is not None
        assert problem.arc_scores is not None
        keys = problem.arc_rows * m + problem.arc_cols
        raw = problem.arc_scores[np.searchsorted(keys, rows * m + cols)]
    values = raw * weights[cols] if weights is not None else raw
    objective = float(np.sum(values, dtype=np.float64))
    options = dict(options)
    scale = options.pop("scale", None)
    tolerance = float(options.pop("tolerance", 0.0))
    return MatchingResult(
        rows=rows,
        cols=cols,
        objective=objective,
        status=status,  # type: ignore[arg-type]
        bound=objective if status == "optimal" else options.get("bound"),
        wall_time=time.perf_counter() - started,
        method=method,
        seed=seed,
        options=options,
        min_score=float(raw.min()) if raw.size else None,
        scale=None if scale is None else float(scale),
        tolerance=tolerance,
    )


def one_to_one(
    scores: Any,
    allowed: Any = None,
    *,
    objective: str = "total",
    weights: Any = None,
    time_limit: float | None = None,
    seed: int = 0,
) -> MatchingResult:
    """Pair each mentee with at most one mentor and each mentor with at most one mentee.

    Maximises, in this order: (1) the number of pairs; (2) with
    ``objective="fair"``, the lowest score of a pair (unweighted); (3) the total
    score, ``sum(weights[j] * scores[i, j])`` over the pairs.

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
    weights : array_like (n_mentees,), optional
        Positive priority per mentee; ``weights[j]`` multiplies every score of
        mentee ``j``. Weights never trade away a pair (cardinality comes first),
        but among maximum matchings they decide who is left out: with
        non-negative scores a priority mentee's pairs are worth more, so when
        not everyone can be matched, priority mentees are kept in first.
    time_limit : float, optional
        Accepted for a uniform interface; every method here is exact and
        polynomial, so it is not used.
    seed : int
        Seeds the column sampling of the pruned method; results are
        deterministic for a given seed (with ties, another seed may return
        another optimal matching).

    Returns
    -------
    MatchingResult
        ``rows``/``cols`` sorted by column; ``objective`` recomputed in float64
        from the input; ``status="optimal"``; ``options`` holds ``objective``,
        ``min_score`` (lowest matched score), and for integer solvers ``scale``
        (integer units per score unit) and ``tolerance`` (0 when the scores lie
        on that grid, else the most the rounding can cost).

    Raises
    ------
    InputError
        Bad shapes, dtypes, NaN/inf on allowed pairs, unknown ``objective``,
        bad ``weights``, ``time_limit`` or ``seed``.

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
       a *pruned, certified* solve — optimal matching on the ~16 best cells of
       each row and column (SciPy's sparse LAPJV, floating point), then LP
       duals from a longest-path computation are checked against every cell;
       violated cells join and the solve repeats, and a clean check proves
       optimality for the whole matrix; SciPy's dense solver otherwise.
    3. Sparse input: OR-Tools' cost-scaling ``SimpleLinearSumAssignment`` on
       integer costs. It is robust to heavy ties, where SciPy's sparse LAPJV
       can be two orders of magnitude slower. The integer scale is the
       smallest grid (1, 2, 4, 10, 100, ...) that makes the scores exact,
       else a power of two within the solver's overflow limit (recorded in
       ``options``).
    4. ``objective="fair"``: binary search over the distinct scores for the
       largest threshold that keeps the maximum cardinality (one
       Hopcroft–Karp per step), then the total on the pairs at or above it.

    Examples
    --------
    >>> import numpy as np
    >>> res = one_to_one(np.array([[3.0, 1.0], [2.0, 2.0]]))
    >>> res.rows.tolist(), res.cols.tolist(), res.objective
    ([0, 1], [0, 1], 5.0)
    >>> res = one_to_one(np.array([[3.0, 1.0], [2.0, 2.0]]), objective="fair")
    >>> res.min_score
    2.0
    """
    started = time.perf_counter()
    where = "one_to_one"
    problem = _check_scores(scores, allowed, where)
    objective = _check_objective(objective, where)
    w = _check_weights(weights, problem.shape[1], where)
    time_limit = check_time_limit(time_limit, where)
    seed = check_seed(seed, where)
    n, m = problem.shape
    options: dict[str, Any] = {"objective": objective, "time_limit": time_limit}
    if w is not None:
        options["weighted"] = True
    if n == 0 or m == 0:
        return _finish(
            problem=problem,
            scores=scores,
            rows=np.empty(0),
            cols=np.empty(0),
            weights=w,
            method="empty",
            status="optimal",
            started=started,
            seed=seed,
            options=options,
        )
    threshold: float | None = None
    if objective == "fair":
        r, c, s = problem.arcs()
        target = int(np.sum(_max_matching(n, m, r, c) >= 0))
        if target > 0:
            threshold = _bottleneck(
                n,
                m,
                r,
                c,
                s,
                target,
                lambda rr, cc: int(np.sum(_max_matching(n, m, rr, cc) >= 0)),
            )
        options["threshold"] = threshold
    if problem.is_sparse:
        r, c, s = problem.arcs()
        if threshold is not None:
            keep = s >= threshold
            r, c, s = r[keep], c[keep], s[keep]
        values = s * w[c] if w is not None else s
        solved = _solve_sparse(n, m, r, c, values)
    else:
        assert problem.dense is not None
        T = problem.dense
        if w is not None:
            T = T * w[None, :]
        forbid = None if problem.mask is None else ~problem.mask
        if threshold is not None:
            low = problem.dense < threshold
            forbid = low if forbid is None else (forbid | low)
        if forbid is not None and forbid.any():
            T = np.where(forbid, -np.inf, T)
        solved = _solve_dense(T, seed)
    if solved.scale is not None:
        options["scale"] = solved.scale
        options["tolerance"] = 0.0 if solved.exact else float(solved.rows.size) / solved.scale
    return _finish(
        problem=problem,
        scores=scores,
        rows=solved.rows,
        cols=solved.cols,
        weights=w,
        method=solved.method if threshold is None else f"bottleneck+{solved.method}",
        status="optimal",
        started=started,
        seed=seed,
        options=options,
    )


# --------------------------------------------------------------------------
# One-to-many: min-cost flow
# --------------------------------------------------------------------------


def _flow_network(
    n: int, m: int, r: np.ndarray, c: np.ndarray
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Nodes: mentors 0..n-1, mentees n..n+m-1, source n+m, sink n+m+1."""
    source, sink = n + m, n + m + 1
    tails = np.concatenate([np.full(n, source), r, n + np.arange(m)])
    heads = np.concatenate([np.arange(n), n + c, np.full(m, sink)])
    return source, sink, tails.astype(np.int64), heads.astype(np.int64)


def _max_count(
    n: int, m: int, r: np.ndarray, c: np.ndarray, capacity: np.ndarray, min_load: np.ndarray
) -> int | None:
    """Most mentees that can be matched with every mentor at or above ``min_load``.

    None when ``min_load`` cannot be met at all. Without lower bounds this is a
    maximum flow; with them, a min-cost circulation whose only cost is -1 per
    unit returned from sink to source (the lower-bound transform moves each
    ``min_load[i]`` into node supplies).
    """
    source, sink, tails, heads = _flow_network(n, m, r, c)
    if not np.any(min_load):
        mf = _ortools.max_flow().SimpleMaxFlow()
        caps = np.concatenate([capacity, np.ones(r.size + m, np.int64)])
        mf.add_arcs_with_capacity(tails, heads, caps)
        if mf.solve(source, sink) != mf.OPTIMAL:
            raise SolverError("max flow failed on a valid network (please report)")
        return int(mf.optimal_flow())
    flow = _ortools.min_cost_flow().SimpleMinCostFlow()
    caps = np.concatenate([capacity - min_load, np.ones(r.size + m, np.int64), [m]])
    costs = np.zeros(caps.size, np.int64)
    costs[-1] = -1
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([tails, [sink]]), np.concatenate([heads, [source]]), caps, costs
    )
    total = int(min_load.sum())
    nodes = np.concatenate([[source], np.arange(n)])
    flow.set_nodes_supplies(nodes, np.concatenate([[-total], min_load]))
    status = flow.solve()
    if status == flow.INFEASIBLE:
        return None
    if status != flow.OPTIMAL:
        raise SolverError(f"min-cost flow stopped with status {status.name} (please report)")
    return int(-flow.optimal_cost())


def _min_load_reasons(
    n: int, m: int, r: np.ndarray, c: np.ndarray, min_load: np.ndarray
) -> list[str]:
    """Explain why ``min_load`` cannot be met: a Hall violator from a min cut."""
    reasons = []
    degree = np.bincount(r, minlength=n)
    short = np.flatnonzero(degree < min_load)
    if short.size:
        shown = ", ".join(f"{i} (min_load {min_load[i]}, {degree[i]} allowed)" for i in short[:5])
        more = f" and {short.size - 5} more" if short.size > 5 else ""
        reasons.append(
            f"mentors {shown}{more} have fewer allowed mentees than their min_load. "
            f"Fix: lower min_load for them or allow more pairs."
        )
    total = int(min_load.sum())
    if total > m:
        reasons.append(
            f"min_load adds up to {total} but there are only {m} mentees. Fix: lower min_load."
        )
    # A set X of mentors whose allowed mentees N(X) number fewer than sum(min_load[X]).
    source, sink, tails, heads = _flow_network(n, m, r, c)
    mf = _ortools.max_flow().SimpleMaxFlow()
    big = np.full(r.size, total + 1, np.int64)
    mf.add_arcs_with_capacity(tails, heads, np.concatenate([min_load, big, np.ones(m, np.int64)]))
    mf.solve(source, sink)
    side = np.asarray(mf.get_source_side_min_cut(), dtype=np.int64)
    group = np.sort(side[side < n])
    group = group[min_load[group] > 0]
    mentees = side[(side >= n) & (side < n + m)]
    if group.size and not short.size:
        shown = ", ".join(str(i) for i in group[:5])
        more = f" and {group.size - 5} more" if group.size > 5 else ""
        reasons.append(
            f"mentors {shown}{more} need at least {int(min_load[group].sum())} mentees together "
            f"but only {mentees.size} mentees are allowed with any of them. Fix: lower min_load "
            f"for these mentors or allow more pairs with them."
        )
    return reasons or ["min_load cannot be met. Fix: lower min_load or allow more pairs."]


def _mcf_assign(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    values: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    count: int,
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Best total with exactly ``count`` mentees matched (min-cost flow)."""
    source, sink, tails, heads = _flow_network(n, m, r, c)
    scale, exact = _integer_scale(values, _ortools.mcf_cost_limit(n + m + 2))
    flow = _ortools.min_cost_flow().SimpleMinCostFlow()
    caps = np.concatenate([capacity - min_load, np.ones(r.size + m, np.int64)])
    costs = np.concatenate([np.zeros(n, np.int64), _to_cost(values, scale), np.zeros(m, np.int64)])
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    if np.any(min_load):
        nodes = np.concatenate([[source, sink], np.arange(n)])
        supplies = np.concatenate([[count - int(min_load.sum()), -count], min_load])
        flow.set_nodes_supplies(nodes, supplies)
        status = flow.solve()
    else:
        flow.set_nodes_supplies(np.array([source, sink]), np.array([count, -count]))
        status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise SolverError(f"min-cost flow stopped with status {status.name} (please report)")
    used = flow.flows(arcs[n : n + r.size]) > 0
    return r[used], c[used], scale, exact


def one_to_many(
    scores: Any,
    capacity: Any,
    allowed: Any = None,
    *,
    min_load: Any = 0,
    objective: str = "total",
    weights: Any = None,
    time_limit: float | None = None,
    seed: int = 0,
) -> MatchingResult:
    """Give each mentee at most one mentor; mentor ``i`` takes up to ``capacity[i]`` mentees.

    Maximises, in this order: (1) the number of matched mentees, subject to
    ``min_load``; (2) with ``objective="fair"`` the lowest matched score;
    (3) the weighted total score.

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
    weights : array_like (n_mentees,), optional
        Positive priority per mentee, multiplying its scores (see
        :func:`one_to_one`).
    time_limit : float, optional
        Not used: min-cost flow is exact and polynomial.
    seed : int
        Recorded; the method is deterministic.

    Returns
    -------
    MatchingResult
        As in :func:`one_to_one`; ``options`` holds ``scale`` and
        ``tolerance`` of the integer costs.

    Raises
    ------
    InputError
        As in :func:`one_to_one`, plus bad ``capacity`` / ``min_load`` (not
        whole, negative, wrong length, ``min_load`` above ``capacity``).
    InfeasibleError
        ``min_load`` cannot be met; ``reasons`` name the mentors.

    Notes
    -----
    OR-Tools ``SimpleMinCostFlow``: source → mentor (capacity), mentor →
    mentee (allowed pairs, cost = −scaled weighted score), mentee → sink (1).
    Without ``min_load``, ``solve_max_flow_with_min_cost`` gives "most
    mentees, then best total" in one exact solve. With ``min_load``, the lower
    bounds move into node supplies; a first unit-cost circulation finds the
    largest feasible count, a second solve the best total at that count.
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
    problem = _check_scores(scores, allowed, where)
    n, m = problem.shape
    cap = _check_per_mentor(capacity, n, "capacity", where)
    low = _check_per_mentor(min_load, n, "min_load", where)
    above = np.flatnonzero(low > cap)
    if above.size:
        i = int(above[0])
        raise InputError(
            f"`min_load` must not exceed `capacity`; got min_load {int(low[i])} > capacity "
            f"{int(cap[i])} for mentor {i} ({where}). Fix: raise that mentor's capacity or "
            f"lower its min_load."
        )
    objective = _check_objective(objective, where)
    w = _check_weights(weights, m, where)
    time_limit = check_time_limit(time_limit, where)
    seed = check_seed(seed, where)
    if np.all(cap == 1) and not np.any(low):
        res = one_to_one(
            scores,
            allowed,
            objective=objective,
            weights=weights,
            time_limit=time_limit,
            seed=seed,
        )
        return dataclasses.replace(
            res,
            wall_time=time.perf_counter() - started,
            options=dict(res.options, capacity=1, min_load=0),
        )
    options: dict[str, Any] = {"objective": objective, "time_limit": time_limit}
    r, c, s = problem.arcs()
    keep = cap[r] > 0
    r, c, s = r[keep], c[keep], s[keep]
    count = _max_count(n, m, r, c, cap, low)
    if count is None:
        reasons = _min_load_reasons(n, m, r, c, low)
        raise InfeasibleError("min_load cannot be met: " + reasons[0], reasons)
    threshold: float | None = None
    if objective == "fair" and count > 0:

        def counter(rr: np.ndarray, cc: np.ndarray) -> int:
            got = _max_count(n, m, rr, cc, cap, low)
            return -1 if got is None else got

        threshold = _bottleneck(n, m, r, c, s, count, counter)
        keep = s >= threshold
        r, c, s = r[keep], c[keep], s[keep]
    options["threshold"] = threshold
    if count == 0:
        rows, cols = np.empty(0, np.int64), np.empty(0, np.int64)
        method = "empty"
    else:
        values = s * w[c] if w is not None else s
        rows, cols, scale, exact = _mcf_assign(n, m, r, c, values, cap, low, count)
        options["scale"] = scale
        options["tolerance"] = 0.0 if exact else float(rows.size) / scale
        method = "min_cost_flow" if threshold is None else "bottleneck+min_cost_flow"
    return _finish(
        problem=problem,
        scores=scores,
        rows=rows,
        cols=cols,
        weights=w,
        method=method,
        status="optimal",
        started=started,
        seed=seed,
        options=options,
    )
