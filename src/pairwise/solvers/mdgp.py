"""The maximally diverse grouping problem (MDGP): exact when small, memetic tabu search beyond.

Besides :func:`diverse_grouping`, the module offers the search kernel to other
grouping solvers of this package (learning groups = MDGP + a linear leader-fit
term + forbidden element-group pairs + elements left out): describe the problem
with :class:`_Problem` (``fit[g, i]`` added to the objective when ``i`` joins
``g``; ``forbidden[g, i]``; a per-group pair ``weight`` -- a group of weight 0
with bounds ``[0, n]`` is a pool of unassigned elements), start from any
feasible assignment and call :func:`_improve`. :func:`_group_sums` gives the
per-element group sums ``G[i, g]`` every move gain is made of.

Move gains are O(1) from ``G``: moving ``i`` from ``g`` to ``h`` gains
``G[i, h] - G[i, g]``; swapping ``i`` (in ``g``) with ``j`` (in ``h``) gains
``G[i, h] - G[i, g] + G[j, g] - G[j, h] - 2 d[i, j]``; a move updates ``G`` in
O(n). The neighbourhood is scanned with whole-array numpy, or, when numba is
installed, by a compiled loop kernel that prunes with gain upper bounds.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pairwise.errors import InputError, SolverError
from pairwise.solvers._result import GroupingResult
from pairwise.solvers._validation import (
    check_max_iterations,
    check_per_row,
    check_seed,
    check_time_limit,
)

__all__ = ["diverse_grouping"]

logger = logging.getLogger(__name__)

#: Largest ``n`` solved exactly (dynamic programming over subsets: about
#: ``n_groups * 3**n`` steps, kept under ``EXACT_MAX_WORK``: about a second).
EXACT_MAX_N = 14
EXACT_MAX_WORK = 35_000_000

_NEG = -np.inf


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _as_bounds(value: Any, name: str, n_groups: int) -> np.ndarray:
    """``value`` (int or sequence of ints) as an int64 array of length ``n_groups``."""
    return check_per_row(value, n_groups, name, "diverse_grouping", unit="group")


def _check_distance(distance: Any) -> np.ndarray:
    """``distance`` as a float64 square symmetric finite array (a copy is never mutated)."""
    try:
        d = np.asarray(distance, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"`distance` must be a numeric square matrix; got {type(distance).__name__} "
            f"({exc}). Fix: pass a 2-D numpy array of floats."
        ) from None
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise InputError(
            f"`distance` must be a square matrix (n x n); got shape {d.shape}. "
            "Fix: pass the full symmetric element x element dissimilarity matrix."
        )
    if np.isnan(d).any():
        where = np.argwhere(np.isnan(d))[:5].tolist()
        raise InputError(
            f"`distance` must not contain NaN; got {int(np.isnan(d).sum())} NaN entries "
            f"(first at {where}). Fix: fill the missing dissimilarities."
        )
    if not np.isfinite(d).all():
        where = np.argwhere(~np.isfinite(d))[:5].tolist()
        raise InputError(
            f"`distance` must be finite; got infinite entries at {where}. "
            "Fix: replace infinities by a large finite value."
        )
    scale = float(np.max(np.abs(d))) if d.size else 0.0
    asym = np.abs(d - d.T)
    if d.size and float(asym.max()) > 1e-9 * max(1.0, scale):
        i, j = np.unravel_index(int(np.argmax(asym)), d.shape)
        raise InputError(
            f"`distance` must be symmetric; got distance[{i}, {j}] = {d[i, j]!r} but "
            f"distance[{j}, {i}] = {d[j, i]!r}. Fix: pass (D + D.T) / 2 or fill both halves."
        )
    return d


def _validate(
    distance: Any,
    n_groups: Any,
    min_size: Any,
    max_size: Any,
    time_limit: Any,
    max_iterations: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = _check_distance(distance)
    n = d.shape[0]
    if isinstance(n_groups, bool | np.bool_) or not isinstance(n_groups, int | np.integer):
        raise InputError(
            f"`n_groups` must be a positive integer; got {n_groups!r}. Fix: pass e.g. n_groups=4."
        )
    n_groups = int(n_groups)
    if n_groups < 1:
        raise InputError(
            f"`n_groups` must be >= 1; got {n_groups}. Fix: ask for at least one group."
        )
    lower = _as_bounds(min_size, "min_size", n_groups)
    upper = _as_bounds(max_size, "max_size", n_groups)
    bad = np.flatnonzero(lower > upper)
    if bad.size:
        g = int(bad[0])
        raise InputError(
            f"`min_size` must be <= `max_size` for every group; got min_size={lower[g]} > "
            f"max_size={upper[g]} for group {g} ({bad.size} group(s) in all: "
            f"{bad[:5].tolist()}). Fix: swap or correct the bounds."
        )
    if int(lower.sum()) > n:
        raise InputError(
            f"the groups need at least sum(min_size) = {int(lower.sum())} elements; got n = {n}. "
            "Fix: lower min_size or use fewer groups."
        )
    if int(upper.sum()) < n:
        raise InputError(
            f"the groups hold at most sum(max_size) = {int(upper.sum())} elements; got n = {n}. "
            "Fix: raise max_size or use more groups."
        )
    check_time_limit(time_limit, "diverse_grouping")
    check_max_iterations(max_iterations, "diverse_grouping", minimum=1)
    return d, lower, upper


# --------------------------------------------------------------------------------------
# Shared helpers (also used by the learning-groups solver)
# --------------------------------------------------------------------------------------


def _group_sums(distance: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """``G[i, g] = sum of distance[i, j] over the members j != i of group g``.

    Elements labelled -1 (unassigned) belong to no group. The diagonal of
    ``distance`` is ignored. Shape ``(n, n_groups)``.

    Examples
    --------
    >>> d = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    >>> _group_sums(d, np.array([0, 0, 1]), 2)
    array([[1., 2.],
           [1., 3.],
           [5., 0.]])
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    onehot = np.zeros((n, n_groups))
    members = np.flatnonzero(labels >= 0)
    onehot[members, labels[members]] = 1.0
    sums = distance @ onehot
    # Remove each element's own diagonal term (the diagonal need not be zero).
    sums[members, labels[members]] -= np.diagonal(distance)[members]
    return sums


def _grouping_objective(distance: np.ndarray, labels: np.ndarray) -> float:
    """Sum of ``distance[i, j]`` over pairs ``i < j`` with the same label (>= 0), in float64."""
    total = 0.0
    labels = np.asarray(labels)
    for g in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == g)
        block = distance[np.ix_(idx, idx)]
        total += float(np.triu(block, 1).sum())
    return total


def _upper_bound(d: np.ndarray, upper: np.ndarray) -> float:
    """Each element meets at most ``max(upper) - 1`` others: half their largest distances."""
    n = d.shape[0]
    k = int(min(int(upper.max()), n)) - 1
    if n < 2 or k <= 0:
        return 0.0
    off = d.copy()
    np.fill_diagonal(off, -np.inf)
    top = -np.partition(-off, k - 1, axis=1)[:, :k]
    # Only partners with positive distance can raise an element's contribution.
    per_element = float(np.maximum(top, 0.0).sum()) / 2.0
    if float(d.min(initial=0.0)) >= 0.0:
        # With non-negative distances, grouping everybody together is also an upper bound.
        return min(per_element, float(np.triu(d, 1).sum()))
    return per_element


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
    labels = np.repeat(np.arange(sizes.shape[0], dtype=np.int64), sizes)
    rng.shuffle(labels)
    return labels


# --------------------------------------------------------------------------------------
# Exact search on small inputs
# --------------------------------------------------------------------------------------


def _exact_dp(d: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, float]:
    """Optimal labels by dynamic programming over subsets (groups taken in order).

    ``best_g[mask]`` is the best value of filling groups ``0..g`` with exactly
    the elements of ``mask``. Pairs (mask, submask) are enumerated once as the
    ``3**n`` ternary vectors, so each group costs a few vectorised passes.
    """
    n = d.shape[0]
    k = lower.shape[0]
    size = 1 << n
    weight = np.zeros(size)
    popcount = np.zeros(size, dtype=np.int16)
    for b in range(n):
        row = np.zeros(1)
        for j in range(b):
            row = np.concatenate([row, row + d[b, j]])
        weight[1 << b : 1 << (b + 1)] = weight[: 1 << b] + row
        popcount[1 << b : 1 << (b + 1)] = popcount[: 1 << b] + 1
    masks = np.zeros(1, dtype=np.int32)
    subs = np.zeros(1, dtype=np.int32)
    for b in range(n):
        bit = np.int32(1 << b)
        masks = np.concatenate([masks, masks | bit, masks | bit])
        subs = np.concatenate([subs, subs, subs | bit])
    pc_mask = popcount[masks]
    pc_sub = popcount[subs]
    rest = masks ^ subs
    lo_cum = np.cumsum(lower)
    up_cum = np.cumsum(np.minimum(upper, n))
    lo_after = int(lower.sum()) - lo_cum
    up_after = int(np.minimum(upper, n).sum()) - up_cum
    layers = []
    prev = np.full(size, _NEG)
    prev[0] = 0.0
    for g in range(k):
        ok = (pc_sub >= lower[g]) & (pc_sub <= upper[g])
        ok &= (pc_mask >= lo_cum[g]) & (pc_mask <= up_cum[g])
        ok &= (n - pc_mask >= lo_after[g]) & (n - pc_mask <= up_after[g])
        sel_mask = masks[ok]
        cand = prev[rest[ok]] + weight[subs[ok]]
        cur = np.full(size, _NEG)
        np.maximum.at(cur, sel_mask, cand)
        layers.append(prev)
        prev = cur
    full = size - 1
    value = float(prev[full])
    labels = np.empty(n, dtype=np.int64)
    mask = full
    for g in range(k - 1, -1, -1):
        members = [b for b in range(n) if mask >> b & 1]
        sub_list = np.zeros(1, dtype=np.int64)
        for b in members:
            sub_list = np.concatenate([sub_list, sub_list | (1 << b)])
        ok = (popcount[sub_list] >= lower[g]) & (popcount[sub_list] <= upper[g])
        sub_list = sub_list[ok]
        cand = layers[g][mask ^ sub_list] + weight[sub_list]
        sub = int(sub_list[int(np.argmax(cand))])
        for b in range(n):
            if sub >> b & 1:
                labels[b] = g
        mask ^= sub
    return labels, value


# --------------------------------------------------------------------------------------
# The local-search kernel: tabu search with O(1) move evaluation, inside a memetic loop
# --------------------------------------------------------------------------------------


@dataclass
class _Problem:
    """A grouping problem in the general form the kernel optimises.

    Maximise ``sum_g weight[g] * sum_{i<j in g} d[i, j] + sum_i fit[label[i], i]``
    subject to ``lower[g] <= |g| <= upper[g]`` and ``forbidden[g, i]`` never used.
    Plain MDGP is ``weight = 1``, ``fit = 0``, nothing forbidden. An element
    left out of every group is modelled by a pool group with weight 0, fit 0,
    bounds ``[0, n]``.
    """

    d: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    fit: np.ndarray | None = None  # (k, n)
    forbidden: np.ndarray | None = None  # (k, n) bool
    weight: np.ndarray | None = None  # (k,)
    n: int = field(init=False)
    k: int = field(init=False)

    def __post_init__(self) -> None:
        d = np.ascontiguousarray(self.d, dtype=np.float64)
        if np.any(np.diagonal(d) != 0.0):
            # Move gains assume d[i, i] = 0: an element is never its own partner.
            d = d.copy()
            np.fill_diagonal(d, 0.0)
        self.d = d
        self.n = int(d.shape[0])
        self.lower = np.asarray(self.lower, dtype=np.int64)
        self.upper = np.minimum(np.asarray(self.upper, dtype=np.int64), self.n)
        self.k = int(self.lower.shape[0])
        if self.fit is not None:
            self.fit = np.asarray(self.fit, dtype=np.float64)
            if self.fit.shape != (self.k, self.n):
                raise ValueError(f"fit must have shape {(self.k, self.n)}; got {self.fit.shape}")
        if self.forbidden is not None:
            self.forbidden = np.asarray(self.forbidden, dtype=np.bool_)
            if self.forbidden.shape != (self.k, self.n):
                raise ValueError(
                    f"forbidden must have shape {(self.k, self.n)}; got {self.forbidden.shape}"
                )
        if self.weight is not None:
            self.weight = np.asarray(self.weight, dtype=np.float64)
            if self.weight.shape != (self.k,) or np.any(self.weight < 0):
                raise ValueError("weight must hold one non-negative number per group")
        if self.weight is not None and np.all(self.weight == 1.0):
            self.weight = None
        if self.fit is not None and not np.any(self.fit):
            self.fit = None
        if self.forbidden is not None and not np.any(self.forbidden):
            self.forbidden = None

    @property
    def plain(self) -> bool:
        return self.weight is None and self.fit is None and self.forbidden is None

    def value(self, labels: np.ndarray) -> float:
        """The kernel objective of ``labels`` (every element assigned)."""
        total = 0.0
        for g in range(self.k):
            idx = np.flatnonzero(labels == g)
            if idx.size > 1:
                w = 1.0 if self.weight is None else float(self.weight[g])
                if w != 0.0:
                    total += w * float(np.triu(self.d[np.ix_(idx, idx)], 1).sum())
        if self.fit is not None:
            total += float(self.fit[labels, np.arange(self.n)].sum())
        return total


class _NumpyTabu:
    """Tabu search on one solution; every neighbourhood evaluated with whole-array numpy.

    Holds ``GT[g, i]`` (group sums, transposed so that the per-move update and
    the gather by group are contiguous row operations). The score of element
    ``i`` in group ``g`` is ``S[g, i] = weight[g] * GT[g, i] + fit[g, i]``; a move
    ``i: g -> h`` gains ``S[h, i] - S[g, i]`` and a swap of ``i`` (in ``g``) with
    ``j`` (in ``h``) gains ``S[h, i] - S[g, i] + S[g, j] - S[h, j] -
    (weight[g] + weight[h]) * d[i, j]``.
    """

    def __init__(self, problem: _Problem) -> None:
        p = problem
        self.p = p
        n, k = p.n, p.k
        self.ar = np.arange(n)
        self.M = np.empty((k, n))
        self.A = np.empty((n, n))
        self.B = np.empty((n, n))
        self.two_d = 2.0 * p.d if p.weight is None else None
        if p.d.size:
            dmin = float(p.d.min())
            wmax = 1.0 if p.weight is None else float(np.max(np.abs(p.weight)))
            self.extra = max(0.0, -2.0 * wmax * dmin)
        else:
            self.extra = 0.0
        self.forb = p.forbidden
        self.fit = p.fit
        self.w = p.weight

    def run(
        self,
        labels: np.ndarray,
        *,
        depth: int,
        max_steps: int,
        tenure: tuple[int, int],
        rng: np.random.Generator,
        deadline: float | None,
    ) -> tuple[np.ndarray, float, int]:
        """Tabu search from ``labels`` until ``depth`` steps bring no new best.

        Returns ``(best_labels, best_value, steps)``.
        """
        p = self.p
        n, k = p.n, p.k
        d = p.d
        ar = self.ar
        L = labels.copy()
        GT = _group_sums(d, L, k).T.copy()
        sizes = np.bincount(L, minlength=k).astype(np.int64)
        value = p.value(L)
        best_L = L.copy()
        best = value
        eps = 1e-9 * max(1.0, abs(value))
        tabu = np.zeros((k, n), dtype=np.int64)
        M, A, B = self.M, self.A, self.B
        lower, upper = p.lower, p.upper
        tmin, tmax = tenure
        since = 0
        step = 0
        tenures = rng.integers(tmin, tmax + 1, size=2048)
        while step < max_steps and since < depth:
            if deadline is not None and (step & 7) == 0 and time.perf_counter() > deadline:
                break
            if self.w is None:
                S = GT if self.fit is None else GT + self.fit
            else:
                S = GT * self.w[:, None]
                if self.fit is not None:
                    S += self.fit
            own = S[L, ar]
            np.subtract(S, own, out=M)
            M[L, ar] = _NEG
            if self.forb is not None:
                M[self.forb] = _NEG
            is_tabu = tabu > step
            Madm = np.where(is_tabu, _NEG, M)
            # Swaps: B[j, i] = Madm[L[j], i] + Madm[L[i], j] - (w_g + w_h) d[i, j].
            np.take(Madm, L, axis=0, out=A)
            np.add(A, A.T, out=B)
            if self.two_d is not None:
                B -= self.two_d
            else:
                wl = self.w[L]
                B -= d * (wl[:, None] + wl[None, :])
            flat = int(np.argmax(B))
            gain = float(B.flat[flat])
            kind = 2
            bi, bj = divmod(flat, n)
            threshold = best - value + eps
            if gain <= threshold and is_tabu.any():
                top = float(M.max())
                if 2.0 * top + self.extra > threshold:
                    np.take(M, L, axis=0, out=A)
                    np.add(A, A.T, out=B)
                    if self.two_d is not None:
                        B -= self.two_d
                    else:
                        B -= d * (wl[:, None] + wl[None, :])
                    f2 = int(np.argmax(B))
                    g2 = float(B.flat[f2])
                    if g2 > threshold:
                        gain = g2
                        bi, bj = divmod(f2, n)
            # One-moves, when some group may shrink and another grow.
            leave = sizes > lower
            enter = sizes < upper
            if leave.any() and enter.any():
                can = enter[:, None] & leave[L][None, :]
                Mm = np.where(can, Madm, _NEG)
                f3 = int(np.argmax(Mm))
                g3 = float(Mm.flat[f3])
                if g3 <= threshold and is_tabu.any():
                    Mf = np.where(can, M, _NEG)
                    f4 = int(np.argmax(Mf))
                    g4 = float(Mf.flat[f4])
                    if g4 > threshold:
                        f3, g3 = f4, g4
                if g3 > gain:
                    gain = g3
                    kind = 1
                    bh, bi = divmod(f3, n)
            if not math.isfinite(gain):
                break
            if (step & 1023) == 0 and step:
                tenures = rng.integers(tmin, tmax + 1, size=2048)
            t1 = int(tenures[2 * (step & 1023)])
            t2 = int(tenures[2 * (step & 1023) + 1])
            if kind == 2:
                # bi in group L[bi], bj in group L[bj]
                g, h = int(L[bi]), int(L[bj])
                delta = d[bj] - d[bi]
                GT[g] += delta
                GT[h] -= delta
                L[bi], L[bj] = h, g
                tabu[g, bi] = step + t1
                tabu[h, bj] = step + t2
            else:
                g = int(L[bi])
                GT[g] -= d[bi]
                GT[bh] += d[bi]
                L[bi] = bh
                sizes[g] -= 1
                sizes[bh] += 1
                tabu[g, bi] = step + t1
            value += gain
            step += 1
            if value > best + eps:
                best = value
                best_L[:] = L
                since = 0
            else:
                since += 1
        return best_L, best, step


def _tabu_steps(
    d: np.ndarray,
    labels: np.ndarray,
    gt: np.ndarray,
    sizes: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    fit: np.ndarray,
    forbidden: np.ndarray,
    weight: np.ndarray,
    tabu: np.ndarray,
    best_labels: np.ndarray,
    fstate: np.ndarray,
    istate: np.ndarray,
    depth: int,
    max_steps: int,
    tmin: int,
    tmax: int,
    extra: float,
    seed: int,
) -> None:
    """Up to ``max_steps`` tabu-search steps, resumable: the scalar kernel compiled by numba.

    Same search as :class:`_NumpyTabu`, written as loops so that numba can
    compile it (it also runs, slowly, as plain Python, which the tests use).
    State lives in the arrays: ``fstate = [value, best, eps]``, ``istate =
    [step, since]``; ``tabu[g, i]`` is the step until which ``i`` may not
    enter ``g``. Swap candidates are scanned in decreasing order of an upper
    bound on their gain (best single move of ``i`` plus the best entry into
    ``i``'s group), and the scan stops once the bound cannot beat the best
    admissible swap found: usually only a few elements are examined.
    """
    # numba supports only the legacy global generator inside compiled code.
    np.random.seed(seed)  # noqa: NPY002
    n = d.shape[0]
    k = lower.shape[0]
    m = np.empty((k, n))
    pmax = np.empty((k, k))
    ub = np.empty(n)
    start = np.zeros(k + 1, dtype=np.int64)
    fill = np.zeros(k, dtype=np.int64)
    members = np.empty(n, dtype=np.int64)
    value = fstate[0]
    best = fstate[1]
    eps = fstate[2]
    step = istate[0]
    since = istate[1]
    stop = step + max_steps
    neg = -np.inf
    while step < stop and since < depth:
        # Move gains m[h, i] = S[h, i] - S[L[i], i]; own group and forbidden at -inf.
        for i in range(n):
            g = labels[i]
            own = weight[g] * gt[g, i] + fit[g, i]
            for h in range(k):
                if h == g or forbidden[h, i]:
                    m[h, i] = neg
                else:
                    m[h, i] = weight[h] * gt[h, i] + fit[h, i] - own
        # Members listed group by group (counting sort), and
        # pmax[g, h] = max over j in h of m[g, j]: the best that any member of h
        # can gain by entering g. A swap of i (in g) with some j in h gains at
        # most m[h, i] + pmax[g, h] + extra.
        for h in range(k + 1):
            start[h] = 0
        for i in range(n):
            start[labels[i] + 1] += 1
        for h in range(k):
            start[h + 1] += start[h]
        for h in range(k):
            fill[h] = start[h]
        for i in range(n):
            members[fill[labels[i]]] = i
            fill[labels[i]] += 1
        for g in range(k):
            for h in range(k):
                pmax[g, h] = neg
        for j in range(n):
            h = labels[j]
            for g in range(k):
                if m[g, j] > pmax[g, h]:
                    pmax[g, h] = m[g, j]
        for i in range(n):
            gi = labels[i]
            top = neg
            for h in range(k):
                if h != gi:
                    b = m[h, i] + pmax[gi, h]
                    if b > top:
                        top = b
            ub[i] = top + extra
        order = np.argsort(-ub)
        threshold = best - value + eps
        best_gain = neg
        bi = -1
        bj = -1
        bh = -1
        for r in range(n):
            i = order[r]
            if ub[i] <= best_gain and ub[i] <= threshold:
                break
            gi = labels[i]
            wi = weight[gi]
            for h in range(k):
                if h == gi:
                    continue
                mih = m[h, i]
                b = mih + pmax[gi, h] + extra
                if b <= best_gain and b <= threshold:
                    continue
                free_i = tabu[h, i] <= step
                wsum = wi + weight[h]
                for r2 in range(start[h], start[h + 1]):
                    j = members[r2]
                    v = mih + m[gi, j] - wsum * d[i, j]
                    if v > best_gain and ((free_i and tabu[gi, j] <= step) or v > threshold):
                        best_gain = v
                        bi = i
                        bj = j
        # One-moves, when some group may shrink and another grow.
        for i in range(n):
            g = labels[i]
            if sizes[g] <= lower[g]:
                continue
            for h in range(k):
                if sizes[h] >= upper[h]:
                    continue
                v = m[h, i]
                if v > best_gain and (tabu[h, i] <= step or v > threshold):
                    best_gain = v
                    bi = i
                    bj = -1
                    bh = h
        if bi < 0 or best_gain == neg:
            break
        t1 = tmin + np.random.randint(0, tmax - tmin + 1)  # noqa: NPY002
        t2 = tmin + np.random.randint(0, tmax - tmin + 1)  # noqa: NPY002
        g = labels[bi]
        if bj >= 0:
            h = labels[bj]
            for x in range(n):
                delta = d[bj, x] - d[bi, x]
                gt[g, x] += delta
                gt[h, x] -= delta
            labels[bi] = h
            labels[bj] = g
            tabu[g, bi] = step + t1
            tabu[h, bj] = step + t2
        else:
            for x in range(n):
                gt[g, x] -= d[bi, x]
                gt[bh, x] += d[bi, x]
            labels[bi] = bh
            sizes[g] -= 1
            sizes[bh] += 1
            tabu[g, bi] = step + t1
        value += best_gain
        step += 1
        if value > best + eps:
            best = value
            for x in range(n):
                best_labels[x] = labels[x]
            since = 0
        else:
            since += 1
    fstate[0] = value
    fstate[1] = best
    istate[0] = step
    istate[1] = since


_COMPILED: dict[str, Any] = {}
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


def _compiled_kernel() -> Any:
    """The numba-compiled :func:`_tabu_steps`, or None when numba is not installed."""
    if "kernel" not in _COMPILED:
        try:
            import numba
        except ImportError:
            _COMPILED["kernel"] = None
        else:
            _COMPILED["kernel"] = numba.njit(cache=True, nogil=True)(_tabu_steps)
    return _COMPILED["kernel"]


class _LoopTabu:
    """Tabu search through :func:`_tabu_steps` (compiled by numba when available).

    Runs the kernel in chunks so that a wall-clock deadline can be checked
    between them; the chunk length adapts to about 20 ms.
    """

    def __init__(self, problem: _Problem, kernel: Any) -> None:
        p = problem
        self.p = p
        self.kernel = kernel
        n, k = p.n, p.k
        self.fit = (
            np.zeros((k, n)) if p.fit is None else np.ascontiguousarray(p.fit, dtype=np.float64)
        )
        self.forb = (
            np.zeros((k, n), dtype=np.bool_)
            if p.forbidden is None
            else np.ascontiguousarray(p.forbidden, dtype=np.bool_)
        )
        self.w = (
            np.ones(k) if p.weight is None else np.ascontiguousarray(p.weight, dtype=np.float64)
        )
        dmin = float(p.d.min()) if p.d.size else 0.0
        self.extra = max(0.0, -2.0 * float(np.max(np.abs(self.w))) * dmin)
        self.chunk = 64

    def run(
        self,
        labels: np.ndarray,
        *,
        depth: int,
        max_steps: int,
        tenure: tuple[int, int],
        rng: np.random.Generator,
        deadline: float | None,
    ) -> tuple[np.ndarray, float, int]:
        p = self.p
        n, k = p.n, p.k
        L = np.ascontiguousarray(labels, dtype=np.int64).copy()
        gt = np.ascontiguousarray(_group_sums(p.d, L, k).T)
        sizes = np.bincount(L, minlength=k).astype(np.int64)
        value = p.value(L)
        fstate = np.array([value, value, 1e-9 * max(1.0, abs(value))])
        istate = np.zeros(2, dtype=np.int64)
        tabu = np.zeros((k, n), dtype=np.int64)
        best_L = L.copy()
        done = 0
        while done < max_steps and istate[1] < depth:
            if deadline is not None and time.perf_counter() > deadline:
                break
            chunk = min(self.chunk, max_steps - done)
            t0 = time.perf_counter()
            self.kernel(
                p.d,
                L,
                gt,
                sizes,
                p.lower,
                p.upper,
                self.fit,
                self.forb,
                self.w,
                tabu,
                best_L,
                fstate,
                istate,
                depth,
                chunk,
                tenure[0],
                tenure[1],
                self.extra,
                int(rng.integers(2**31)),
            )
            steps = int(istate[0]) - done
            done = int(istate[0])
            elapsed = time.perf_counter() - t0
            if steps == chunk and deadline is not None:
                # Aim at ~20 ms per chunk: often enough to honour the deadline.
                rate = steps / max(elapsed, 1e-6)
                self.chunk = int(min(max(16, 0.02 * rate), 1 << 16))
            if steps < chunk:
                break
        return best_L, float(fstate[1]), done


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
    """
    p = problem
    n, k = p.n, p.k
    d = p.d
    child = np.full(n, -1, dtype=np.int64)
    parents = (parent_a, parent_b)
    open_groups = list(range(k))
    turn = int(rng.integers(2))
    w = np.ones(k) if p.weight is None else p.weight
    while open_groups:
        parent = parents[turn]
        turn ^= 1
        best_g, best_score, best_idx = -1, _NEG, None
        for g in open_groups:
            idx = np.flatnonzero((parent == g) & (child < 0))
            score = w[g] * float(np.triu(d[np.ix_(idx, idx)], 1).sum()) if idx.size > 1 else 0.0
            if p.fit is not None:
                score += float(p.fit[g, idx].sum())
            score += 1e-9 * float(rng.random())
            if score > best_score:
                best_g, best_score, best_idx = g, score, idx
        child[best_idx] = best_g
        open_groups.remove(best_g)
    sizes = np.bincount(child[child >= 0], minlength=k)
    left = np.flatnonzero(child < 0)
    # no early return when nothing is left over: an inherited group may still be
    # below its lower bound (its parent's members went elsewhere), repaired below
    rng.shuffle(left)
    gsum = _group_sums(d, child, k) * w[None, :]
    if p.fit is not None:
        gsum += p.fit.T
    if p.forbidden is not None:
        gsum[p.forbidden.T] = _NEG
    remaining = list(left.tolist())
    # Pass 1: groups below their lower bound take the leftover that adds most.
    while remaining:
        short = np.flatnonzero(sizes < p.lower)
        if short.size == 0:
            break
        rem = np.array(remaining)
        block = gsum[np.ix_(rem, short)]
        if not np.isfinite(block).any():
            return parent_a.copy()
        r, c = np.unravel_index(int(np.argmax(block)), block.shape)
        i, g = int(rem[r]), int(short[c])
        child[i] = g
        sizes[g] += 1
        gsum[:, g] += d[:, i] * w[g]
        remaining.remove(i)
    # Inherited groups may hold more than their lower bound while others starve:
    # move the members that lose least from groups with a surplus.
    while True:
        short = np.flatnonzero(sizes < p.lower)
        if short.size == 0:
            break
        g = int(short[0])
        surplus = (sizes > p.lower)[child] & (child >= 0)
        own = gsum[np.arange(n), np.maximum(child, 0)]
        scores = np.where(surplus, gsum[:, g] - own, _NEG)
        i = int(np.argmax(scores))
        if not np.isfinite(scores[i]):
            return parent_a.copy()
        h = int(child[i])
        child[i] = g
        sizes[h] -= 1
        sizes[g] += 1
        gsum[:, h] -= d[:, i] * w[h]
        gsum[:, g] += d[:, i] * w[g]
    # Pass 2: every other leftover to the allowed group with room where it adds most.
    for i in remaining:
        room = sizes < p.upper
        scores = np.where(room, gsum[i], _NEG)
        g = int(np.argmax(scores))
        if not np.isfinite(scores[g]):
            return parent_a.copy()
        child[i] = g
        sizes[g] += 1
        gsum[:, g] += d[:, i] * w[g]
    return child


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

    This is the kernel the learning-groups solver reuses: build a
    :class:`_Problem` (with ``fit``, ``forbidden`` and a zero-weight pool group
    as needed), give a feasible starting assignment (it must respect sizes
    and ``forbidden``), and call this. Every solution it visits keeps the
    sizes and ``forbidden``.

    The search: a small population (the start plus heavily shuffled copies of
    it) is improved by tabu search; then each generation crosses two members
    (:func:`_crossover`) or perturbs one (random swaps), improves the result by
    tabu search, and lets it replace the worst member when it is better and
    not a duplicate. ``max_iterations`` counts tabu steps over the whole run.
    ``accelerate``: None uses numba when installed, False forces numpy,
    True requires numba.
    """
    p = problem
    n, k = p.n, p.k
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    deadline = None if time_limit is None else start + float(time_limit)
    budget = max_iterations if max_iterations is not None else (1 << 62)
    kernel = _compiled_kernel() if accelerate is not False else None
    if accelerate and kernel is None:
        raise InputError(
            "`accelerate=True` needs numba; got numba not installed. Fix: pip install numba."
        )
    tabu: _NumpyTabu | _LoopTabu = _NumpyTabu(p) if kernel is None else _LoopTabu(p, kernel)
    per_group = max(1.0, n / max(k, 1))
    P = _PARAMS
    tenure = (max(1, int(P["t_lo"] * per_group) + 1), max(2, int(P["t_hi"] * per_group) + 2))
    depth = max(50, int(P["depth"] * n))
    strength_lo, strength_hi = max(2, int(P["s_lo"] * n)), max(3, int(P["s_hi"] * n))
    pop_size = int(P["pop"])
    used = 0

    def out_of_budget() -> bool:
        return used >= budget or (deadline is not None and time.perf_counter() >= deadline)

    def local(L: np.ndarray) -> tuple[np.ndarray, float]:
        nonlocal used
        L, v, steps = tabu.run(
            L, depth=depth, max_steps=budget - used, tenure=tenure, rng=rng, deadline=deadline
        )
        used += steps
        return L, v

    pop_L: list[np.ndarray] = []
    pop_v: list[float] = []
    L, v = local(labels)
    pop_L.append(L)
    pop_v.append(v)
    while len(pop_L) < pop_size and not out_of_budget():
        L, v = local(_perturb(labels, n, p, rng))
        pop_L.append(L)
        pop_v.append(v)
    generations = 0
    crossovers = 0
    while not out_of_budget() and len(pop_L) > 0:
        generations += 1
        if len(pop_L) > 1 and rng.random() < P["cross"]:
            a, b = rng.choice(len(pop_L), size=2, replace=False)
            child = _crossover(pop_L[a], pop_L[b], p, rng)
            crossovers += 1
            child_sizes = np.bincount(child, minlength=k)
            if np.any(child_sizes < p.lower) or np.any(child_sizes > p.upper):
                # defensive: the search only ever walks between feasible groupings
                child = _perturb(pop_L[a], strength_lo, p, rng)
        else:
            a = int(rng.integers(len(pop_L)))
            strength = int(rng.integers(strength_lo, strength_hi + 1))
            child = _perturb(pop_L[a], strength, p, rng)
        L, v = local(child)
        worst = int(np.argmin(pop_v))
        scale = 1e-9 * max(1.0, abs(v))
        duplicate = any(abs(v - pv) <= scale for pv in pop_v)
        if v > pop_v[worst] and not duplicate:
            pop_L[worst], pop_v[worst] = L, v
        elif len(pop_L) == 1 and v >= pop_v[0]:
            pop_L[0], pop_v[0] = L, v
    top = int(np.argmax(pop_v))
    stats = {
        "iterations": used,
        "generations": generations,
        "crossovers": crossovers,
        "backend": "numpy" if kernel is None else "numba",
    }
    return pop_L[top], pop_v[top], stats


# --------------------------------------------------------------------------------------
# Public solver
# --------------------------------------------------------------------------------------


def diverse_grouping(
    distance: Any,
    n_groups: int,
    *,
    min_size: int | Any,
    max_size: int | Any,
    time_limit: float | None = None,
    seed: int = 0,
    max_iterations: int | None = None,
) -> GroupingResult:
    """Partition all elements into ``n_groups`` groups of bounded size, maximising diversity.

    The maximally diverse grouping problem (MDGP): every element goes to
    exactly one group, group ``g`` holds between ``min_size[g]`` and
    ``max_size[g]`` elements, and the sum of ``distance[i, j]`` over pairs
    ``i < j`` in the same group is maximised.

    Parameters
    ----------
    distance : array_like, shape (n, n)
        Symmetric dissimilarities (larger = more diverse). The diagonal is ignored.
    n_groups : int
        Number of groups, ``>= 1``.
    min_size, max_size : int or array_like of int, length ``n_groups``
        Size bounds per group (one int applies to every group).
    time_limit : float, optional
        Wall-clock seconds for the heuristic search. With a time limit the
        answer can depend on machine speed and load; for a reproducible run
        use ``max_iterations`` (alone, or together: whichever ends first).
    seed : int
        Seed of the random choices; same inputs, seed and ``max_iterations``
        (without a binding ``time_limit``) give the same answer.
    max_iterations : int, optional
        Work limit: total tabu-search steps. When neither limit is given a
        default of ``50 * n + 2000`` steps is used (deterministic).

    Returns
    -------
    GroupingResult
        ``labels`` (group per element), ``objective`` (recomputed in float64),
        ``status`` (``"optimal"`` when solved exactly -- by dynamic
        programming over subsets for ``n <= 14`` (``n_groups <= 7`` at
        ``n = 14``), or with one group -- else ``"feasible"``), ``bound`` (an
        upper bound: each element meets at most ``max(max_size) - 1`` others),
        ``method`` (``"subset_dp"``, ``"memetic_tabu"`` or ``"trivial"``) and
        ``options`` (the bounds, limits, steps used, and ``backend``:
        ``"numba"`` or ``"numpy"``).

    Notes
    -----
    Beyond the exact range the search is a memetic tabu search: sizes are
    first chosen to maximise the number of within-group pairs, a small
    population is improved by tabu search over the one-move and swap
    neighbourhoods, and generations of group-inheriting crossover and random
    perturbation follow until the limit. Without numba the neighbourhoods are
    evaluated with numpy; with numba (``pip install numba``) a compiled
    kernel runs several times more steps per second. The first call in a
    process then spends 1-2 s loading numba, inside the time limit. The two
    backends explore differently: each is deterministic for a seed and step
    limit, but they need not return the same grouping.

    Raises
    ------
    InputError
        Non-square, asymmetric or non-finite ``distance``; ``n_groups < 1``;
        size bounds that are inconsistent or cannot hold the ``n`` elements;
        a non-positive ``time_limit``.

    Examples
    --------
    >>> d = np.array([[0, 9, 1, 1], [9, 0, 1, 1], [1, 1, 0, 9], [1, 1, 9, 0]], float)
    >>> res = diverse_grouping(d, 2, min_size=2, max_size=2)
    >>> res.objective, res.status
    (18.0, 'optimal')
    """
    start = time.perf_counter()
    seed = check_seed(seed, "diverse_grouping")
    d_in, lower, upper = _validate(
        distance, n_groups, min_size, max_size, time_limit, max_iterations
    )
    n = d_in.shape[0]
    k = lower.shape[0]
    upper = np.minimum(upper, n)
    d = (d_in + d_in.T) / 2.0
    np.fill_diagonal(d, 0.0)
    options: dict[str, Any] = {
        "n_groups": k,
        "min_size": lower.tolist(),
        "max_size": upper.tolist(),
        "time_limit": time_limit,
        "max_iterations": max_iterations,
    }
    if n == 0:
        labels = np.zeros(0, dtype=np.int64)
        return GroupingResult(
            labels, 0.0, "optimal", 0.0, time.perf_counter() - start, "trivial", seed, options
        )
    if k == 1:
        labels = np.zeros(n, dtype=np.int64)
        obj = _grouping_objective(d_in, labels)
        return GroupingResult(
            labels, obj, "optimal", obj, time.perf_counter() - start, "trivial", seed, options
        )
    if n <= EXACT_MAX_N and k * 3**n <= EXACT_MAX_WORK:
        labels, _ = _exact_dp(d, lower, upper)
        obj = _grouping_objective(d_in, labels)
        return GroupingResult(
            labels, obj, "optimal", obj, time.perf_counter() - start, "subset_dp", seed, options
        )
    problem = _Problem(d, lower, upper)
    rng = np.random.default_rng(seed)
    initial = _labels_of_sizes(_dense_sizes(n, lower, upper, rng), rng)
    if time_limit is None and max_iterations is None:
        max_iterations = 50 * n + 2000
    remaining = (
        None if time_limit is None else max(0.0, float(time_limit) - (time.perf_counter() - start))
    )
    labels, _, stats = _improve(
        problem,
        initial,
        time_limit=remaining,
        max_iterations=max_iterations,
        seed=int(rng.integers(2**31)),
    )
    options.update(stats)
    sizes = np.bincount(labels, minlength=n_groups)
    if np.any(sizes < lower) or np.any(sizes > upper):  # pragma: no cover - a bug if reached
        raise SolverError(
            f"diverse_grouping produced group sizes {sizes.tolist()} outside the bounds; "
            "this is a bug. Fix: rerun with another seed and report the instance."
        )
    obj = _grouping_objective(d_in, labels)
    bound = _upper_bound(d, upper)
    return GroupingResult(
        labels,
        obj,
        "feasible",
        max(bound, obj),
        time.perf_counter() - start,
        "memetic_tabu",
        seed,
        options,
    )
