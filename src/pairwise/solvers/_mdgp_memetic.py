"""Memetic search for grouping problems: starting points, perturbation, crossover, the driver.

A small population is improved by tabu search (:mod:`._mdgp_tabu`); then each
generation crosses two members (:func:`_crossover`) or perturbs one (random
swaps, :func:`_perturb`), improves the result by tabu search, and lets it
replace the worst member when it is better and not a duplicate
(:func:`_improve`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pairwise.solvers._mdgp_tabu import (
    _NEG,
    _group_sums,
    _LoopTabu,
    _make_tabu,
    _NumpyTabu,
    _Problem,
)

#: Search settings, measured on MDGPLIB n = 120 / 240: tabu tenure drawn in
#: [t_lo, t_hi] x (n / n_groups); a tabu run stops after depth x n steps without a
#: new best; perturbation swaps s_lo..s_hi x n pairs; population size; share of
#: generations made by crossover.
_PARAMS = {
    "t_lo": 0.3,
    "t_hi": 1.0,
    "depth": 2.0,
    "s_lo": 0.02,
    "s_hi": 0.1,
    "pop": 6,
    "cross": 0.5,
}


# --------------------------------------------------------------------------------------
# Starting points
# --------------------------------------------------------------------------------------


def _random_labels(
    n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A uniformly shuffled assignment whose group sizes respect ``lower``/``upper``."""
    k = lower.shape[0]
    sizes = lower.copy()
    room = np.minimum(upper, n) - sizes
    extra = n - int(sizes.sum())
    while extra > 0:
        open_groups = np.flatnonzero(room > 0)
        g = int(rng.choice(open_groups))
        sizes[g] += 1
        room[g] -= 1
        extra -= 1
    labels = np.repeat(np.arange(k, dtype=np.int64), sizes)
    rng.shuffle(labels)
    return labels


def _dense_sizes(
    n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Group sizes maximising the number of within-group pairs, ``sum_g s_g (s_g - 1) / 2``.

    With distances of similar magnitude the objective grows with the number of
    pairs, and the one-move neighbourhood finds it hard to move many elements
    from one group to another (every intermediate step loses), so the search
    starts from the sizes with most pairs. A knapsack-style DP over groups;
    ties are broken at random.
    """
    k = lower.shape[0]
    upper = np.minimum(upper, n)
    best = np.full((k + 1, n + 1), _NEG)
    best[0, 0] = 0.0
    noise = rng.random((k, n + 1)) * 1e-6
    for g in range(k):
        for s in range(int(lower[g]), int(upper[g]) + 1):
            gain = s * (s - 1) / 2.0 + noise[g, s]
            shifted = np.full(n + 1, _NEG)
            shifted[s:] = best[g, : n + 1 - s] + gain
            np.maximum(best[g + 1], shifted, out=best[g + 1])
    sizes = np.zeros(k, dtype=np.int64)
    t = n
    for g in range(k - 1, -1, -1):
        for s in range(int(lower[g]), int(upper[g]) + 1):
            if s <= t and best[g, t - s] + (s * (s - 1) / 2.0 + noise[g, s]) == best[g + 1, t]:
                sizes[g] = s
                t -= s
                break
    return sizes


def _labels_of_sizes(sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shuffled assignment with exactly ``sizes[g]`` elements in group ``g``."""
    labels = np.repeat(np.arange(sizes.shape[0], dtype=np.int64), sizes)
    rng.shuffle(labels)
    return labels


# --------------------------------------------------------------------------------------
# Variation: perturbation and crossover
# --------------------------------------------------------------------------------------


def _perturb(
    labels: np.ndarray,
    strength: int,
    problem: _Problem,
    rng: np.random.Generator,
) -> np.ndarray:
    """``strength`` random swaps between different groups (respecting ``forbidden``)."""
    L = labels.copy()
    n = L.shape[0]
    forb = problem.forbidden
    done = 0
    tries = 0
    while done < strength and tries < 20 * strength + 20:
        tries += 1
        i, j = rng.integers(0, n, size=2)
        g, h = L[i], L[j]
        if g == h:
            continue
        if forb is not None and (forb[h, i] or forb[g, j]):
            continue
        L[i], L[j] = h, g
        done += 1
    return L


def _crossover(
    parent_a: np.ndarray,
    parent_b: np.ndarray,
    problem: _Problem,
    rng: np.random.Generator,
) -> np.ndarray:
    """A child that inherits whole groups from two parents, then fills the gaps greedily.

    Group index ``g`` keeps its size bounds, so the child's group ``g`` is
    copied from a parent's group ``g``: the parents take turns, each giving
    its most valuable group (counting only elements not yet placed) among the
    indices still open. Elements left over go first to groups below their
    lower bound, then to the allowed group with room where they add most.
    When the gaps cannot be filled, the child is a copy of ``parent_a``.
    """
    p = problem
    k = p.k
    w = np.ones(k) if p.weight is None else p.weight
    child = _inherit_groups(parent_a, parent_b, p, w, rng)
    sizes = np.bincount(child[child >= 0], minlength=k)
    left = np.flatnonzero(child < 0)
    # no early return when nothing is left over: an inherited group may still be
    # below its lower bound (its parent's members went elsewhere), repaired below
    rng.shuffle(left)
    # gsum[i, g]: what element i would add to group g (-inf where forbidden)
    gsum = _group_sums(p.d, child, k) * w[None, :]
    if p.fit is not None:
        gsum += p.fit.T
    if p.forbidden is not None:
        gsum[p.forbidden.T] = _NEG
    remaining = list(left.tolist())
    if not (
        _fill_short_from_leftovers(child, sizes, gsum, remaining, p, w)
        and _fill_short_from_surplus(child, sizes, gsum, p, w)
        and _place_leftovers(child, sizes, gsum, remaining, p, w)
    ):
        return parent_a.copy()
    return child


def _inherit_groups(
    parent_a: np.ndarray,
    parent_b: np.ndarray,
    p: _Problem,
    w: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Labels copied group by group from the parents in turn; -1 for elements not placed."""
    child = np.full(p.n, -1, dtype=np.int64)
    parents = (parent_a, parent_b)
    open_groups = list(range(p.k))
    turn = int(rng.integers(2))
    while open_groups:
        parent = parents[turn]
        turn ^= 1
        best_g, best_score, best_idx = -1, _NEG, None
        for g in open_groups:
            idx = np.flatnonzero((parent == g) & (child < 0))
            score = w[g] * float(np.triu(p.d[np.ix_(idx, idx)], 1).sum()) if idx.size > 1 else 0.0
            if p.fit is not None:
                score += float(p.fit[g, idx].sum())
            score += 1e-9 * float(rng.random())
            if score > best_score:
                best_g, best_score, best_idx = g, score, idx
        child[best_idx] = best_g
        open_groups.remove(best_g)
    return child


def _fill_short_from_leftovers(
    child: np.ndarray,
    sizes: np.ndarray,
    gsum: np.ndarray,
    remaining: list[int],
    p: _Problem,
    w: np.ndarray,
) -> bool:
    """Groups below their lower bound take the leftover that adds most; False when stuck."""
    while remaining:
        short = np.flatnonzero(sizes < p.lower)
        if short.size == 0:
            break
        rem = np.array(remaining)
        block = gsum[np.ix_(rem, short)]
        if not np.isfinite(block).any():
            return False
        r, c = np.unravel_index(int(np.argmax(block)), block.shape)
        i, g = int(rem[r]), int(short[c])
        child[i] = g
        sizes[g] += 1
        gsum[:, g] += p.d[:, i] * w[g]
        remaining.remove(i)
    return True


def _fill_short_from_surplus(
    child: np.ndarray, sizes: np.ndarray, gsum: np.ndarray, p: _Problem, w: np.ndarray
) -> bool:
    """Fill groups still short with the members that lose least from groups with a surplus.

    Inherited groups may hold more than their lower bound while others starve.
    False when no such member may move.
    """
    n = p.n
    while True:
        short = np.flatnonzero(sizes < p.lower)
        if short.size == 0:
            return True
        g = int(short[0])
        surplus = (sizes > p.lower)[child] & (child >= 0)
        own = gsum[np.arange(n), np.maximum(child, 0)]
        scores = np.where(surplus, gsum[:, g] - own, _NEG)
        i = int(np.argmax(scores))
        if not np.isfinite(scores[i]):
            return False
        h = int(child[i])
        child[i] = g
        sizes[h] -= 1
        sizes[g] += 1
        gsum[:, h] -= p.d[:, i] * w[h]
        gsum[:, g] += p.d[:, i] * w[g]


def _place_leftovers(
    child: np.ndarray,
    sizes: np.ndarray,
    gsum: np.ndarray,
    remaining: list[int],
    p: _Problem,
    w: np.ndarray,
) -> bool:
    """Every other leftover to the allowed group with room where it adds most; False if none."""
    for i in remaining:
        room = sizes < p.upper
        scores = np.where(room, gsum[i], _NEG)
        g = int(np.argmax(scores))
        if not np.isfinite(scores[g]):
            return False
        child[i] = g
        sizes[g] += 1
        gsum[:, g] += p.d[:, i] * w[g]
    return True


# --------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------


class _Search:
    """One memetic run's settings, random stream, tabu kernel and step budget."""

    def __init__(
        self,
        problem: _Problem,
        tabu: _NumpyTabu | _LoopTabu,
        rng: np.random.Generator,
        budget: int,
        deadline: float | None,
    ) -> None:
        p = problem
        n, k = p.n, p.k
        self.p = p
        self.tabu = tabu
        self.rng = rng
        self.budget = budget
        self.deadline = deadline
        self.used = 0
        self.crossovers = 0
        per_group = max(1.0, n / max(k, 1))
        P = _PARAMS
        self.tenure = (
            max(1, int(P["t_lo"] * per_group) + 1),
            max(2, int(P["t_hi"] * per_group) + 2),
        )
        self.depth = max(50, int(P["depth"] * n))
        self.strength_lo = max(2, int(P["s_lo"] * n))
        self.strength_hi = max(3, int(P["s_hi"] * n))

    def out_of_budget(self) -> bool:
        return self.used >= self.budget or (
            self.deadline is not None and time.perf_counter() >= self.deadline
        )

    def local(self, labels: np.ndarray) -> tuple[np.ndarray, float]:
        """Tabu search from ``labels`` within what is left of the budget."""
        L, v, steps = self.tabu.run(
            labels,
            depth=self.depth,
            max_steps=self.budget - self.used,
            tenure=self.tenure,
            rng=self.rng,
            deadline=self.deadline,
        )
        self.used += steps
        return L, v

    def offspring(self, pop_L: list[np.ndarray]) -> np.ndarray:
        """A crossover of two members (share ``cross``) or a perturbed member."""
        p, rng = self.p, self.rng
        if len(pop_L) > 1 and rng.random() < _PARAMS["cross"]:
            a, b = rng.choice(len(pop_L), size=2, replace=False)
            child = _crossover(pop_L[a], pop_L[b], p, rng)
            self.crossovers += 1
            child_sizes = np.bincount(child, minlength=p.k)
            if np.any(child_sizes < p.lower) or np.any(child_sizes > p.upper):
                # defensive: the search only ever walks between feasible groupings
                child = _perturb(pop_L[a], self.strength_lo, p, rng)
            return child
        a = int(rng.integers(len(pop_L)))
        strength = int(rng.integers(self.strength_lo, self.strength_hi + 1))
        return _perturb(pop_L[a], strength, p, rng)


def _admit(pop_L: list[np.ndarray], pop_v: list[float], L: np.ndarray, v: float) -> None:
    """Let ``L`` replace the worst member when it is better and its value is new."""
    worst = int(np.argmin(pop_v))
    scale = 1e-9 * max(1.0, abs(v))
    duplicate = any(abs(v - pv) <= scale for pv in pop_v)
    if v > pop_v[worst] and not duplicate:
        pop_L[worst], pop_v[worst] = L, v
    elif len(pop_L) == 1 and v >= pop_v[0]:
        pop_L[0], pop_v[0] = L, v


def _improve(
    problem: _Problem,
    labels: np.ndarray,
    *,
    time_limit: float | None,
    max_iterations: int | None,
    seed: int,
    accelerate: bool | None = None,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Memetic tabu search from a feasible ``labels``; returns ``(labels, value, stats)``.

    Build a :class:`_Problem` (with ``fit``, ``forbidden`` and a zero-weight
    pool group as needed), give a feasible starting assignment (it must
    respect sizes and ``forbidden``), and call this. Every solution it visits
    keeps the sizes and ``forbidden``.

    The search: a small population (the start plus heavily shuffled copies of
    it) is improved by tabu search; then each generation crosses two members
    (:func:`_crossover`) or perturbs one (random swaps), improves the result by
    tabu search, and lets it replace the worst member when it is better and
    not a duplicate. ``max_iterations`` counts tabu steps over the whole run.
    ``accelerate``: None uses numba when installed, False forces numpy,
    True requires numba.
    """
    p = problem
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    deadline = None if time_limit is None else start + float(time_limit)
    budget = max_iterations if max_iterations is not None else (1 << 62)
    tabu = _make_tabu(p, accelerate)
    search = _Search(p, tabu, rng, budget, deadline)
    pop_L: list[np.ndarray] = []
    pop_v: list[float] = []
    L, v = search.local(labels)
    pop_L.append(L)
    pop_v.append(v)
    while len(pop_L) < int(_PARAMS["pop"]) and not search.out_of_budget():
        L, v = search.local(_perturb(labels, p.n, p, rng))
        pop_L.append(L)
        pop_v.append(v)
    generations = 0
    while not search.out_of_budget() and len(pop_L) > 0:
        generations += 1
        L, v = search.local(search.offspring(pop_L))
        _admit(pop_L, pop_v, L, v)
    top = int(np.argmax(pop_v))
    stats = {
        "iterations": search.used,
        "generations": generations,
        "crossovers": search.crossovers,
        "backend": "numpy" if isinstance(tabu, _NumpyTabu) else "numba",
    }
    return pop_L[top], pop_v[top], stats
