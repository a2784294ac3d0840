"""The exact linear-sum-assignment engine behind one_to_one and peer_pairs, fastest first.

"As many pairs as possible, then the best total" is reduced, with no big-M
penalty, to blocks that each need a full matching of their smaller side:

* a maximum-cardinality matching (Hopcroft–Karp) and the Dulmage–Mendelsohn
  decomposition (:func:`max_matching`, :func:`dm_blocks`);
* dense blocks (:func:`dense_full`): SciPy for small blocks; with numba, scores
  on a small lattice go to the compiled solver of :mod:`pairwise.solvers._lapjv`
  (aggregation first when rows and columns repeat a lot); otherwise a row-maximum
  certificate, aggregation of identical rows/columns into a transportation
  problem, SciPy's dense solver straight away for scores on a small lattice
  (weighted criteria, rounded), a pruned solve certified by LP row duals on
  the whole matrix, and SciPy's dense solver as the fallback, all in floating
  point; a mask keeping few pairs of off-lattice scores goes to the sparse path;
* sparse blocks (:func:`ortools_full`): OR-Tools' cost-scaling assignment on
  integer costs (:func:`pairwise.solvers._ortools.integer_scale`), arcs in the
  order it runs fastest (:mod:`pairwise.solvers._sparse_assign`); scores off every
  exact grid: large blocks on the rounded grid, kept only when LP duals prove the
  answer optimal for the scores, else SciPy's sparse LAPJV in floating point;
* ``objective="fair"``: :func:`bottleneck` finds the largest score threshold
  that keeps the maximum cardinality.

:func:`finish` turns chosen pairs into a :class:`MatchingResult` for every
matching solver (one_to_one, one_to_many, peer_pairs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from pairwise.errors import SolverError
from pairwise.solvers import _lapjv, _ortools, _sparse_assign
from pairwise.solvers._duals import matching_duals
from pairwise.solvers._ortools import Scaling, integer_scale
from pairwise.solvers._result import MatchingResult, Status
from pairwise.solvers._validation import ScoreProblem, check_choice

__all__ = [
    "OBJECTIVES",
    "Solved",
    "bottleneck",
    "check_objective",
    "dense_full",
    "dense_full_within_deadline",
    "dm_blocks",
    "empty",
    "fair_threshold",
    "finish",
    "matching_threshold",
    "max_matching",
    "ortools_full",
    "solve_dense",
    "solve_problem",
    "solve_sparse",
    "to_cost",
]

logger = logging.getLogger(__name__)

#: Valid values of ``objective`` for the matching solvers.
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
# Pruned solve: dual slack accepted as rounding noise, relative to the largest score.
_CERTIFY_RTOL = 2.0**-44
# Scores on an integer lattice with at most this many levels (a few weighted criteria,
# rounded): SciPy's dense solver beats the pruned solve there (measured 1.5-2x at
# n = 800-2000 on HR-like and OR-Library scores), so it runs directly.
_LATTICE_LEVELS = 4096
# A masked dense matrix keeping at most this share of its cells, with scores off a small
# lattice, is solved on its arcs (SciPy's sparse LAPJV): measured 1.6-2.4x faster than the
# pruned dense solve at a quarter of the cells, n = 1000-2000.
_SPARSE_SHARE = 0.3
# Without a deadline, a floating-point sparse solve forks only beyond this many times
# FORK_ARCS arcs (up to about 0.5 s of SciPy's LAPJV on scores with few ties).
_FLOAT_FORK_FACTOR = 8
# Sparse blocks of scores off every exact grid with at least this many arcs are first
# solved by OR-Tools on the rounded grid, and the answer kept only when LP duals prove it
# optimal for the scores themselves (else SciPy's float solver runs as before). Measured
# on 100,000 x 100,000 with 50 uniform scores per row: OR-Tools 3.3 s + duals 6.8 s
# against SciPy's LAPJV 24 s; at 20,000 (1M arcs) 1.5 s against 1.2 s, hence the cut.
_ROUNDED_FIRST_ARCS = 2_000_000
# Seconds a deadline must leave for the compiled lattice solver to be loaded (or compiled)
# before a killable solve: numba's first compilation takes about 10 s, 16 s under load.
_WARM_SECONDS = 30.0
# Cells sampled to recognise such a lattice.
_LATTICE_SAMPLE = 4096
# Finest step 1 / q of such a lattice.
_SMALL_LATTICE_STEP = 1024.0


def check_objective(objective: Any, where: str) -> str:
    """``objective`` if it is one of :data:`OBJECTIVES` (one wording for every matching solver)."""
    return check_choice(
        objective,
        "objective",
        OBJECTIVES,
        where,
        "pass objective='total' (highest total score) or objective='fair' "
        "(raise the lowest matched score first).",
    )


def to_cost(values: np.ndarray, scaling: Scaling) -> np.ndarray:
    """Integer costs for a minimising solver from scores to maximise."""
    return -scaling.integers(values)


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


def max_matching(n: int, m: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
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


def dm_blocks(
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
    at_max = row_max[:, None] == T
    if np.count_nonzero(at_max.any(axis=0)) < n:
        return None  # fewer columns hold a row maximum than there are rows
    # Row-sorted arcs from the flat positions: cheaper than a 2-D nonzero on ties.
    flat = np.flatnonzero(at_max)
    r, c = np.divmod(flat, m)
    mate = max_matching(n, m, r, c)
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


def _types(
    T: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Row and column types of ``T`` (``(row_type, row_rep, col_type, col_rep)``).

    None when there are too many types for aggregation to pay, or when the
    hashed groups are not exactly identical rows/columns.
    """
    n, m = T.shape
    finite = np.isfinite(T)
    X = T
    if not finite.all():
        low = float(T[finite].min()) - 1.0
        X = np.where(finite, T, low)
    budget = n * m // _AGGREGATE_FACTOR
    row_type, row_rep = _candidate_groups(X)
    if row_rep.size > budget:
        return None
    # Once rows are known to repeat, columns repeat in X exactly when they
    # repeat in the (small) matrix of representative rows.
    reduced = X if row_rep.size == n else X[row_rep]  # no repeated rows: no copy
    col_type, col_rep = _candidate_groups(reduced.T)
    if row_rep.size * col_rep.size > budget:
        return None
    if not _verify_groups(X, row_type, row_rep):
        return None
    if not np.array_equal(reduced, reduced[:, col_rep[col_type]]):
        return None
    return row_type, row_rep, col_type, col_rep


def _hand_out(
    amounts: np.ndarray,
    a_r: np.ndarray,
    a_c: np.ndarray,
    row_type: np.ndarray,
    col_type: np.ndarray,
    kr: int,
    kc: int,
) -> np.ndarray:
    """Concrete rows and columns for a flow between types, in index order."""
    rows_by_type = np.argsort(row_type, kind="stable")
    cols_by_type = np.argsort(col_type, kind="stable")
    next_r = np.searchsorted(row_type[rows_by_type], np.arange(kr))
    next_c = np.searchsorted(col_type[cols_by_type], np.arange(kc))
    mate = np.full(row_type.size, -1, dtype=np.int64)
    for arc in np.flatnonzero(amounts):
        f = int(amounts[arc])
        tr, tc = a_r[arc], a_c[arc]
        rr = rows_by_type[next_r[tr] : next_r[tr] + f]
        cc = cols_by_type[next_c[tc] : next_c[tc] + f]
        mate[rr] = cc
        next_r[tr] += f
        next_c[tc] += f
    return mate


def _transport(T: np.ndarray) -> np.ndarray | None:
    """Exact solve by aggregating identical rows and columns (few "types").

    Scores built from a handful of categorical attributes repeat whole rows
    and columns; the assignment then reduces to a transportation problem
    between types, solved exactly by min-cost flow when the scores are on an
    integer grid. Returns None when aggregation does not pay or is not exact.
    """
    n = T.shape[0]
    types = _types(T)
    if types is None:
        return None
    row_type, row_rep, col_type, col_rep = types
    kr, kc = row_rep.size, col_rep.size
    block = T[np.ix_(row_rep, col_rep)]
    a_r, a_c = np.nonzero(np.isfinite(block))
    values = block[a_r, a_c]
    n_nodes = kr + kc + 2
    # Every solution sends n units: an offset shifts every total alike.
    limit = _ortools.mcf_cost_limit(n_nodes) / max(n, 1)
    scaling = integer_scale(values, limit=limit, shift=True)
    if not scaling.exact:
        return None
    count_r = np.bincount(row_type, minlength=kr)
    count_c = np.bincount(col_type, minlength=kc)
    source, sink = kr + kc, kr + kc + 1
    tails = np.concatenate([np.full(kr, source), a_r, kr + np.arange(kc)])
    heads = np.concatenate([np.arange(kr), kr + a_c, np.full(kc, sink)])
    caps = np.concatenate([count_r, np.minimum(count_r[a_r], count_c[a_c]), count_c])
    costs = np.concatenate(
        [np.zeros(kr, np.int64), to_cost(values, scaling), np.zeros(kc, np.int64)]
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
    mate = _hand_out(amounts, a_r, a_c, row_type, col_type, kr, kc)
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


def _candidates(
    T: np.ndarray, safety: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Arcs among the ~k best of their row or column, plus the known full matching."""
    n = T.shape[0]
    thr_r = _sample_threshold(T, _PRUNE_K, rng)
    thr_c = _sample_threshold(T.T, _PRUNE_K, rng)
    cand = (thr_r[:, None] <= T) | (thr_c[None, :] <= T)
    if not np.isfinite(thr_r).all() or not np.isfinite(thr_c).all():
        cand &= np.isfinite(T)
    cand[np.arange(n), safety] = True
    r, c = np.divmod(np.flatnonzero(cand), T.shape[1])
    return r, c


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
    r, c = _candidates(T, safety, rng)
    finite_max = float(np.max(np.abs(T[r, c])))
    # Float noise of the dual arithmetic only (relative to the largest score): a
    # looser tolerance would certify matchings that lose real score differences.
    tol = _CERTIFY_RTOL * finite_max
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


def _few_levels(T: np.ndarray) -> bool:
    """Whether a sample of the finite scores lies on a lattice of few levels.

    A cheap recogniser only (it decides which exact method runs, never the
    answer): scores built from a few weighted criteria are multiples of a
    small step ``1 / q`` with a short range.
    """
    # any shape: a matrix or the scores of arcs
    found = _ortools.sample_lattice(T, size=_LATTICE_SAMPLE, levels=_LATTICE_LEVELS, min_size=2)
    if found is None:
        return False
    scaling = found[1]
    return scaling.exact and scaling.scale <= _SMALL_LATTICE_STEP


def dense_full(T: np.ndarray, safety: np.ndarray | None, seed: int) -> tuple[np.ndarray, str]:
    """Maximum-weight matching saturating the rows of ``T`` (rows <= columns).

    ``T`` may hold ``-inf`` for forbidden cells; a full matching of the rows
    must exist. ``safety`` is a known full matching (column per row) or None
    when every cell is finite (then the diagonal is one). Methods, in order:
    SciPy for small blocks; with numba, scores on a small lattice take the
    compiled lattice solver (``"lsa-lattice"``, or ``"row-max"`` when its
    solution has every row's maximum), after aggregation when the hashed row
    and column types are few (``"transport"``); otherwise the row-maximum
    certificate, aggregation into a transportation problem, SciPy's dense
    solver for scores on a small lattice (``"lsa-lattice"``; the pruned solve
    loses there to ties), the pruned certified solve, SciPy's dense solver.
    """
    n, m = T.shape
    if n * m <= _SMALL_DENSE:
        return _scipy_dense(T), "lsa"
    grid = _lapjv.lattice(T)
    if grid is not None:
        # Compiled lattice solver: aggregation first only when the hashed row and
        # column types show it can pay; a solution at every row maximum is so certified.
        if grid.n_row_types * grid.n_col_types * _AGGREGATE_FACTOR <= n * m:
            mate = _transport(T)
            if mate is not None:
                return mate, "transport"
        mate = grid.solve()
        return mate, "row-max" if grid.at_row_maxima(mate) else "lsa-lattice"
    mate = _row_max_certificate(T)
    if mate is not None:
        return mate, "row-max"
    mate = _transport(T)
    if mate is not None:
        return mate, "transport"
    if _few_levels(T):
        return _scipy_dense(T), "lsa-lattice"
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


def _square_arcs(
    n: int, m: int, r: np.ndarray, c: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Arcs of a square problem whose full matchings are those of the n rows (n <= m).

    Returns ``(tails, heads, values, n_left)``. A rectangular problem gets,
    whichever is smaller, dummy rows joined to every column, or one copy per
    column (unmatched) plus one copy per row fed through the transposed arcs —
    both exact and free of big-M costs.
    """
    extra = m - n
    if extra == 0:
        return r, c, values, n
    if extra * m <= r.size + m:
        tails = np.concatenate([r, n + np.repeat(np.arange(extra), m)])
        heads = np.concatenate([c, np.tile(np.arange(m), extra)])
        return tails, heads, np.concatenate([values, np.zeros(extra * m)]), m
    # Left: rows, column copies; right: columns, row copies.
    tails = np.concatenate([r, n + np.arange(m), n + c])
    heads = np.concatenate([c, np.arange(m), m + r])
    return tails, heads, np.concatenate([values, np.zeros(m + r.size)]), n + m


def ortools_full(
    n: int, m: int, r: np.ndarray, c: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Scaling | None]:
    """Maximum-weight matching saturating the smaller side, on arcs.

    A full matching of the smaller side must exist. Returns matched
    ``(rows, cols, scaling)``. OR-Tools' assignment wants a square problem
    (see :func:`_square_arcs`); the integer scale is chosen on the real arcs'
    values only, after subtracting their minimum (every full matching has the
    same number of real arcs). When no integer grid holds the scores exactly,
    a large block is first solved on the rounded grid and kept when LP duals
    prove it optimal for the scores (:func:`_rounded_then_proved`); otherwise
    SciPy's sparse LAPJV solves the block in floating point (``scaling`` None
    in both cases), so the answer is optimal for the scores given.
    """
    if n > m:
        cc, rr, scaling = ortools_full(m, n, c, r, values)
        return rr, cc, scaling
    # The square problem has m left nodes at most (see _square_arcs); its arcs only if needed.
    n_left = n if n == m else (m if (m - n) * m <= r.size + m else n + m)
    scaling = integer_scale(values, limit=_ortools.lsa_cost_limit(n_left), shift=True)
    if not scaling.exact:
        if values.size >= _ROUNDED_FIRST_ARCS:
            proved = _rounded_then_proved(n, m, r, c, values, scaling)
            if proved is not None:
                return np.arange(n, dtype=np.int64), proved, None
        # Scores off every grid that fits have few ties, where SciPy's sparse LAPJV is
        # quick (0.06 s on 250,000 arcs): without a deadline, moderate sizes run
        # in-process (a fork costs 30-50 ms here; Ctrl-C waits for the solve's end).
        size = int(values.size)
        fork_size = size if _ortools.earliest(None) is not None else size // _FLOAT_FORK_FACTOR
        mate = _ortools.run_cancellable(_sparse_float_full, n, m, r, c, values, arcs=fork_size)
        return np.arange(n, dtype=np.int64), mate, None
    tails, heads, vals, n_left = _square_arcs(n, m, r, c, values)
    if vals.size == values.size:
        costs = to_cost(values, scaling)
    else:
        costs = np.zeros(vals.size, dtype=np.int64)  # dummy arcs (after the real ones) cost 0
        costs[: values.size] = to_cost(values, scaling)
    # Large solves run where Ctrl-C and the run's deadline can stop them (the solver
    # holds the GIL); DeadlineExceeded goes to the caller, which keeps a fallback.
    mate = _ortools.run_cancellable(
        _sparse_assign.lsa_mates, n, tails, heads, costs, arcs=int(costs.size)
    )
    return np.arange(n, dtype=np.int64), mate, scaling


def _rounded_then_proved(
    n: int, m: int, r: np.ndarray, c: np.ndarray, values: np.ndarray, scaling: Scaling
) -> np.ndarray | None:
    """A full matching of the n rows that is optimal for ``values``, or None (n <= m).

    OR-Tools solves the block on the rounded grid ``scaling`` (fast); the
    answer is kept only when LP duals on the float ``values``
    (:func:`pairwise.solvers._duals.matching_duals`: rows as the side every
    matching fills, columns with room for one) prove it optimal to within
    floating-point tolerance. When the rounding hid a better matching the
    duals do not close and the caller solves in floating point. Both steps run
    where Ctrl-C and the run's deadline can stop them.
    """
    tails, heads, vals, _ = _square_arcs(n, m, r, c, values)
    costs = np.zeros(vals.size, dtype=np.int64)
    costs[: values.size] = to_cost(values, scaling)
    size = int(costs.size)
    mate = _ortools.run_cancellable(_sparse_assign.lsa_mates, n, tails, heads, costs, arcs=size)
    duals = _ortools.run_cancellable(
        matching_duals,
        (m, n),
        (c, r, values),
        (mate, np.arange(n, dtype=np.int64)),
        np.ones(m, dtype=np.int64),
        np.ones(n, dtype=np.int64),
        arcs=size,
    )
    return mate if duals.feasible else None


# --------------------------------------------------------------------------
# Cardinality-first, total-second solve
# --------------------------------------------------------------------------


@dataclass
class Solved:
    """Pairs of a lexicographic (cardinality, total) optimum and how they were found."""

    rows: np.ndarray
    cols: np.ndarray
    method: str
    scaling: Scaling | None = None  # None on the floating-point paths
    # the wall clock stopped a solve: the pairs are a fallback, not the optimum
    stopped_by_time_limit: bool = False


def empty() -> Solved:
    """No pairs."""
    return Solved(np.empty(0, np.int64), np.empty(0, np.int64), "empty")


def _block_safety(
    mate_hint: np.ndarray, R: np.ndarray, C: np.ndarray, shape: tuple[int, int], transpose: bool
) -> np.ndarray:
    """The maximum matching restricted to block ``(R, C)``: full on its smaller side."""
    n, m = shape
    pos_r = np.full(n, -1, np.int64)
    pos_r[R] = np.arange(R.size)
    pos_c = np.full(m, -1, np.int64)
    pos_c[C] = np.arange(C.size)
    rr = np.flatnonzero((mate_hint >= 0) & (pos_r >= 0))
    rr = rr[pos_c[mate_hint[rr]] >= 0]
    br, bc = pos_r[rr], pos_c[mate_hint[rr]]
    if transpose:
        br, bc = bc, br
    safety = np.full(C.size if transpose else R.size, -1, np.int64)
    safety[br] = bc
    if np.any(safety < 0):
        raise SolverError("internal: block without a full matching (please report)")
    return safety


def solve_dense(T: np.ndarray, seed: int, *, all_finite: bool = False) -> Solved:
    """Lexicographic (cardinality, total) optimum of a dense matrix (-inf = forbidden).

    ``all_finite``: the caller knows every cell is finite (skips a pass over ``T``).
    """
    n, m = T.shape
    finite = None if all_finite else np.isfinite(T)
    all_allowed = finite is None or bool(finite.all())
    if all_allowed:
        blocks = [(np.arange(n), np.arange(m))]
        mate_hint: np.ndarray | None = None
    else:
        assert finite is not None
        flat = np.flatnonzero(finite)
        r, c = np.divmod(flat, m)  # row-sorted, cheaper than a 2-D nonzero
        mate_hint = max_matching(n, m, r, c)
        k = int(np.sum(mate_hint >= 0))
        if k == 0:
            return empty()
        if n * m > _SMALL_DENSE and r.size <= _SPARSE_SHARE * n * m and not _few_levels(T):
            # A mask that keeps few pairs, scores off any small lattice: the arcs are the problem.
            return solve_sparse(n, m, r, c, T.reshape(-1)[flat], mate=mate_hint)
        blocks = (
            [(np.arange(n), np.arange(m))] if k == min(n, m) else dm_blocks(n, m, r, c, mate_hint)
        )
    rows_out, cols_out, methods = [], [], []
    for R, C in blocks:
        whole = R.size == n and C.size == m
        sub = T if whole else T[np.ix_(R, C)]
        transpose = R.size > C.size
        block = sub.T if transpose else sub
        safety = None
        if mate_hint is not None:
            safety = _block_safety(mate_hint, R, C, (n, m), transpose)
        try:
            mate, method = dense_full_within_deadline(
                np.ascontiguousarray(block) if transpose else block, safety, seed
            )
        except _ortools.DeadlineExceeded:
            return _cut_short(_full_mate(n, m) if mate_hint is None else mate_hint)
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
    return Solved(rows, cols, method)


def dense_full_within_deadline(
    block: np.ndarray, safety: np.ndarray | None, seed: int
) -> tuple[np.ndarray, str]:
    """:func:`dense_full`, stoppable at the enclosing deadline when one is set.

    SciPy's dense solver releases the GIL, so Ctrl-C is seen within about a
    second of a large solve's end anyway; only a wall-clock deadline needs the
    solve in a killable child (:func:`pairwise.solvers._ortools.run_cancellable`),
    which costs a fork, so calls without a deadline run in-process as before.
    """
    deadline = _ortools.earliest(None)
    if deadline is None:
        return dense_full(block, safety, seed)
    if block.size > _SMALL_DENSE and deadline - time.perf_counter() > _WARM_SECONDS:
        # The child inherits the compiled lattice solver. Loading it takes about a
        # second, compiling it on a machine's first run about 10: with less time left the
        # child runs the other methods instead of spending the budget on numba.
        _lapjv.warm()
    return _ortools.run_cancellable(dense_full, block, safety, seed, arcs=int(block.size))


def _full_mate(n: int, m: int) -> np.ndarray:
    """A maximum matching when every pair is allowed: row i with column i."""
    mate = np.full(n, -1, np.int64)
    k = min(n, m)
    mate[:k] = np.arange(k)
    return mate


def solve_sparse(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    values: np.ndarray,
    *,
    mate: np.ndarray | None = None,
) -> Solved:
    """Lexicographic (cardinality, total) optimum on candidate arcs.

    ``mate`` is a maximum matching of the arcs when the caller has one.
    """
    if mate is None:
        mate = max_matching(n, m, r, c)
    k = int(np.sum(mate >= 0))
    if k == 0:
        return empty()
    blocks = [(np.arange(n), np.arange(m))] if k == min(n, m) else dm_blocks(n, m, r, c, mate)
    rows_out, cols_out = [], []
    scalings: list[Scaling] = []
    floats = 0
    for R, C in blocks:
        if R.size == n and C.size == m:
            arcs = (r, c, values)  # the whole problem: no renumbering
        else:
            pos_r = np.full(n, -1, np.int64)
            pos_r[R] = np.arange(R.size)
            pos_c = np.full(m, -1, np.int64)
            pos_c[C] = np.arange(C.size)
            keep = (pos_r[r] >= 0) & (pos_c[c] >= 0)
            arcs = (pos_r[r[keep]], pos_c[c[keep]], values[keep])
        try:
            br, bc, scaling = ortools_full(R.size, C.size, *arcs)
        except _ortools.DeadlineExceeded:
            return _cut_short(mate)
        rows_out.append(R[br])
        cols_out.append(C[bc])
        if scaling is None:
            floats += 1
        else:
            scalings.append(scaling)
    names = (["lsa-ortools"] if scalings else []) + (["lsa-sparse"] if floats else [])
    method = "+".join(names)
    method = method if len(blocks) == 1 else f"dm:{method}"
    # Exact integer grids and float solves are both exact: no scaling record is needed
    # unless an integer block was rounded (never, as inexact blocks go to floats).
    record = Scaling.combine(scalings) if scalings else None
    return Solved(np.concatenate(rows_out), np.concatenate(cols_out), method, record)


def _cut_short(mate: np.ndarray) -> Solved:
    """The fallback when the wall clock stops the assignment solve: a maximum matching.

    Hopcroft–Karp's matching (computed before the solve) already has the
    most pairs, the first objective; its total is not optimised.
    """
    rows = np.flatnonzero(mate >= 0)
    logger.info("assignment solve stopped at the time limit: keeping a maximum matching")
    return Solved(rows, mate[rows], "max-matching (time limit)", stopped_by_time_limit=True)


def bottleneck(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    s: np.ndarray,
    target: int,
    count: Callable[[np.ndarray, np.ndarray], int],
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


def matching_threshold(
    n: int, m: int, r: np.ndarray, c: np.ndarray, s: np.ndarray
) -> float | None:
    """Largest score threshold keeping the maximum matching size on arcs; None when it is 0."""
    target = int(np.sum(max_matching(n, m, r, c) >= 0))
    if target == 0:
        return None
    return bottleneck(
        n, m, r, c, s, target, lambda rr, cc: int(np.sum(max_matching(n, m, rr, cc) >= 0))
    )


def fair_threshold(problem: ScoreProblem) -> float | None:
    """``objective="fair"``: the bottleneck threshold of a one-to-one problem."""
    n, m = problem.shape
    r, c, s = problem.arcs()
    return matching_threshold(n, m, r, c, s)


def _thin_mask_arcs(
    dense: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The allowed arcs ``(rows, cols, scores)`` when the sparse path suits the mask.

    That is when the mask keeps at most :data:`_SPARSE_SHARE` of the pairs and
    the scores lie on no small lattice (see :func:`solve_dense`), in a matrix
    above :data:`_SMALL_DENSE` cells (below, SciPy's dense solver is quicker
    than the sparse set-up); None otherwise. Reading the arcs straight from the
    mask skips the masked dense copy.
    """
    n, m = dense.shape
    if n * m <= _SMALL_DENSE or np.count_nonzero(mask) > _SPARSE_SHARE * n * m:
        return None
    flat = np.flatnonzero(mask)
    values = dense.reshape(-1)[flat]
    if flat.size == 0 or _few_levels(values):
        return None
    r, c = np.divmod(flat, m)
    return r, c, values


def solve_problem(
    problem: ScoreProblem, weights: np.ndarray | None, threshold: float | None, seed: int
) -> Solved:
    """Most pairs, then the best weighted total, using only scores >= ``threshold``."""
    n, m = problem.shape
    if problem.is_sparse:
        r, c, s = problem.arcs()
        if threshold is not None:
            keep = s >= threshold
            r, c, s = r[keep], c[keep], s[keep]
        values = s * weights[c] if weights is not None else s
        return solve_sparse(n, m, r, c, values)
    assert problem.dense is not None
    if problem.mask is not None and threshold is None:
        arcs = _thin_mask_arcs(problem.dense, problem.mask)
        if arcs is not None:
            r, c, s = arcs
            return solve_sparse(n, m, r, c, s * weights[c] if weights is not None else s)
    T = problem.dense
    if weights is not None:
        T = T * weights[None, :]
    forbid = None if problem.mask is None else ~problem.mask
    if threshold is not None:
        low = problem.dense < threshold
        forbid = low if forbid is None else (forbid | low)
    if forbid is not None and forbid.any():
        return solve_dense(np.where(forbid, -np.inf, T), seed)
    # Validated scores are finite wherever a pair is allowed: here, everywhere.
    return solve_dense(T, seed, all_finite=True)


def _pair_scores(problem: ScoreProblem, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The input scores of the chosen pairs."""
    if problem.dense is not None:
        return problem.dense[rows, cols].astype(np.float64)
    # Candidate arcs are sorted by (row, col): look the pairs up by key.
    m = problem.shape[1]
    assert problem.arc_rows is not None and problem.arc_cols is not None
    assert problem.arc_scores is not None
    keys = problem.arc_rows * m + problem.arc_cols
    return problem.arc_scores[np.searchsorted(keys, rows * m + cols)]


def finish(
    problem: ScoreProblem,
    solved: Solved,
    *,
    weights: np.ndarray | None,
    started: float,
    seed: int,
    options: dict[str, Any],
    status: Status = "optimal",
    bound: float | None = None,
    sort_by: str = "col",
) -> MatchingResult:
    """The :class:`MatchingResult` of the pairs ``solved``, objective recomputed from the input.

    ``bound`` is used only when ``status`` is not optimal (an optimal result is
    its own bound); ``solved.scaling`` records the integer grid, if any. A
    result is ``"optimal"`` only when it is optimal for the scores given: when
    the grid rounded the scores (``tolerance > 0``) an ``"optimal"`` status
    becomes ``"feasible"`` with ``bound = objective + tolerance``.
    """
    rows = np.asarray(solved.rows, dtype=np.int64)
    cols = np.asarray(solved.cols, dtype=np.int64)
    scaling = solved.scaling
    tolerance = 0.0 if scaling is None else scaling.tolerance(rows.size)
    order = np.lexsort((rows, cols)) if sort_by == "col" else np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    raw = _pair_scores(problem, rows, cols)
    values = raw * weights[cols] if weights is not None else raw
    objective = float(np.sum(values, dtype=np.float64))
    if solved.stopped_by_time_limit:
        status, bound = "feasible", None
    elif tolerance > 0 and status == "optimal":
        # Optimal on a rounded grid only: claim no more than the rounding allows.
        status, bound = "feasible", objective + tolerance
    return MatchingResult(
        rows=rows,
        cols=cols,
        objective=objective,
        status=status,
        bound=objective if status == "optimal" else bound,
        wall_time=time.perf_counter() - started,
        method=solved.method,
        seed=seed,
        options=dict(options),
        min_score=float(raw.min()) if raw.size else None,
        scale=None if scaling is None else float(scaling.scale),
        tolerance=tolerance,
        stopped_by_time_limit=solved.stopped_by_time_limit,
    )
