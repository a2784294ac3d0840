"""Optimality over all pairs for a solve on the k best candidates per mentee.

A top-k :class:`~pairwise.compatibility.Compatibility` keeps only the ``k``
best allowed mentors of each mentee, so a solve on it is optimal over those
candidates only. :func:`certified_solve` solves, computes LP duals of the
matching on the kept candidates (:mod:`pairwise.solvers._duals`) and re-scores
the pairs the rules allow with the model, one block of mentees at a time on
the scoring threads (never the dense n × m matrix), looking for a *dropped*
pair with a positive reduced value:

* none: the duals stay feasible for the problem on every pair, so the
  matching is optimal over all pairs (``certified=True``);
* some: the most violating of them (each mentee's and each mentor's best,
  with nearly violating pairs after them, a bounded number per round) join
  the candidates and the solve repeats, up to ``rounds`` times, unless the
  time limit would cut the re-solve; if violators remain (or the check
  cannot run: ``objective="fair"``, ``min_load``, a rounded or time-cut
  solve), the result says honestly that it is optimal over the k best
  candidates per mentee (``certified=False``).

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

__all__ = [
    "ADD_PER_MENTEE",
    "ADD_PER_PLACE",
    "ADD_SLACK",
    "CERTIFY_ROUNDS",
    "MIN_ROUND_PAIRS",
    "ROUND_PAIRS_PER_PLACE",
    "certified_solve",
    "dropped_bound",
    "dropped_violators",
    "round_pairs",
]

#: Re-solves with the violating dropped pairs added before giving up on a certificate.
CERTIFY_ROUNDS = 3
#: Violating dropped pairs added per mentee and round (the most violating first).
ADD_PER_MENTEE = 4
#: Per mentor and round, its most violating dropped pairs up to this many per free place.
ADD_PER_PLACE = 2.0
#: Dropped pairs within this much of violating (in score units) may be added too: the duals
#: move when the solve repeats, and these are the pairs that then violate.
ADD_SLACK = 0.02
#: Most dropped pairs one round adds, per free place of the open mentors ...
ROUND_PAIRS_PER_PLACE = 4
#: ... and at least this many.
MIN_ROUND_PAIRS = 1000
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


class _Check:
    """The reduced-value test of one block of re-scored pairs (run on the scoring threads).

    With ``limits`` (:func:`_thresholds`) a pair violates iff ``s > b_j + a_i``
    in float64, as the dense check would say. The block's scores are float32
    (summed in float32 by the model), so the block is first filtered in its
    own precision with a safety ``margin`` that no rounding can cross; only
    the pairs passing are tested exactly. Without limits (primary duals
    differ between mentors: priority tiers) :meth:`_lexicographic` adds the
    integer primary parts to the same filter.
    """

    def __init__(
        self,
        duals: Duals,
        level: np.ndarray,
        limits: tuple[np.ndarray, np.ndarray] | None,
        closed: np.ndarray,
        suspect: np.ndarray,
        kept: np.ndarray,
        n_m: int,
        slack: float,
    ) -> None:
        self.duals, self.level, self.limits, self.closed = duals, level, limits, closed
        self.suspect, self.kept, self.n_m, self.slack = suspect, kept, n_m, slack
        if limits is None:  # per pair: the primary and the secondary part
            a = np.where(closed, np.inf, duals.u2)
            b = duals.v2 + duals.tol
            # closed mentors above every primary value: never a violator
            self.u1 = np.where(closed, np.iinfo(np.int64).max, duals.u1)
            self.reach = level - duals.v1
        else:
            a, b = limits
        fa, fb = a[np.isfinite(a)], b[np.isfinite(b) & (b > -_HUGE)]
        scale = 1.0 + float(np.abs(fa).max(initial=0.0)) + float(np.abs(fb).max(initial=0.0))
        self.margin = 2.0**-20 * scale
        self.a32 = a.astype(np.float32)  # +inf stays +inf: closed mentors never pass

    def violators(
        self, mentees: np.ndarray, mentors: np.ndarray, w: np.ndarray, ok: np.ndarray
    ) -> tuple[_Found, int]:
        """Dropped pairs of a block whose reduced value exceeds ``-slack``, and the violators.

        Returns ``((mentee, mentor, score, rank), n)``: ``rank`` is the
        secondary reduced value (+inf when the primary part is positive), and
        ``n`` counts those with a positive reduced value (the violators).
        """
        rows = np.flatnonzero(self.suspect[mentees])
        if rows.size == 0:
            return _NONE, 0
        j = mentees[rows]
        if self.limits is not None:
            a, b = self.limits
            bj = b[j]
            rows, bj, j = rows[bj < np.inf], bj[bj < np.inf], j[bj < np.inf]
            if rows.size == 0:
                return _NONE, 0
            sub = w if rows.size == w.shape[0] else w[rows]
            diff = np.subtract(sub, self.a32[mentors])
            # a mentee whose primary part is positive: every allowed pair passes
            low = np.where(bj == -_HUGE, -np.inf, bj - self.slack - self.margin).astype(w.dtype)
            cand = np.greater(diff, low[:, None], out=np.empty(diff.shape, dtype=bool))
            cand &= ok if rows.size == w.shape[0] else ok[rows]
            jj, kk = np.nonzero(cand)
            ii = mentors[kk]
            s = w[rows[jj], kk].astype(np.float64)
            limit = bj[jj] + a[ii]
            near = np.greater(s, limit - self.slack) if self.slack else np.greater(s, limit)
            jj, ii, s, limit = jj[near], ii[near], s[near], limit[near]
            bad = np.greater(s, limit)
            primary = bj[jj] == -_HUGE
        else:
            jj, ii, s, primary, bad = self._lexicographic(rows, j, mentors, w, ok)
        mentee = j[jj].astype(np.int64)
        ii = ii.astype(np.int64)
        key = ii + self.n_m * mentee
        pos = np.searchsorted(self.kept, key)
        dropped = (pos >= self.kept.size) | (self.kept[np.minimum(pos, self.kept.size - 1)] != key)
        mentee, ii, s, primary = mentee[dropped], ii[dropped], s[dropped], primary[dropped]
        rank = np.where(primary, np.inf, s - self.duals.u2[ii] - self.duals.v2[mentee])
        return (mentee, ii, s, rank), int(np.count_nonzero(bad[dropped]))

    def _lexicographic(
        self, rows: np.ndarray, j: np.ndarray, mentors: np.ndarray, w: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """The test when the primary duals differ between mentors (priority tiers).

        A pair's primary part is ``level_j - v1_j - u1_i`` (integers): positive, every
        allowed pair violates; zero, the secondary part decides (filtered in
        the block's precision first, then exact); negative, none.
        """
        d = self.duals
        reach = self.reach[j]
        u1 = self.u1[mentors]
        sub = w if rows.size == w.shape[0] else w[rows]
        diff = np.subtract(sub, self.a32[mentors])
        low = (d.v2[j] + d.tol - self.slack - self.margin).astype(w.dtype)
        cand = np.greater(diff, low[:, None], out=np.empty(diff.shape, dtype=bool))
        cand &= np.equal(u1[None, :], reach[:, None])
        cand |= np.less(u1[None, :], reach[:, None])
        cand &= ok if rows.size == w.shape[0] else ok[rows]
        jj, kk = np.nonzero(cand)
        ii = mentors[kk]
        s = w[rows[jj], kk].astype(np.float64)
        primary = reach[jj] - self.u1[ii] > 0
        red2 = s - d.u2[ii] - d.v2[j[jj]]
        near = primary | (red2 > d.tol - self.slack)
        bad = primary | (red2 > d.tol)
        return jj[near], ii[near], s[near], primary[near], bad[near]


_Found = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_NONE: _Found = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))


class _Selection:
    """Which violators a round adds, chosen so that the next solve is likely certified.

    Each mentee brings its ``per_mentee`` most violating pairs (it needs a
    mentor it would take); each mentor its most violating ones up to
    ``per_place`` times its free places (the mentees it would take instead:
    pricing per mentor, as column generation does). Ties rotate from one
    mentee (mentor) to the next, so that equal pairs spread. The union is cut
    to the ``max_pairs`` most violating. Mentor picks are streamed: a pair
    below the ``floor`` of its mentor's best so far is dropped at once (on the
    scoring thread; a stale floor only keeps more).
    """

    def __init__(
        self, shape: tuple[int, int], free_cap: np.ndarray, per_mentee: int, per_place: float
    ) -> None:
        self.n_m, self.n_e = shape
        self.per_mentee = per_mentee
        self.quota = np.ceil(per_place * np.maximum(free_cap, 0)).astype(np.int64)
        self.floor = np.where(self.quota > 0, -np.inf, np.inf)
        self.mine: list[_Found] = []
        self.pool: list[_Found] = []
        self.pool_size = 0
        self.total = 0

    def reduce(self, block: tuple[_Found, int]) -> tuple[int, _Found, _Found]:
        """One block's violators -> (count, mentee picks, mentor candidates)."""
        found, n = block
        mentee, mentor, s, rank = found
        if mentee.size == 0:
            return n, found, found
        spread = (mentor - mentee * self.per_mentee) % max(self.n_m, 1)
        order = np.lexsort((spread, -rank, mentee))
        first = np.searchsorted(mentee[order], mentee[order], side="left")
        pick = order[(np.arange(order.size) - first) < self.per_mentee]
        up = np.flatnonzero(rank >= self.floor[mentor])
        return (
            n,
            (mentee[pick], mentor[pick], s[pick], rank[pick]),
            (mentee[up], mentor[up], s[up], rank[up]),
        )

    def add(self, part: tuple[int, _Found, _Found]) -> None:
        """Take one block's :meth:`reduce` (on the main thread)."""
        n, mine, pool = part
        self.total += n
        if mine[0].size:
            self.mine.append(mine)
        if pool[0].size:
            self.pool.append(pool)
            self.pool_size += int(pool[0].size)
            if self.pool_size > 4 * int(self.quota.sum()) + 4096:
                self._prune()

    def _prune(self) -> None:
        mentee, mentor, s, rank = _concat(self.pool)
        spread = (mentee - mentor * self.per_mentee) % max(self.n_e, 1)
        order = np.lexsort((spread, -rank, mentor))
        by_mentor = mentor[order]
        at = np.arange(order.size) - np.searchsorted(by_mentor, by_mentor, side="left")
        keep = order[at < self.quota[by_mentor]]
        last = order[at == self.quota[by_mentor] - 1]  # each full mentor's worst kept
        self.floor[mentor[last]] = rank[last]
        self.pool = [(mentee[keep], mentor[keep], s[keep], rank[keep])]
        self.pool_size = int(keep.size)

    def chosen(self, max_pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs to add: (mentors, mentees, scores), at most ``max_pairs``."""
        if self.pool:
            self._prune()
        parts = self.mine + self.pool
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        mentee, mentor, s, rank = _concat(parts)
        _, unique = np.unique(mentor + self.n_m * mentee, return_index=True)
        mentee, mentor, s, rank = mentee[unique], mentor[unique], s[unique], rank[unique]
        if mentee.size > max_pairs:
            spread = (mentor - mentee * self.per_mentee) % max(self.n_m, 1)
            top = np.lexsort((spread, -rank))[:max_pairs]
            mentee, mentor, s = mentee[top], mentor[top], s[top]
        return mentor, mentee, s


def _concat(parts: list[_Found]) -> _Found:
    mentee, mentor, s, rank = (np.concatenate(x) for x in zip(*parts, strict=True))
    return mentee, mentor, s, rank


def dropped_violators(
    compat: Compatibility,
    duals: Duals,
    capacity: np.ndarray,
    level: np.ndarray,
    excluded: np.ndarray,
    *,
    cut: np.ndarray | None = None,
    per_mentee: int = ADD_PER_MENTEE,
    per_place: float = ADD_PER_PLACE,
    max_pairs: int | None = None,
    slack: float = 0.0,
    deadline: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Dropped pairs with a positive reduced value, found block by block.

    Every allowed pair of an open mentor and a mentee the solver saw is
    re-scored (:meth:`Compatibility.column_blocks`: only the pairs the rule
    tables allow, on the scoring threads); those not kept whose reduced value
    ``w - u_i - v_j`` is positive (lexicographically: count and priority,
    then score beyond ``duals.tol``) are violators. Returned are those a
    round adds (:class:`_Selection`): each mentee's ``per_mentee`` most
    violating, each mentor's most violating up to ``per_place`` times its
    free places, at most ``max_pairs`` in all (default :func:`round_pairs`),
    the most violating first. With ``slack > 0``, dropped pairs whose
    reduced value is above ``-slack`` (nearly violating) may be picked too,
    after the violators: the duals move when the solve repeats, and these are
    the pairs that then violate (``n_violators`` counts the violators only).

    ``cut`` bounds the score of every dropped pair per mentee (-inf: none
    dropped; :func:`dropped_bound`): mentees whose bound cannot beat their
    dual threshold are not tested, and blocks without such a mentee are not
    scored at all.

    Returns
    -------
    (rows, cols, scores, n_violators) or None
        Mentors, mentees and scores of the pairs to add, and how many
        violators there are in all; None when ``deadline`` (a
        ``time.perf_counter()``) passed first.
    """
    n_m, n_e = compat.shape
    csc = compat._csc  # kept pairs, sorted by mentee then mentor: keys ascending
    kept = csc.indices.astype(np.int64) + n_m * np.repeat(
        np.arange(n_e, dtype=np.int64), np.diff(csc.indptr)
    )
    if csc.has_sorted_indices is False:
        kept.sort()
    closed = capacity <= 0
    limits = _thresholds(duals, capacity, level, excluded)
    suspect = np.ones(n_e, dtype=bool)
    suspect[excluded] = False
    if cut is not None:
        suspect &= cut > -np.inf
    if limits is not None:
        suspect &= limits[1] < np.inf
        if cut is not None:
            suspect &= cut > np.min(limits[0]) + limits[1] - slack
    elif not closed.all():
        # a pair can violate only with a mentor whose primary dual is at most L_j
        u1_min = int(duals.u1[~closed].min())
        primary = level - duals.v1 - u1_min  # the largest primary part of each mentee
        suspect &= primary >= 0
        if cut is not None:
            u2_min = float(duals.u2[~closed].min())
            suspect &= (primary > 0) | (cut > u2_min + duals.v2 + duals.tol - slack)
    else:
        suspect[:] = False
    check = _Check(duals, level, limits, closed, suspect, kept, n_m, slack)
    pick = _Selection(compat.shape, np.where(closed, 0, capacity), per_mentee, per_place)
    blocks = compat.column_blocks(suspect, lambda *blk: pick.reduce(check.violators(*blk)))
    try:
        for part in blocks:
            if _ortools.past(deadline):
                return None
            pick.add(part)
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()
    limit = round_pairs(capacity) if max_pairs is None else max_pairs
    rows, cols, scores = pick.chosen(limit)
    return rows, cols, scores, pick.total


def round_pairs(capacity: np.ndarray) -> int:
    """Most dropped pairs one round adds: :data:`ROUND_PAIRS_PER_PLACE` per free place.

    >>> round_pairs(np.array([2, 0, 1]))
    1000
    >>> round_pairs(np.array([1000, 500]))
    6000
    """
    places = int(np.maximum(np.asarray(capacity, dtype=np.int64), 0).sum())
    return max(MIN_ROUND_PAIRS, ROUND_PAIRS_PER_PLACE * places)


def dropped_bound(compat: Compatibility) -> np.ndarray | None:
    """Per mentee, a bound on the score of every pair a top-k form dropped (-inf: none).

    A mentee keeping ``top_k`` candidates dropped only pairs scoring at most
    its ``top_k``-th best kept score (its lowest, unless more candidates were
    kept beside its own best, e.g. a mentor's); one keeping fewer kept every
    allowed pair. None when the form does not say its ``top_k``.
    """
    if compat.top_k is None:
        return None
    k = int(compat.top_k)
    csc = compat._csc
    counts = np.diff(csc.indptr)
    cut = np.full(compat.shape[1], -np.inf)
    full = np.flatnonzero(counts >= max(k, 1))
    if full.size:
        mentee = np.repeat(np.arange(compat.shape[1]), counts)
        best_first = csc.data[np.lexsort((-csc.data, mentee))]
        cut[full] = best_first[csc.indptr[full] + max(k, 1) - 1]
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
    per_mentee: int = ADD_PER_MENTEE,
    per_place: float = ADD_PER_PLACE,
    max_pairs: int | None = None,
    slack: float = ADD_SLACK,
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
    per_mentee, per_place, max_pairs, slack
        Which violators a round adds (:func:`dropped_violators`).

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
        found = dropped_violators(
            compat,
            duals,
            free_cap,
            level,
            fc,
            cut=cut,
            per_mentee=per_mentee,
            per_place=per_place,
            max_pairs=max_pairs,
            slack=slack,
            deadline=deadline,
        )
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
        per_solve = solve_time / (1 + info["rounds"])
        if deadline is not None and time.perf_counter() + per_solve > deadline:
            # a re-solve the time limit would cut: keep the time, say why
            reason = (
                f"{n_bad} dropped pair(s) could still improve it; too little time was left "
                f"to solve again with {rows.size} of them added (a solve takes about "
                f"{per_solve:.0f} s)"
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
