"""LP duals of an optimal mentor–mentee matching, for certificates over pairs the solve never saw.

The matching solvers maximise, in this order, the number of matched mentees,
their total priority and the (weighted) total score. Because the sets of
mentees a matching can cover form a matroid, the first two steps are one
linear objective: a *primary* integer value ``level[j] = (number of priority
tiers) - tier[j]`` per matched mentee (1 for everybody without priority). The
score is the *secondary* value. The solver's order is the lexicographic order
of these two sums, and linear-programming duality holds for it with
lexicographic (pair-valued) duals.

The b-matching LP (mentor ``i`` takes at most ``capacity[i]`` mentees, a
mentee at most one mentor) has duals ``u_i >= 0`` per mentor and ``v_j >= 0``
per mentee with ``u_i + v_j >= w_ij`` on every arc. A matching and duals that
satisfy complementary slackness (matched arcs tight, ``u_i = 0`` unless mentor
``i`` is full, ``v_j = 0`` unless mentee ``j`` is matched) prove the matching
optimal. :func:`matching_duals` computes the smallest such ``u`` from the
matching on the arcs it was solved on, as a longest-path problem over mentors
(the duals are the LP duals of that arc set). An arc the solve never saw
(``i``, ``j``) then has the *reduced value* ``w_ij - u_i - v_j``
(:func:`reduced_values`): when no such arc has a positive reduced value, the
duals stay feasible with the arc added, so the matching is optimal over it too.

Pure numpy, vectorised label correcting (one pass over the changed mentors'
arcs per round); no solver import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Duals", "matching_duals", "priority_levels", "reduced_values", "violations"]


@dataclass(frozen=True)
class Duals:
    """Lexicographic LP duals of a matching: ``(u1, u2)`` per mentor, ``(v1, v2)`` per mentee.

    Attributes
    ----------
    u1, v1 : ndarray of int64
        Primary (count and priority) parts.
    u2, v2 : ndarray of float64
        Secondary (score) parts.
    tol : float
        Slack treated as floating-point noise in the secondary part.
    feasible : bool
        True when the duals satisfy every dual constraint and complementary
        slackness on the arcs they were computed from (False: the matching
        was not optimal on them, or the label correcting hit its round cap).
    rounds : int
        Label-correcting rounds used.
    """

    u1: np.ndarray
    u2: np.ndarray
    v1: np.ndarray
    v2: np.ndarray
    tol: float
    feasible: bool
    rounds: int


def priority_levels(priority: np.ndarray | None, m: int) -> np.ndarray:
    """Primary value per mentee: ``K - tier`` (tier 0 = highest priority), 1 without priority.

    >>> priority_levels(np.array([1.0, 2.0, 1.0]), 3).tolist()
    [1, 2, 1]
    >>> priority_levels(None, 2).tolist()
    [1, 1]
    """
    if priority is None:
        return np.ones(m, dtype=np.int64)
    values, tier = np.unique(-np.asarray(priority, dtype=float), return_inverse=True)
    return (len(values) - np.asarray(tier, dtype=np.int64).ravel()).astype(np.int64)


def _propagate(
    start: np.ndarray,
    tails: np.ndarray,
    heads: np.ndarray,
    gains: np.ndarray,
    eps: float,
    max_rounds: int,
) -> tuple[np.ndarray, int, bool]:
    """Longest paths ``U[h] >= U[t] + gain`` from ``start`` (label correcting, by rounds).

    Each round relaxes only the arcs leaving mentors whose label rose in the
    previous round (by more than ``eps``). Returns the labels, the rounds and
    whether a fixed point was reached.
    """
    U = start.copy()
    if tails.size == 0:
        return U, 0, True
    order = np.argsort(tails, kind="stable")
    tails, heads, gains = tails[order], heads[order], gains[order]
    n = U.size
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=indptr[1:])
    active = np.flatnonzero(np.isfinite(U) & (indptr[1:] > indptr[:-1]))
    for round_ in range(1, max_rounds + 1):
        if active.size == 0:
            return U, round_ - 1, True
        lo, hi = indptr[active], indptr[active + 1]
        counts = hi - lo
        idx = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        cand = U[tails[idx]] + gains[idx]
        h = heads[idx]
        best = np.full(n, -np.inf)
        np.maximum.at(best, h, cand)
        rose = np.flatnonzero(best > U + eps)
        U[rose] = best[rose]
        active = rose[indptr[rose + 1] > indptr[rose]]
    return U, max_rounds, active.size == 0


def matching_duals(
    shape: tuple[int, int],
    arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
    matched: tuple[np.ndarray, np.ndarray],
    capacity: np.ndarray,
    level: np.ndarray,
    *,
    max_rounds: int | None = None,
) -> Duals:
    """Smallest LP duals proving ``matched`` optimal on ``arcs`` (lexicographic values).

    Parameters
    ----------
    shape : (n_mentors, n_mentees)
    arcs : (rows, cols, values)
        The arcs the matching was solved on; ``values`` is the secondary
        (score) value of each arc, as the solver maximised it.
    matched : (rows, cols)
        The matching; each pair must be one of ``arcs``.
    capacity : ndarray of int (n_mentors,)
    level : ndarray of int (n_mentees,)
        Primary value per mentee (:func:`priority_levels`).
    max_rounds : int, optional
        Cap on label-correcting rounds (default ``n_mentors + 2``, enough for
        any optimal matching).

    Returns
    -------
    Duals

    Examples
    --------
    >>> arcs = (np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([0.9, 0.5, 0.2]))
    >>> d = matching_duals((2, 2), arcs, (np.array([0, 1]), np.array([0, 1])),
    ...                    np.array([1, 1]), np.ones(2, np.int64))
    >>> d.feasible, d.u2.round(6).tolist(), d.v2.round(6).tolist()
    (True, [0.3, 0.0], [0.6, 0.2])
    """
    n, m = shape
    r, c, w = (np.asarray(a) for a in arcs)
    r, c, w = r.astype(np.int64), c.astype(np.int64), w.astype(np.float64)
    mr, mc = np.asarray(matched[0], np.int64), np.asarray(matched[1], np.int64)
    mate = np.full(m, -1, dtype=np.int64)
    mate[mc] = mr
    usable = capacity[r] > 0
    r, c, w = r[usable], c[usable], w[usable]
    # secondary value of each matched pair, read from its arc
    mine = mate[c] == r
    mate_value = np.zeros(m)
    mate_value[c[mine]] = w[mine]
    scale = float(np.max(np.abs(w))) if w.size else 1.0
    tol = 2.0**-30 * max(scale, 1.0)
    eps = 2.0**-44 * max(scale, 1.0)
    rounds_cap = n + 2 if max_rounds is None else int(max_rounds)

    free = mate[c] < 0
    other = ~free & ~mine
    tails, heads = mate[c[other]], r[other]
    # primary: best level of a free mentee reachable by an alternating path (gains 0)
    u1 = np.zeros(n, dtype=np.int64)
    np.maximum.at(u1, r[free], level[c[free]])
    lab1, rounds1, done1 = _propagate(
        u1.astype(np.float64), tails, heads, np.zeros(tails.size), 0.5, rounds_cap
    )
    u1 = lab1.astype(np.int64)
    # secondary: longest path over the arcs tight in the primary part
    start = np.where(u1 == 0, 0.0, -np.inf)
    tight_free = free & (level[c] == u1[r])
    np.maximum.at(start, r[tight_free], w[tight_free])
    tight = u1[tails] == u1[heads]
    gains = w[other][tight] - mate_value[c[other]][tight]
    u2, rounds2, done2 = _propagate(start, tails[tight], heads[tight], gains, eps, rounds_cap)
    u2 = np.where(np.isfinite(u2), u2, 0.0)  # unreachable: never happens when optimal

    v1 = np.zeros(m, dtype=np.int64)
    v2 = np.zeros(m)
    v1[mc] = level[mc] - u1[mr]
    v2[mc] = mate_value[mc] - u2[mr]
    duals = Duals(u1, u2, v1, v2, tol, done1 and done2, rounds1 + rounds2)
    if not duals.feasible:
        return duals
    load = np.bincount(mr, minlength=n)
    slack_free = (load < capacity) & ((u1 != 0) | (np.abs(u2) > tol))
    negative_v = (v1 < 0) | ((v1 == 0) & (v2 < -tol))
    over = violations(duals, r, c, level[c], w)
    ok = not (slack_free.any() or negative_v.any() or over.any())
    return Duals(u1, u2, v1, v2, tol, ok, rounds1 + rounds2)


def reduced_values(
    duals: Duals, rows: np.ndarray, cols: np.ndarray, level: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reduced values ``w - u_i - v_j`` of arcs: (primary, secondary) parts.

    ``level`` and ``values`` are the arcs' primary and secondary values.
    """
    red1 = level - duals.u1[rows] - duals.v1[cols]
    red2 = values - duals.u2[rows] - duals.v2[cols]
    return red1, red2


def violations(
    duals: Duals, rows: np.ndarray, cols: np.ndarray, level: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Which arcs have a positive reduced value (lexicographically, beyond ``duals.tol``).

    Such an arc would improve the matching if it could be used; none among the
    arcs a matching was not solved on proves the matching optimal over them.
    """
    red1, red2 = reduced_values(duals, rows, cols, level, values)
    return (red1 > 0) | ((red1 == 0) & (red2 > duals.tol))
