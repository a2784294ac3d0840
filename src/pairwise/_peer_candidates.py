"""A peer pool's candidate pairs without the dense ``n x n`` matrix.

Above :data:`PEERS_DENSE_PAIRS` pairs a peer pool is scored in the top-k form
(each person keeps the :data:`PEER_TOP_K` best allowed partners, a CSR matrix
built block by block). :func:`peer_matrices` turns that into the symmetric
candidate list the solver takes: a pair ``{i, j}`` is a candidate when either
person kept the other and the rules allow it both ways; its score is the mean
of both directions, exactly as the dense form's ``(S + S.T) / 2``. A
direction nobody kept is re-scored pair by pair (blocks of a few rows times
the columns they need), so memory stays ``O(k * n)``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from pairwise._lifecycle import (
    PEER_COLUMNS,
    PairsSource,
    _positions,
    keep_bonus_scores,
    read_pairs,
)
from pairwise._terms import TableMask
from pairwise._topk import _Columns, _Plan, _top_k_block
from pairwise.errors import InputError
from pairwise.solvers._ortools import DeadlineExceeded, past
from pairwise.solvers._peers_sparse import cover_mate, dual_bound_csr

if TYPE_CHECKING:
    from pairwise.compatibility import Compatibility
    from pairwise.roster import Roster
    from pairwise.solvers._result import MatchingResult

__all__ = [
    "PEERS_DENSE_PAIRS",
    "PEER_TOP_K",
    "keep_bonus",
    "late_bound",
    "pair_values",
    "peer_matrices",
    "peer_top_k",
    "previous_positions",
]

#: Memory budget of the dense form, in pairs: a pool of ``n`` people is scored
#: densely while ``n * n`` stays at or below it (25M pairs: about 1 GB for the
#: model's matrices, their symmetric copies and the solver's), else sparsely.
PEERS_DENSE_PAIRS = 25_000_000

#: Partners each person keeps in the sparse form (before symmetrisation, which
#: only adds pairs: a pair is kept when either side kept the other).
PEER_TOP_K = 50

#: Most pairs scored among the people the top-k lists leave out (:func:`_with_deficient`).
_DEFICIENT_CELLS = 50_000_000

#: Share of the time left before the solve's deadline the left-out people's scoring may use.
_DEFICIENT_SHARE = 0.25

#: Cells (rows x columns) scored at once when re-scoring single pairs.
_PAIR_BLOCK_CELLS = 1 << 19


def peer_top_k(n: int) -> int | None:
    """The ``top_k`` a pool of ``n`` people is scored with: None (dense) within the budget.

    >>> peer_top_k(1_000), peer_top_k(50_000)
    (None, 50)
    """
    return None if n * n <= PEERS_DENSE_PAIRS else PEER_TOP_K


def pair_values(plan: _Plan, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and allowed flags of the pairs ``(rows[k], cols[k])`` with a model's plan.

    The same single-precision arithmetic as the blocks of the dense and top-k
    forms (a score here is what those forms hold, up to the last float32 bit
    of a matrix product). Pairs are taken in row order, by blocks of rows times
    the columns those rows need, about :data:`_PAIR_BLOCK_CELLS` cells each.
    """
    r = np.asarray(rows, dtype=np.intp)
    c = np.asarray(cols, dtype=np.intp)
    scores = np.zeros(r.size, dtype=np.float64)
    allowed = np.zeros(r.size, dtype=bool)
    if r.size == 0:
        return scores, allowed
    order = np.argsort(r, kind="stable")
    starts = np.flatnonzero(np.r_[True, r[order][1:] != r[order][:-1]])
    bounds = np.r_[starts, r.size]
    per_row = np.diff(bounds)
    at = 0
    while at < starts.size:
        # rows at..stop-1: about _PAIR_BLOCK_CELLS cells, at least one row
        wanted = np.cumsum(per_row[at:]) * np.arange(1, starts.size - at + 1)
        stop = at + max(1, int(np.searchsorted(wanted, _PAIR_BLOCK_CELLS, side="right")))
        picked = order[bounds[at] : bounds[stop]]
        block_rows, local_r = np.unique(r[picked], return_inverse=True)
        block_cols, local_c = np.unique(c[picked], return_inverse=True)
        work, ok = _block_values(plan, block_rows, _Columns(plan, block_cols))
        scores[picked] = work[local_r, local_c]
        allowed[picked] = ok[local_r, local_c]
        at = stop
    return scores, allowed


def _block_values(plan: _Plan, rows: np.ndarray, cols: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """Scores (float32) and allowed flags of ``rows x cols.index``, every rule applied."""
    work = np.empty((rows.size, cols.index.size), dtype=np.float32)
    ok = np.empty(work.shape, dtype=bool)
    plan.block(rows, work, ok, work, cols)
    # the column-restricted block leaves the rule tables out: apply them here
    if plan.va is not None and plan.vb is not None:
        ok &= np.matmul(plan.va[rows], plan.vb[cols.index].T) < 0.5
    for mterm in plan.masks:
        if isinstance(mterm, TableMask):
            mterm.apply(ok, rows, cols.index)
    return work, ok


def _symmetric_csr(n: int, u: np.ndarray, v: np.ndarray, s: np.ndarray) -> sp.csr_array:
    """Both ``(u, v)`` and ``(v, u)`` of distinct pairs ``u != v``, explicit zeros kept."""
    r = np.concatenate([u, v])
    c = np.concatenate([v, u])
    data = np.concatenate([s, s]).astype(np.float64, copy=False)
    order = np.lexsort((c, r))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    index_type = np.int32 if n < 2**31 else np.int64
    return sp.csr_array((data[order], c[order].astype(index_type), indptr), shape=(n, n))


def peer_matrices(
    compat: Compatibility,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    deadline: float | None = None,
) -> tuple[np.ndarray | sp.csr_array, np.ndarray | sp.csr_array]:
    """A peer pool's ``(scores, allowed)``: symmetric, allowed both ways, no self-pairs.

    Parameters
    ----------
    compat : Compatibility
        The pool scored against itself (:meth:`CompatibilityModel.score` with
        the same roster twice), dense or top-k.
    extra : (rows, cols), optional
        Pairs (positions) to consider as candidates too in the top-k form
        (e.g. last cohort's pairs), kept when the rules allow them both ways.
    deadline : float, optional
        ``time.perf_counter()`` value the solve must end by. The extra
        candidates among people the top-k lists leave out (a quality step)
        take at most :data:`_DEFICIENT_SHARE` of the time left before it, and
        are skipped when it has passed. None: no limit.

    Returns
    -------
    (scores, allowed)
        Dense: :meth:`Compatibility.symmetric` (``n x n`` arrays). Top-k:
        ``scores`` a ``scipy.sparse.csr_array`` whose stored entries are the
        candidate pairs, both ``(i, j)`` and ``(j, i)``, with the mean of both
        directions' scores (explicit zeros kept); ``allowed`` the same
        structure as bool. Nothing of size ``n x n`` is made.

    Raises
    ------
    InputError
        When a top-k compatibility was built by hand (no model to re-score
        the directions nobody kept) or is not square.

    Examples
    --------
    >>> import pairwise as pw
    >>> people = pw.datasets.demo_rosters()["mentees"].head(40)
    >>> model = pw.load_program().peer_model
    >>> roster = pw.load_roster(people, role="person")
    >>> scores, allowed = peer_matrices(model.score(roster, roster, top_k=5))
    >>> bool((abs(scores - scores.T) > 1e-12).nnz == 0), allowed.dtype.name
    (True, 'bool')
    """
    if not compat.is_sparse:
        return compat.symmetric()
    n, m = compat.shape
    if n != m:
        raise InputError(
            f"`compat` must score one pool against itself; got shape ({n}, {m}). Fix: "
            "score the pool with model.score(people, people)."
        )
    ctx = compat._ctx()
    if ctx.plan is None:
        raise InputError(
            "`compat` must come from CompatibilityModel.score to form peer candidates. "
            "Fix: build it with model.score(people, people, top_k=...)."
        )
    coo = sp.coo_array(compat.scores)
    r = np.asarray(coo.row, dtype=np.int64)
    c = np.asarray(coo.col, dtype=np.int64)
    s = np.asarray(coo.data, dtype=np.float64)
    if extra is not None:
        er = np.asarray(extra[0], dtype=np.int64)
        ec = np.asarray(extra[1], dtype=np.int64)
        r, c = np.concatenate([r, er, ec]), np.concatenate([c, ec, er])
        s = np.concatenate([s, np.full(2 * er.size, np.nan)])  # nan: score it below
    u, v, mean = _symmetrise(ctx.plan, n, r, c, s)
    u, v, mean = _with_deficient(ctx.plan, n, u, v, mean, _share(deadline, _DEFICIENT_SHARE))
    scores = _symmetric_csr(n, u, v, mean)
    allowed_csr = sp.csr_array(
        (np.ones(scores.nnz, dtype=bool), scores.indices, scores.indptr), shape=(n, n)
    )
    return scores, allowed_csr


def _symmetrise(
    plan: _Plan, n: int, r: np.ndarray, c: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``u < v`` of the directed entries ``(r, c, s)`` allowed both ways, mean scores.

    A stored direction is allowed; a direction not given (or given with a NaN
    score) is scored and checked with ``plan``.
    """
    off = r != c
    r, c, s = r[off], c[off], s[off]
    lo, hi = np.minimum(r, c), np.maximum(r, c)
    key, where = np.unique(lo * n + hi, return_inverse=True)
    u, v = key // n, key % n
    # up = S[u, v] (u as the row), down = S[v, u]; NaN until known
    up = np.full(key.size, np.nan)
    down = np.full(key.size, np.nan)
    fwd = ~np.isnan(s) & (r < c)
    back = ~np.isnan(s) & (r > c)
    up[where[fwd]] = s[fwd]
    down[where[back]] = s[back]
    ok = np.ones(key.size, dtype=bool)
    for values, a, b in ((up, u, v), (down, v, u)):
        todo = np.flatnonzero(np.isnan(values))
        found, allowed = pair_values(plan, a[todo], b[todo])
        values[todo] = found
        ok[todo] &= allowed
    return u[ok], v[ok], (up[ok] + down[ok]) / 2.0


def _share(deadline: float | None, share: float) -> float | None:
    """The point ``share`` of the way from now to ``deadline`` (None: no deadline)."""
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + share * max(deadline - now, 0.0)


def _with_deficient(
    plan: _Plan,
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    mean: np.ndarray,
    deadline: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidates plus every allowed pair among people a top-k list leaves out.

    Top-k lists crowd onto popular people: someone whose kept partners are
    all wanted by many may have no partner in any matching of the kept
    pairs, although the rules allow pairs with other such people. Those
    people (unmatched in a maximum matching of the kept pairs' bipartite
    double cover) also keep their :data:`PEER_TOP_K` best allowed partners
    among themselves (scored by blocks, up to :data:`_DEFICIENT_CELLS` pairs).
    The matching is a maximum flow (SciPy's Hopcroft–Karp took 29 s on the
    4 million arcs of 50,000 people, the flow 2.5 s); scoring stops at
    ``deadline`` (the blocks scored so far are kept), and the step is skipped
    when the matching does not end before it.
    """
    try:
        match = cover_mate(n, u, v, deadline)
    except DeadlineExceeded:
        return u, v, mean
    left = np.flatnonzero(match < 0).astype(np.int64)
    if left.size < 2 or left.size * left.size > _DEFICIENT_CELLS:
        return u, v, mean
    # each left-out person's best PEER_TOP_K allowed partners among the left-out
    cols = _Columns(plan, left)
    step = max(1, _PAIR_BLOCK_CELLS // left.size)
    parts_r, parts_c, parts_s = [], [], []
    for at in range(0, left.size, step):
        if past(deadline):
            break
        rows = left[at : at + step]
        work, ok = _block_values(plan, rows, cols)
        ok[np.arange(rows.size), np.arange(at, at + rows.size)] = False  # not oneself
        local, col, val = _top_k_block(work, ok, PEER_TOP_K)
        parts_r.append(rows[local])
        parts_c.append(left[col])
        parts_s.append(val.astype(np.float64))
    if not parts_r:
        return u, v, mean
    r, c = np.concatenate(parts_r), np.concatenate(parts_c)
    s = np.concatenate(parts_s)
    new = ~np.isin(np.minimum(r, c) * n + np.maximum(r, c), u * n + v)
    nu, nv, nmean = _symmetrise(plan, n, r[new], c[new], s[new])
    key = np.concatenate([u * n + v, nu * n + nv])
    order = np.argsort(key, kind="stable")
    return (
        np.concatenate([u, nu])[order],
        np.concatenate([v, nv])[order],
        np.concatenate([mean, nmean])[order],
    )


#: Tightening rounds of :func:`late_bound` (each one pass over the candidates: about
#: 50 ms at 50,000 people with 50 candidates each).
_LATE_BOUND_ROUNDS = 4


def late_bound(solved: MatchingResult, scores: sp.csr_array) -> MatchingResult:
    """``solved`` with a bound when the clock left it none (sparse candidates only).

    Feasible LP duals over the candidate pairs (half of each person's best
    candidate score, then :data:`_LATE_BOUND_ROUNDS` tightening rounds:
    :func:`pairwise.solvers._peers_sparse.dual_bound_csr`), a few passes over
    ``scores``' stored entries: well within the results' reserve.
    """
    if solved.bound is not None or not sp.issparse(scores):
        return solved
    csr = sp.csr_array(scores)
    bound = dual_bound_csr(csr.indptr, csr.indices, csr.data, None, _LATE_BOUND_ROUNDS)
    options = {**solved.options, "bound_method": "dual"}
    return dataclasses.replace(solved, bound=max(bound, solved.objective), options=options)


def previous_positions(
    compat: Compatibility, people: Roster, previous: PairsSource | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions of last cohort's pairs still in the pool, for :func:`peer_matrices`.

    None when there is no ``previous`` table or the form is dense (every
    allowed pair is a candidate there); the table's own checks run later, in
    :func:`pairwise._lifecycle.plan_peers`.
    """
    if previous is None or not compat.is_sparse:
        return None
    frame = read_pairs(previous, "previous", PEER_COLUMNS)
    a = _positions(people, frame["person_a"])
    b = _positions(people, frame["person_b"])
    both = (a >= 0) & (b >= 0) & (a != b)
    return a[both], b[both]


def keep_bonus(
    scores: np.ndarray | sp.csr_array,
    allowed: np.ndarray | sp.csr_array,
    rows: np.ndarray,
    cols: np.ndarray,
) -> tuple[np.ndarray | sp.csr_array, float]:
    """:func:`pairwise._lifecycle.keep_bonus_scores` for either form of :func:`peer_matrices`.

    In the sparse form the pairs ``(rows[k], cols[k])`` must be candidates
    (pass them as ``extra`` to :func:`peer_matrices`); the bonus is the same
    (``n // 2`` times the spread of the candidates' scores, plus 1).

    >>> import numpy as np, scipy.sparse as sp
    >>> S = sp.csr_array(np.array([[0, 0.5, 0.25], [0.5, 0, 0], [0.25, 0, 0]]))
    >>> out, bonus = keep_bonus(S, S.astype(bool), np.array([0]), np.array([2]))
    >>> bonus, float(out[0, 2]), float(out[2, 0]), float(out[0, 1])
    (1.25, 1.5, 1.5, 0.5)
    """
    if not sp.issparse(scores):
        return keep_bonus_scores(np.asarray(scores), np.asarray(allowed), rows, cols)
    data = np.asarray(scores.data)
    spread = float(data.max() - data.min()) if data.size else 0.0
    bonus = (scores.shape[0] // 2) * spread + 1.0
    out = sp.csr_array(scores, copy=True)
    indptr, indices = out.indptr, out.indices
    for a, b in ((rows, cols), (cols, rows)):
        for i, j in zip(np.asarray(a).tolist(), np.asarray(b).tolist(), strict=True):
            lo, hi = int(indptr[i]), int(indptr[i + 1])
            k = lo + int(np.searchsorted(indices[lo:hi], j))
            if k < hi and indices[k] == j:
                out.data[k] += bonus
    return out, bonus
