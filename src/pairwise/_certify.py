"""Optimality over all pairs for a solve on the k best candidates per mentee.

A top-k :class:`~pairwise.compatibility.Compatibility` keeps only the ``k``
best allowed mentors of each mentee, so a solve on it is optimal over those
candidates only. :func:`certified_solve` solves, computes LP duals of the
matching on the kept candidates (:mod:`pairwise.solvers._duals`) and re-scores
every pair with the model, one block of mentees at a time (never the dense
n × m matrix), looking for a *dropped* pair with a positive reduced value:

* none: the duals stay feasible for the problem on every pair, so the
  matching is optimal over all pairs (``certified=True``);
* some: they join the candidates and the solve repeats, up to ``rounds``
  times; if violators remain (or the check cannot run: ``objective="fair"``,
  ``min_load``, a rounded or time-cut solve), the result says honestly that
  it is optimal over the k best candidates per mentee (``certified=False``).

The objective checked is the one the solver optimises: the number of matched
mentees first, then their priority, then the total score.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .compatibility import Compatibility
from .solvers import _ortools
from .solvers._duals import Duals, matching_duals, priority_levels
from .solvers._result import MatchingResult

__all__ = ["CERTIFY_ROUNDS", "certified_solve", "dropped_bound", "dropped_violators"]

#: Re-solves with the violating dropped pairs added before giving up on a certificate.
CERTIFY_ROUNDS = 3
#: Violating dropped pairs added per mentee and round (the most violating first).
_ADD_PER_MENTEE = 8
#: Below any score: "every pair of this mentee violates" in a threshold sum.
_HUGE = 1e300


def _kept_arcs(
    compat: Compatibility, capacity: np.ndarray, excluded: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate arcs the solver saw: kept pairs of open mentors and solver mentees."""
    coo = compat._csr.tocoo()
    keep = capacity[coo.row] > 0
    if excluded.size:
        keep &= ~np.isin(coo.col, excluded)
    return (
        coo.row[keep].astype(np.int64),
        coo.col[keep].astype(np.int64),
        coo.data[keep].astype(np.float64),
    )


def _thresholds(
    duals: Duals, capacity: np.ndarray, level: np.ndarray, excluded: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per mentor ``a`` and per mentee ``b``: a pair violates iff its score exceeds ``a_i + b_j``.

    Possible when the primary duals ``u1`` of the open mentors are all equal
    (the usual case: then the primary part of a reduced value depends on the
    mentee only); None otherwise. Closed mentors and excluded mentees get
    ``+inf`` (never a violator); a mentee whose primary part is positive gets
    ``-1e300`` (every allowed pair of an open mentor violates).
    """
    open_mentor = capacity > 0
    if not open_mentor.any():
        a = np.full(capacity.size, np.inf)
        return a, np.zeros(level.size)
    u1 = duals.u1[open_mentor]
    if u1.min() != u1.max():
        return None
    red1 = level - duals.v1 - int(u1[0])
    # -_HUGE (not -inf): a closed mentor's +inf must win, never meet -inf in a sum
    b = np.where(red1 > 0, -_HUGE, np.where(red1 < 0, np.inf, duals.v2 + duals.tol))
    b[excluded] = np.inf
    a = np.where(open_mentor, duals.u2, np.inf)
    return a, b


def _block_violations(
    cols: np.ndarray,
    scores: np.ndarray,
    allowed: np.ndarray,
    duals: Duals,
    level: np.ndarray,
    limits: tuple[np.ndarray, np.ndarray] | None,
    closed: np.ndarray,
    suspect: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Violating allowed pairs of one block: (local mentee, mentor, rank of the violation).

    Only the ``suspect`` mentees are tested (the others cannot have one).
    """
    local = np.flatnonzero(suspect[cols])
    j = cols[local]
    s, ok = scores[local], allowed[local]
    if limits is not None:
        a, b = limits
        bad = np.greater(s, np.add.outer(b[j], a))
        bad &= ok
        jj, ii = np.nonzero(bad)
        red1 = np.zeros(jj.size, dtype=np.int64)
    else:  # primary duals differ between mentors: the full lexicographic test
        red1m = (level[j] - duals.v1[j])[:, None] - duals.u1[None, :]
        red2m = s - duals.u2[None, :]
        red2m -= duals.v2[j][:, None]
        bad = ok & ((red1m > 0) | ((red1m == 0) & (red2m > duals.tol)))
        bad[:, closed] = False
        jj, ii = np.nonzero(bad)
        red1 = red1m[jj, ii]
    red2 = s[jj, ii] - duals.u2[ii] - duals.v2[j[jj]]
    jj = local[jj]
    # rank: positive primary part first (as +inf), then the secondary part
    return jj, ii, np.where(red1 > 0, np.inf, red2)


def dropped_violators(
    compat: Compatibility,
    duals: Duals,
    capacity: np.ndarray,
    level: np.ndarray,
    excluded: np.ndarray,
    *,
    cut: np.ndarray | None = None,
    per_mentee: int = _ADD_PER_MENTEE,
    deadline: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Dropped pairs with a positive reduced value, found block by block.

    Every allowed pair of an open mentor and a mentee the solver saw is
    re-scored (:meth:`Compatibility.column_blocks`); those not kept whose
    reduced value ``w - u_i - v_j`` is positive (lexicographically: count and
    priority, then score beyond ``duals.tol``) are violators. At most
    ``per_mentee`` per mentee are returned (the most violating).

    ``cut`` bounds the score of every dropped pair per mentee (-inf: none
    dropped; :func:`dropped_bound`): mentees whose bound cannot beat their
    dual threshold are not tested, and blocks without such a mentee are not
    scored at all.

    Returns
    -------
    (rows, cols, scores, n_violators) or None
        None when ``deadline`` (a ``time.perf_counter()``) passed first.
    """
    n_m, n_e = compat.shape
    csc = compat._csc  # kept pairs, sorted by mentee then mentor: keys ascending
    kept = csc.indices.astype(np.int64) + n_m * np.repeat(
        np.arange(n_e, dtype=np.int64), np.diff(csc.indptr)
    )
    if csc.has_sorted_indices is False:
        kept.sort()
    skip = np.zeros(n_e, dtype=bool)
    skip[excluded] = True
    closed = capacity <= 0
    limits = _thresholds(duals, capacity, level, excluded)
    suspect = ~skip
    if cut is not None:
        suspect &= cut > -np.inf
        if limits is not None:
            a, b = limits
            suspect &= cut > np.min(a) + b
    out_r: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    out_s: list[np.ndarray] = []
    total = 0
    for cols, scores, allowed in compat.column_blocks(suspect):
        if _ortools.past(deadline):
            return None
        jj, ii, rank = _block_violations(
            cols, scores, allowed, duals, level, limits, closed, suspect
        )
        mentee = cols[jj].astype(np.int64)
        key = ii.astype(np.int64) + n_m * mentee
        pos = np.searchsorted(kept, key)
        dropped = (pos >= kept.size) | (kept[np.minimum(pos, kept.size - 1)] != key)
        jj, ii, rank, mentee = jj[dropped], ii[dropped], rank[dropped], mentee[dropped]
        if jj.size == 0:
            continue
        total += int(jj.size)
        # most violating first per mentee; equal ones rotate from mentee to mentee,
        # so that ties spread over the mentors
        spread = (ii - mentee * per_mentee) % max(n_m, 1)
        order = np.lexsort((spread, -rank, jj))
        jj, ii, mentee = jj[order], ii[order], mentee[order]
        first = np.searchsorted(jj, jj, side="left")
        top = (np.arange(jj.size) - first) < per_mentee
        jj, ii, mentee = jj[top], ii[top], mentee[top]
        out_r.append(ii.astype(np.int64))
        out_c.append(mentee)
        out_s.append(scores[jj, ii].copy())
    if not out_r:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), 0
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_s), total


def dropped_bound(compat: Compatibility) -> np.ndarray | None:
    """Per mentee, a bound on the score of every pair a top-k form dropped (-inf: none).

    A mentee keeping ``top_k`` candidates dropped only pairs scoring at most
    its lowest kept score; one keeping fewer kept every allowed pair. None
    when the form does not say its ``top_k``.
    """
    if compat.top_k is None:
        return None
    csc = compat._csc
    counts = np.diff(csc.indptr)
    cut = np.full(compat.shape[1], -np.inf)
    full = np.flatnonzero(counts >= compat.top_k)
    if full.size:
        cut[full] = np.minimum.reduceat(csc.data, csc.indptr[full])[: full.size]
    return cut


def _with_pairs(
    compat: Compatibility, rows: np.ndarray, cols: np.ndarray, scores: np.ndarray
) -> Compatibility:
    """The compatibility with more candidate pairs (never kept before) stored."""
    coo = compat._csr.tocoo()
    data = np.concatenate([coo.data, scores])
    r = np.concatenate([coo.row.astype(np.int64), rows])
    c = np.concatenate([coo.col.astype(np.int64), cols])
    # coo -> csr keeps explicit zeros (a candidate scoring 0 stays a candidate)
    csr = sp.coo_matrix((data, (r, c)), shape=compat.shape).tocsr()
    return dataclasses.replace(compat, scores=csr)


def _why_unchecked(solved: MatchingResult, objective: str, min_load: Any) -> str | None:
    """Why no certificate can be attempted for this solve (None: it can)."""
    if solved.stopped_by_time_limit:
        return "the solve was stopped at the time limit"
    if solved.status != "optimal":
        return "the solve is not exact on the kept candidates (scores rounded)"
    if objective != "total":
        return f'the certificate covers objective "total" only (objective is "{objective}")'
    if np.any(np.asarray(min_load) > 0):
        return "the certificate does not cover min_load"
    return None


def certified_solve(
    compat: Compatibility,
    solve: Callable[[Compatibility], MatchingResult],
    *,
    capacity: np.ndarray,
    priority: np.ndarray | None = None,
    fixed_rows: np.ndarray | None = None,
    fixed_cols: np.ndarray | None = None,
    objective: str = "total",
    min_load: Any = 0,
    rounds: int = CERTIFY_ROUNDS,
) -> tuple[MatchingResult, Compatibility]:
    """Solve, then prove the result optimal over all pairs or say it holds over the k best.

    Parameters
    ----------
    compat : Compatibility
        Dense (solved once, nothing to certify) or top-k (sparse).
    solve : callable
        Solves a compatibility (the same problem each time, more candidates).
    capacity : ndarray of int
        Mentees per mentor, required pairs included.
    priority : ndarray, optional
        Priority per mentee, as the solver gets it.
    fixed_rows, fixed_cols : ndarray of int, optional
        Required pairs formed before the solve (their mentees are not solved).
    objective : str
    min_load : int or ndarray
    rounds : int
        Re-solves with violating dropped pairs added, at most.

    Returns
    -------
    (MatchingResult, Compatibility)
        The result with ``certified`` and ``optimal_over`` set and
        ``options["certificate"]`` (``top_k``, ``rounds``, ``added_pairs``,
        ``violators``, ``seconds``, and ``reason`` when not certified); the
        compatibility the last solve saw (the kept candidates plus every pair
        added).

    Examples
    --------
    >>> import pairwise as pw
    >>> frames = pw.datasets.demo_rosters()
    >>> m, e = pw.load_roster(frames["mentors"]), pw.load_roster(frames["mentees"])
    >>> compat = pw.CompatibilityModel().score(m, e, top_k=5)
    >>> cap = np.ones(len(m), dtype=np.int64)
    >>> res, _ = certified_solve(compat, lambda c: pw.solvers.one_to_one(c.scores), capacity=cap)
    >>> res.certified, res.optimal_over
    (True, 'all pairs')
    """
    started = time.perf_counter()
    solved = solve(compat)
    if not compat.is_sparse:
        return dataclasses.replace(solved, certified=None, optimal_over="all pairs"), compat
    fr = np.zeros(0, np.int64) if fixed_rows is None else np.asarray(fixed_rows, np.int64)
    fc = np.zeros(0, np.int64) if fixed_cols is None else np.asarray(fixed_cols, np.int64)
    free_cap = np.asarray(capacity, np.int64) - np.bincount(fr, minlength=len(capacity))
    level = priority_levels(priority, compat.shape[1])
    info: dict[str, Any] = {"top_k": compat.top_k, "rounds": 0, "added_pairs": 0}
    solve_time = solved.wall_time
    reason = _why_unchecked(solved, objective, min_load)
    certified = False
    deadline = _ortools.earliest(None)
    cut = dropped_bound(compat)  # of the pairs dropped by the original top-k form
    while reason is None:
        arcs = _kept_arcs(compat, free_cap, fc)
        duals = matching_duals(compat.shape, arcs, (solved.rows, solved.cols), free_cap, level)
        if not duals.feasible:
            reason = "the LP duals on the kept candidates did not converge"
            break
        found = dropped_violators(compat, duals, free_cap, level, fc, cut=cut, deadline=deadline)
        if found is None:
            reason = "the time limit came before every dropped pair was checked"
            break
        rows, cols, scores, n_bad = found
        info["violators"] = n_bad
        if n_bad == 0:
            certified = True
            break
        if info["rounds"] >= rounds:
            reason = (
                f"{n_bad} dropped pair(s) could still improve it after {rounds} round(s) of "
                "adding them; a larger top_k may certify it"
            )
            break
        wider = _with_pairs(compat, rows, cols, scores)
        info["rounds"] += 1
        info["added_pairs"] += int(rows.size)
        again = solve(wider)
        solve_time += again.wall_time
        if again.stopped_by_time_limit or again.status != "optimal":
            # keep the exact answer on the previous candidates, not a cut or rounded one
            reason = "the solve with the added pairs " + (
                "was stopped at the time limit"
                if again.stopped_by_time_limit
                else "is not exact (scores rounded)"
            )
            break
        compat, solved = wider, again
        reason = _why_unchecked(solved, objective, min_load)
    info["seconds"] = time.perf_counter() - started - solve_time
    if reason is not None:
        info["reason"] = reason
    options = {**solved.options, "certificate": info}
    result = dataclasses.replace(
        solved,
        certified=certified,
        optimal_over="all pairs" if certified else "k best candidates per mentee",
        options=options,
        wall_time=solve_time,
    )
    return result, compat
