"""Stable mentor–mentee matching: mentee-proposing deferred acceptance with capacities.

A matching is *stable* when no allowed pair ``(mentor i, mentee j)`` outside
it would rather be together: mentee ``j`` is unmatched or prefers ``i`` to its
mentor, and mentor ``i`` has a free place or prefers ``j`` to one of its
mentees. Such a pair is a *blocking pair*. :func:`stable_matching` returns
the mentee-optimal stable matching (Gale and Shapley, 1962; with capacities
this is the hospitals/residents problem); :func:`blocking_pairs` lists the
blocking pairs of any matching.

Preferences. Each side ranks its allowed partners by its ranks where given
(``mentee_ranks``, ``mentor_ranks``: 1 = first choice, lower is better), the
unranked ones after every ranked one, by score (higher is better); equal
ranks and scores go to the lower index (mentor row for a mentee, mentee
column for a mentor). These orders are strict, so the answer is unique and
deterministic. Only allowed pairs (stored entries of a sparse ``scores``) are
acceptable; everyone prefers any acceptable partner to none.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from pairwise.errors import InputError
from pairwise.solvers import _ortools
from pairwise.solvers._result import MatchingResult
from pairwise.solvers._validation import (
    RankTable,
    ScoreProblem,
    check_per_row,
    check_ranks,
    check_scores,
    check_seed,
    check_time_limit,
)

__all__ = ["blocking_pairs", "stable_matching"]

ScoresLike: TypeAlias = npt.ArrayLike | sp.sparray | sp.spmatrix
RanksLike: TypeAlias = npt.ArrayLike | sp.sparray | sp.spmatrix | None

# How many mentees take their turn between two looks at the wall clock.
_CLOCK_EVERY = 2048
# Numpy proposal rounds run while at least this many mentees are free; fewer are
# faster one at a time (a round costs a pass over every mentee).
_ROUND_MIN = 512


@dataclass(frozen=True)
class _Preferences:
    """Candidate arcs (row-major) with both sides' strict orders over them."""

    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray
    by_mentee: np.ndarray  # arc indices grouped by mentee, best first
    mentee_start: np.ndarray  # by_mentee[mentee_start[j]:mentee_start[j + 1]] = mentee j's list
    mentee_pos: np.ndarray  # per arc: its place in its mentee's order (global; lower = better)
    mentor_pos: np.ndarray  # per arc: its place in its mentor's order (global; lower = better)


def _places(order: np.ndarray) -> np.ndarray:
    pos = np.empty(order.size, dtype=np.int64)
    pos[order] = np.arange(order.size, dtype=np.int64)
    return pos


def _dense_rank(values: np.ndarray) -> tuple[np.ndarray, int]:
    """0, 1, 2, ... by ascending value, equal values sharing a rank; and how many ranks."""
    if values.size == 0 or np.all(values == values[0]):  # e.g. nobody ranks anyone
        return np.zeros(values.size, dtype=np.int64), 1
    order = np.argsort(values)  # equal values share a rank: no stable sort needed
    ordered = values[order]
    rank = np.empty(values.size, dtype=np.int64)
    rank[order] = np.concatenate(([0], np.cumsum(ordered[1:] != ordered[:-1])))
    return rank, int(rank[order[-1]]) + 1


def _order(
    group: np.ndarray, n_groups: int, rank: np.ndarray, by_score: np.ndarray, n_scores: int
) -> np.ndarray:
    """Arcs sorted by (group, rank, score rank), ties kept in arc (row-major) order."""
    rank, n_ranks = _dense_rank(rank)
    if n_groups * n_ranks * n_scores < 2**62:
        # one stable sort of a combined integer key: much faster than np.lexsort
        key = (group * n_ranks + rank) * n_scores + by_score
        return np.argsort(key, kind="stable")
    return np.lexsort((by_score, rank, group))


def _preferences(
    problem: ScoreProblem, mentee_ranks: RankTable | None, mentor_ranks: RankTable | None
) -> _Preferences:
    rows, cols, scores = problem.arcs()
    n_rows, n_cols = problem.shape
    inf = np.full(rows.size, np.inf)
    rank_e = inf if mentee_ranks is None else mentee_ranks.at(rows, cols)
    rank_m = inf if mentor_ranks is None else mentor_ranks.at(rows, cols)
    by_score, n_scores = _dense_rank(-scores)  # 0 = the highest score
    # arcs come row-major, so ties left in arc order go to the lower row (for a
    # mentee) or the lower column (for a mentor)
    by_mentee = _order(cols, n_cols, rank_e, by_score, n_scores)
    by_mentor = _order(rows, n_rows, rank_m, by_score, n_scores)
    start = np.searchsorted(cols[by_mentee], np.arange(n_cols + 1))
    return _Preferences(
        rows=rows,
        cols=cols,
        scores=scores,
        by_mentee=by_mentee,
        mentee_start=start.astype(np.int64),
        mentee_pos=_places(by_mentee),
        mentor_pos=_places(by_mentor),
    )


def _checked_inputs(
    scores: Any,
    allowed: Any,
    capacity: Any,
    mentee_ranks: Any,
    mentor_ranks: Any,
    where: str,
) -> tuple[ScoreProblem, np.ndarray, _Preferences]:
    problem = check_scores(scores, allowed, where)
    cap = check_per_row(capacity, problem.shape[0], "capacity", where, unit="mentor")
    ranks_e = check_ranks(mentee_ranks, problem.shape, "mentee_ranks", where)
    ranks_m = check_ranks(mentor_ranks, problem.shape, "mentor_ranks", where)
    return problem, cap, _preferences(problem, ranks_e, ranks_m)


def _rounds(
    prefs: _Preferences, cap: np.ndarray, held: np.ndarray, nxt: np.ndarray, deadline: float | None
) -> tuple[int, bool]:
    """Simultaneous proposal rounds in numpy while many mentees are free; updates in place.

    Each round every free mentee proposes to its next mentor; each mentor that
    received a proposal keeps its ``capacity`` best among those and the ones it
    held. Returns the proposals made and whether the clock cut the rounds.
    """
    end = prefs.mentee_start[1:]
    rows, cols, mentor_pos = prefs.rows, prefs.cols, prefs.mentor_pos
    touched = np.zeros(cap.size, dtype=bool)
    proposals = 0
    free = np.flatnonzero(nxt < end)
    while free.size >= _ROUND_MIN:
        arcs = prefs.by_mentee[nxt[free]]
        nxt[free] += 1
        arcs = arcs[cap[rows[arcs]] > 0]  # mentors who take nobody reject at once
        proposals += arcs.size
        if arcs.size:
            touched[rows[arcs]] = True
            current = held[held >= 0]
            pool = np.concatenate([current[touched[rows[current]]], arcs])
            touched[rows[arcs]] = False
            # mentor_pos orders arcs by mentor, then by the mentor's preference
            pool = pool[np.argsort(mentor_pos[pool], kind="stable")]
            r = rows[pool]
            index = np.arange(pool.size)
            first = np.ones(pool.size, dtype=bool)
            first[1:] = r[1:] != r[:-1]
            place = index - np.maximum.accumulate(np.where(first, index, 0))
            keep = place < cap[r]
            held[cols[pool[~keep]]] = -1
            held[cols[pool[keep]]] = pool[keep]
        if _ortools.past(deadline):
            return proposals, True
        free = np.flatnonzero((held < 0) & (nxt < end))
    return proposals, False


def _one_by_one(
    prefs: _Preferences, cap: np.ndarray, held: np.ndarray, nxt: np.ndarray, deadline: float | None
) -> tuple[int, bool]:
    """Proposals one mentee at a time (a max-heap of held offers per mentor); in place."""
    # memoryviews index to Python ints, several times faster than numpy scalars
    order = np.ascontiguousarray(prefs.by_mentee, dtype=np.int64).data
    arc_row = np.ascontiguousarray(prefs.rows, dtype=np.int64).data
    arc_col = np.ascontiguousarray(prefs.cols, dtype=np.int64).data
    mentor_pos = np.ascontiguousarray(prefs.mentor_pos, dtype=np.int64).data
    pointer = nxt.tolist()
    end = prefs.mentee_start[1:].tolist()
    room = cap.tolist()
    heaps: list[list[tuple[int, int]]] = [[] for _ in range(len(room))]  # (-place, arc)
    for a in held[held >= 0].tolist():
        heaps[arc_row[a]].append((-mentor_pos[a], a))
    for heap in heaps:
        heapq.heapify(heap)
    held_arc = held.tolist()
    free = [j for j in range(len(end) - 1, -1, -1) if held_arc[j] < 0 and end[j] > pointer[j]]
    proposals = steps = 0
    while free:
        j = free.pop()  # the lowest index first
        p, stop = pointer[j], end[j]
        while p < stop:
            a = order[p]
            p += 1
            i = arc_row[a]
            if room[i] == 0:
                continue
            proposals += 1
            heap = heaps[i]
            key = mentor_pos[a]
            if len(heap) < room[i]:
                heapq.heappush(heap, (-key, a))
                held_arc[j] = a
                break
            if -heap[0][0] > key:  # the mentor prefers j to its least preferred mentee
                _, out = heapq.heapreplace(heap, (-key, a))
                held_arc[j] = a
                loser = arc_col[out]
                held_arc[loser] = -1
                free.append(loser)
                break
        pointer[j] = p
        steps += 1
        if steps % _CLOCK_EVERY == 0 and _ortools.past(deadline):
            break
    held[:] = held_arc
    nxt[:] = pointer
    return proposals, bool(free)


def _deferred_acceptance(
    prefs: _Preferences, cap: np.ndarray, n_cols: int, deadline: float | None
) -> tuple[np.ndarray, int, bool]:
    """The arcs held at the end (one per matched mentee), the proposals made, and if cut.

    Numpy rounds while many mentees are free, then one mentee at a time: the
    mentee-optimal stable matching does not depend on the order of proposals.
    """
    held = np.full(n_cols, -1, dtype=np.int64)
    nxt = prefs.mentee_start[:-1].copy()
    proposals, cut = _rounds(prefs, cap, held, nxt, deadline)
    if not cut:
        more, cut = _one_by_one(prefs, cap, held, nxt, deadline)
        proposals += more
    return held[held >= 0], proposals, cut


def stable_matching(
    scores: ScoresLike,
    allowed: npt.ArrayLike | None = None,
    capacity: int | npt.ArrayLike = 1,
    *,
    mentee_ranks: RanksLike = None,
    mentor_ranks: RanksLike = None,
    time_limit: float | None = None,
    seed: int = 0,
) -> MatchingResult:
    """The mentee-optimal stable matching (deferred acceptance, mentors with capacities).

    Mentees propose to their allowed mentors in order of preference; a mentor
    holds its ``capacity`` most preferred proposals and rejects the rest, who
    propose further down their lists. The result has no blocking pair (see
    :func:`blocking_pairs`), and every mentee has the best mentor it can have
    in any stable matching. It does not maximise the number of pairs or the
    total score: compare with :func:`one_to_many` for what stability costs.

    Parameters
    ----------
    scores : array_like (n_mentors, n_mentees) or scipy.sparse matrix
        Compatibility, larger is better; it orders the unranked partners of
        both sides. A sparse matrix lists the candidate pairs (its stored
        entries, explicit zeros included).
    allowed : array_like of bool, same shape, optional
        Acceptable pairs (dense ``scores`` only); others are never formed.
    capacity : int or array_like of int (n_mentors,)
        Most mentees per mentor (0 = none).
    mentee_ranks : array_like or scipy.sparse matrix (n_mentors, n_mentees), optional
        ``mentee_ranks[i, j]``: the rank mentee ``j`` gives mentor ``i`` (1 =
        first choice, lower is better); 0, NaN or an absent sparse entry =
        unranked. Ranked mentors come before unranked ones; unranked ones
        follow by score.
    mentor_ranks : array_like or scipy.sparse matrix (n_mentors, n_mentees), optional
        ``mentor_ranks[i, j]``: the rank mentor ``i`` gives mentee ``j``, the
        same way.
    time_limit : float, optional
        Wall-clock cap in seconds. The algorithm makes at most one proposal
        per candidate pair, so the cap rarely acts; when it does, the pairs
        held so far come back with ``status="feasible"`` and
        ``stopped_by_time_limit=True`` (they need not be stable).
    seed : int
        Recorded; the method is deterministic (ties are broken by index).

    Returns
    -------
    MatchingResult
        ``rows``/``cols`` sorted by column; ``objective`` is the total score;
        ``status="optimal"`` (the mentee-optimal stable matching) with
        ``bound=None`` (the total score is not what is optimised);
        ``method="deferred_acceptance"``; ``options`` holds ``capacity``,
        ``ranked`` (which sides gave ranks) and ``proposals``.

    Raises
    ------
    InputError
        Bad shapes, dtypes, NaN/inf on allowed pairs, bad ``capacity``,
        ranks that are negative, infinite or of the wrong shape, bad
        ``time_limit`` or ``seed``.

    Notes
    -----
    Gale and Shapley's algorithm. While many mentees are free, they propose
    in simultaneous numpy rounds (each touched mentor keeps its best offers);
    the last few proceed one at a time with a max-heap of held offers per
    mentor. The mentee-optimal stable matching does not depend on the order
    of proposals, so the answer is the textbook one. Each candidate pair is
    proposed at most once: O(E log E) for E candidate pairs (sorting both
    sides' preferences), sparse candidates never densified. The set of
    matched mentees is the same in every stable matching (the "rural
    hospitals" theorem), so it may be smaller than a maximum matching.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[3.0, 2.0], [2.0, 1.0]])
    >>> res = stable_matching(scores)
    >>> res.rows.tolist(), res.cols.tolist()
    ([0, 1], [0, 1])
    >>> ranks = np.array([[2, 1], [1, 2]])  # mentee 0 ranks mentor 1 first, mentee 1 mentor 0
    >>> stable_matching(scores, mentee_ranks=ranks).rows.tolist()
    [1, 0]
    """
    started = time.perf_counter()
    where = "stable_matching"
    problem, cap, prefs = _checked_inputs(
        scores, allowed, capacity, mentee_ranks, mentor_ranks, where
    )
    time_limit = check_time_limit(time_limit, where)
    seed = check_seed(seed, where)
    deadline = _ortools.deadline_after(started, time_limit)
    arcs, proposals, cut = _deferred_acceptance(prefs, cap, problem.shape[1], deadline)
    rows, cols, values = prefs.rows[arcs], prefs.cols[arcs], prefs.scores[arcs]
    order = np.argsort(cols, kind="stable")
    rows, cols, values = rows[order], cols[order], values[order]
    ranked = [s for s, r in (("mentee", mentee_ranks), ("mentor", mentor_ranks)) if r is not None]
    return MatchingResult(
        rows=rows,
        cols=cols,
        objective=float(np.sum(values, dtype=np.float64)),
        status="feasible" if cut else "optimal",
        bound=None,
        wall_time=time.perf_counter() - started,
        method="deferred_acceptance",
        seed=seed,
        options={
            "objective": "stable",
            "time_limit": time_limit,
            "capacity": int(cap[0]) if cap.size and np.all(cap == cap[0]) else cap.tolist(),
            "ranked": ranked,
            "proposals": proposals,
        },
        min_score=float(values.min()) if values.size else None,
        stopped_by_time_limit=cut,
    )


def _matched_arcs(
    rows: Any, cols: Any, prefs: _Preferences, shape: tuple[int, int], where: str
) -> np.ndarray:
    """The arc index of every matched pair; an error for a pair that is not a candidate."""
    r = np.asarray(rows)
    c = np.asarray(cols)
    for name, arr in (("rows", r), ("cols", c)):
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise InputError(
                f"`{name}` must be a 1-D array of integer indices; got shape "
                f"{arr.shape} and dtype {arr.dtype} ({where}). Fix: pass result.rows and "
                "result.cols of a MatchingResult."
            )
    if r.size != c.size:
        raise InputError(
            f"`rows` and `cols` must have the same length; got {r.size} and {c.size} ({where}). "
            "Fix: pass the two index arrays of the same pairs."
        )
    r, c = r.astype(np.int64), c.astype(np.int64)
    n, m = shape
    outside = (r < 0) | (r >= n) | (c < 0) | (c >= m)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise InputError(
            f"pair ({int(r[k])}, {int(c[k])}) lies outside `scores` {n} × {m} ({where}). "
            "Fix: pass indices of the same matrix."
        )
    keys = prefs.rows * m + prefs.cols  # row-major, so sorted
    wanted = r * m + c
    pos = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
    found = keys[pos] == wanted if keys.size else np.zeros(r.size, bool)
    if not found.all():
        k = int(np.flatnonzero(~found)[0])
        raise InputError(
            f"pair ({int(r[k])}, {int(c[k])}) is not an allowed (candidate) pair ({where}). "
            "Fix: pass a matching of allowed pairs."
        )
    counts = np.bincount(c, minlength=m)
    if np.any(counts > 1):
        j = int(np.flatnonzero(counts > 1)[0])
        raise InputError(
            f"mentee {j} appears in {int(counts[j])} pairs ({where}). Fix: pass a matching, "
            "each mentee at most once."
        )
    return pos


def blocking_pairs(
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    scores: ScoresLike,
    allowed: npt.ArrayLike | None = None,
    capacity: int | npt.ArrayLike = 1,
    *,
    mentee_ranks: RanksLike = None,
    mentor_ranks: RanksLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The blocking pairs of a matching: allowed pairs who both prefer each other.

    ``(i, j)`` blocks when it is allowed and not matched, mentee ``j`` is
    unmatched or prefers mentor ``i`` to its mentor, and mentor ``i`` has a
    free place (fewer mentees than ``capacity[i] > 0``) or prefers ``j`` to
    its least preferred mentee. Preferences as in :func:`stable_matching`.

    Parameters
    ----------
    rows, cols : array_like of int
        The matching: mentor row and mentee column of each pair.
    scores, allowed, capacity, mentee_ranks, mentor_ranks
        As in :func:`stable_matching`.

    Returns
    -------
    (ndarray, ndarray)
        Mentor rows and mentee columns of the blocking pairs, sorted by
        column, then row; empty when the matching is stable.

    Raises
    ------
    InputError
        Bad inputs as in :func:`stable_matching`; a pair that is not allowed,
        outside the matrix, a mentee in two pairs or a mentor above capacity.

    Notes
    -----
    Vectorised over the candidate pairs: O(E log E) for E candidates (the
    stored entries of a sparse ``scores``; no dense matrix is built).

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[3.0, 2.0], [2.0, 1.0]])
    >>> r, c = blocking_pairs([1, 0], [0, 1], scores)  # mentor 0 and mentee 0 prefer each other
    >>> r.tolist(), c.tolist()
    ([0], [0])
    """
    where = "blocking_pairs"
    problem, cap, prefs = _checked_inputs(
        scores, allowed, capacity, mentee_ranks, mentor_ranks, where
    )
    n, m = problem.shape
    matched = _matched_arcs(rows, cols, prefs, problem.shape, where)
    m_rows = prefs.rows[matched]
    load = np.bincount(m_rows, minlength=n)
    if np.any(load > cap):
        i = int(np.flatnonzero(load > cap)[0])
        raise InputError(
            f"mentor {i} has {int(load[i])} mentees; capacity is {int(cap[i])} ({where}). "
            "Fix: pass a matching within the capacities."
        )
    never = np.iinfo(np.int64).max
    partner = np.full(m, never, dtype=np.int64)  # mentee's place for its mentor; none = worst
    partner[prefs.cols[matched]] = prefs.mentee_pos[matched]
    worst = np.full(n, -1, dtype=np.int64)  # mentor's place for its least preferred mentee
    np.maximum.at(worst, m_rows, prefs.mentor_pos[matched])
    a_rows, a_cols = prefs.rows, prefs.cols
    mentee_wants = prefs.mentee_pos < partner[a_cols]
    mentor_wants = (cap[a_rows] > 0) & (
        (load[a_rows] < cap[a_rows]) | (prefs.mentor_pos < worst[a_rows])
    )
    block = np.flatnonzero(mentee_wants & mentor_wants)
    order = np.lexsort((a_rows[block], a_cols[block]))
    return a_rows[block][order], a_cols[block][order]
