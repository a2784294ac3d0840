"""Tabu search for grouping problems: the problem form, the numpy and loop kernels, their choice.

Move gains are O(1) from the group sums ``G[i, g]`` (:func:`_group_sums`):
moving ``i`` from ``g`` to ``h`` gains ``G[i, h] - G[i, g]``; swapping ``i`` (in
``g``) with ``j`` (in ``h``) gains ``G[i, h] - G[i, g] + G[j, g] - G[j, h] - 2 d[i, j]``;
a move updates ``G`` in O(n). The neighbourhood is scanned with whole-array
numpy (:class:`_NumpyTabu`) or, when numba is installed, by a compiled loop
kernel (:func:`_tabu_steps` run by :class:`_LoopTabu`) that prunes with gain
upper bounds. :func:`_make_tabu` picks one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pairwise.errors import InputError

_NEG = -np.inf


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


@dataclass
class _Problem:
    """A grouping problem in the general form the kernels optimise.

    Maximise ``sum_g weight[g] * sum_{i<j in g} d[i, j] + sum_i fit[label[i], i]``
    subject to ``lower[g] <= |g| <= upper[g]`` and ``forbidden[g, i]`` never used.
    Plain MDGP is ``weight = 1``, ``fit = 0``, nothing forbidden. An element
    left out of every group is modelled by a pool group with weight 0, fit 0,
    bounds ``[0, n]``. :func:`~pairwise.solvers.mdgp.diverse_grouping` passes
    plain MDGP only; the general terms are kept correct by the kernel tests
    against brute force.
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
        # Neutral terms are dropped so that the kernels take their plain fast paths.
        if self.weight is not None and np.all(self.weight == 1.0):
            self.weight = None
        if self.fit is not None and not np.any(self.fit):
            self.fit = None
        if self.forbidden is not None and not np.any(self.forbidden):
            self.forbidden = None

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


# --------------------------------------------------------------------------------------
# The numpy kernel
# --------------------------------------------------------------------------------------


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
        L = labels.copy()
        GT = _group_sums(p.d, L, k).T.copy()
        sizes = np.bincount(L, minlength=k).astype(np.int64)
        value = p.value(L)
        best_L = L.copy()
        best = value
        eps = 1e-9 * max(1.0, abs(value))
        tabu = np.zeros((k, n), dtype=np.int64)
        tmin, tmax = tenure
        since = 0
        step = 0
        tenures = rng.integers(tmin, tmax + 1, size=2048)
        while step < max_steps and since < depth:
            if deadline is not None and (step & 7) == 0 and time.perf_counter() > deadline:
                break
            M, Madm, is_tabu = self._move_gains(GT, L, tabu, step)
            threshold = best - value + eps
            gain, bi, bj = self._best_swap(M, Madm, L, is_tabu, threshold)
            bh = -1
            move = self._best_move(M, Madm, L, sizes, is_tabu, threshold)
            if move is not None and move[0] > gain:
                gain, bh, bi = move
            if not math.isfinite(gain):
                break
            if (step & 1023) == 0 and step:
                tenures = rng.integers(tmin, tmax + 1, size=2048)
            t1 = step + int(tenures[2 * (step & 1023)])
            t2 = step + int(tenures[2 * (step & 1023) + 1])
            if bh < 0:
                self._swap(GT, L, tabu, bi, bj, t1, t2)
            else:
                self._move(GT, L, sizes, tabu, bi, bh, t1)
            value += gain
            step += 1
            if value > best + eps:
                best = value
                best_L[:] = L
                since = 0
            else:
                since += 1
        return best_L, best, step

    def _move_gains(
        self, GT: np.ndarray, L: np.ndarray, tabu: np.ndarray, step: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``M[h, i]``: the gain of moving ``i`` to ``h`` (own group, forbidden: -inf).

        Also ``Madm`` (``M`` with tabu moves at -inf) and the tabu mask.
        """
        if self.w is None:
            S = GT if self.fit is None else GT + self.fit
        else:
            S = GT * self.w[:, None]
            if self.fit is not None:
                S += self.fit
        M, ar = self.M, self.ar
        own = S[L, ar]
        np.subtract(S, own, out=M)
        M[L, ar] = _NEG
        if self.forb is not None:
            M[self.forb] = _NEG
        is_tabu = tabu > step
        Madm = np.where(is_tabu, _NEG, M)
        return M, Madm, is_tabu

    def _swap_gains(self, M: np.ndarray, L: np.ndarray) -> np.ndarray:
        """``B[j, i] = M[L[j], i] + M[L[i], j] - (w_g + w_h) d[i, j]`` (in ``self.B``)."""
        A, B = self.A, self.B
        np.take(M, L, axis=0, out=A)
        np.add(A, A.T, out=B)
        if self.two_d is not None:
            B -= self.two_d
        else:
            assert self.w is not None
            wl = self.w[L]
            B -= self.p.d * (wl[:, None] + wl[None, :])
        return B

    def _best_swap(
        self,
        M: np.ndarray,
        Madm: np.ndarray,
        L: np.ndarray,
        is_tabu: np.ndarray,
        threshold: float,
    ) -> tuple[float, int, int]:
        """The best admissible swap ``(gain, i, j)``; a tabu swap only when it sets a new best."""
        n = self.p.n
        B = self._swap_gains(Madm, L)
        flat = int(np.argmax(B))
        gain = float(B.flat[flat])
        bi, bj = divmod(flat, n)
        if gain <= threshold and is_tabu.any():
            top = float(M.max())
            # Aspiration: rescan with tabu moves only when one could beat the best value.
            if 2.0 * top + self.extra > threshold:
                B = self._swap_gains(M, L)
                f2 = int(np.argmax(B))
                g2 = float(B.flat[f2])
                if g2 > threshold:
                    gain = g2
                    bi, bj = divmod(f2, n)
        return gain, bi, bj

    def _best_move(
        self,
        M: np.ndarray,
        Madm: np.ndarray,
        L: np.ndarray,
        sizes: np.ndarray,
        is_tabu: np.ndarray,
        threshold: float,
    ) -> tuple[float, int, int] | None:
        """The best admissible one-move ``(gain, h, i)``, or None when sizes allow none."""
        p = self.p
        leave = sizes > p.lower
        enter = sizes < p.upper
        if not (leave.any() and enter.any()):
            return None
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
        bh, bi = divmod(f3, p.n)
        return g3, bh, bi

    def _swap(
        self,
        GT: np.ndarray,
        L: np.ndarray,
        tabu: np.ndarray,
        bi: int,
        bj: int,
        until_i: int,
        until_j: int,
    ) -> None:
        """Swap ``bi`` and ``bj``; each may not return to its group before ``until_*``."""
        d = self.p.d
        g, h = int(L[bi]), int(L[bj])
        delta = d[bj] - d[bi]
        GT[g] += delta
        GT[h] -= delta
        L[bi], L[bj] = h, g
        tabu[g, bi] = until_i
        tabu[h, bj] = until_j

    def _move(
        self,
        GT: np.ndarray,
        L: np.ndarray,
        sizes: np.ndarray,
        tabu: np.ndarray,
        bi: int,
        bh: int,
        until: int,
    ) -> None:
        """Move ``bi`` to group ``bh``; it may not return before ``until``."""
        d = self.p.d
        g = int(L[bi])
        GT[g] -= d[bi]
        GT[bh] += d[bi]
        L[bi] = bh
        sizes[g] -= 1
        sizes[bh] += 1
        tabu[g, bi] = until


# --------------------------------------------------------------------------------------
# The loop kernel: plain Python that numba compiles (helpers registered at compile time)
# --------------------------------------------------------------------------------------


def _loop_move_gains(
    labels: np.ndarray,
    gt: np.ndarray,
    fit: np.ndarray,
    forbidden: np.ndarray,
    weight: np.ndarray,
    m: np.ndarray,
) -> None:
    """Fill ``m[h, i] = S[h, i] - S[L[i], i]``; own group and forbidden at -inf."""
    n = labels.shape[0]
    k = m.shape[0]
    neg = -np.inf
    for i in range(n):
        g = labels[i]
        own = weight[g] * gt[g, i] + fit[g, i]
        for h in range(k):
            if h == g or forbidden[h, i]:
                m[h, i] = neg
            else:
                m[h, i] = weight[h] * gt[h, i] + fit[h, i] - own


def _loop_swap_bounds(
    labels: np.ndarray,
    m: np.ndarray,
    extra: float,
    start: np.ndarray,
    fill: np.ndarray,
    members: np.ndarray,
    pmax: np.ndarray,
    ub: np.ndarray,
) -> None:
    """List members group by group and bound every element's best swap gain.

    ``members[start[h]:start[h + 1]]`` are the members of ``h`` (counting sort);
    ``pmax[g, h]`` is the best that any member of ``h`` can gain by entering
    ``g``, so a swap of ``i`` (in ``g``) with some ``j`` in ``h`` gains at most
    ``m[h, i] + pmax[g, h] + extra``; ``ub[i]`` is the largest such bound.
    """
    n = labels.shape[0]
    k = m.shape[0]
    neg = -np.inf
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


def _loop_best_swap(
    d: np.ndarray,
    labels: np.ndarray,
    m: np.ndarray,
    weight: np.ndarray,
    tabu: np.ndarray,
    step: int,
    threshold: float,
    extra: float,
    start: np.ndarray,
    members: np.ndarray,
    pmax: np.ndarray,
    ub: np.ndarray,
) -> tuple[float, int, int]:
    """The best admissible swap ``(gain, i, j)`` (``i = -1``: none), scanned by bound.

    Elements are taken in decreasing order of ``ub`` and the scan stops once
    the bound cannot beat the best admissible swap found: usually only a few
    elements are examined.
    """
    n = labels.shape[0]
    k = m.shape[0]
    order = np.argsort(-ub)
    best_gain = -np.inf
    bi = -1
    bj = -1
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
    return best_gain, bi, bj


def _loop_best_move(
    labels: np.ndarray,
    m: np.ndarray,
    sizes: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    tabu: np.ndarray,
    step: int,
    threshold: float,
    best_gain: float,
    bi: int,
    bj: int,
) -> tuple[float, int, int, int]:
    """``(gain, i, j, h)``: the swap found, or a better one-move ``i -> h`` (then ``j = -1``)."""
    n = labels.shape[0]
    k = m.shape[0]
    bh = -1
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
    return best_gain, bi, bj, bh


def _loop_apply(
    d: np.ndarray,
    labels: np.ndarray,
    gt: np.ndarray,
    sizes: np.ndarray,
    tabu: np.ndarray,
    bi: int,
    bj: int,
    bh: int,
    until_i: int,
    until_j: int,
) -> None:
    """Swap ``bi`` with ``bj`` (``bj >= 0``) or move ``bi`` to ``bh``; mark the way back tabu."""
    n = labels.shape[0]
    g = labels[bi]
    if bj >= 0:
        h = labels[bj]
        for x in range(n):
            delta = d[bj, x] - d[bi, x]
            gt[g, x] += delta
            gt[h, x] -= delta
        labels[bi] = h
        labels[bj] = g
        tabu[g, bi] = until_i
        tabu[h, bj] = until_j
    else:
        for x in range(n):
            gt[g, x] -= d[bi, x]
            gt[bh, x] += d[bi, x]
        labels[bi] = bh
        sizes[g] -= 1
        sizes[bh] += 1
        tabu[g, bi] = until_i


#: The helpers :func:`_tabu_steps` calls: numba must know them before compiling it.
_LOOP_HELPERS = (
    _loop_move_gains,
    _loop_swap_bounds,
    _loop_best_swap,
    _loop_best_move,
    _loop_apply,
)


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
    ``i``'s group), see :func:`_loop_best_swap`.
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
    while step < stop and since < depth:
        _loop_move_gains(labels, gt, fit, forbidden, weight, m)
        _loop_swap_bounds(labels, m, extra, start, fill, members, pmax, ub)
        threshold = best - value + eps
        best_gain, bi, bj = _loop_best_swap(
            d, labels, m, weight, tabu, step, threshold, extra, start, members, pmax, ub
        )
        best_gain, bi, bj, bh = _loop_best_move(
            labels, m, sizes, lower, upper, tabu, step, threshold, best_gain, bi, bj
        )
        if bi < 0 or best_gain == -np.inf:
            break
        t1 = tmin + np.random.randint(0, tmax - tmin + 1)  # noqa: NPY002
        t2 = tmin + np.random.randint(0, tmax - tmin + 1)  # noqa: NPY002
        _loop_apply(d, labels, gt, sizes, tabu, bi, bj, bh, step + t1, step + t2)
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


def _compiled_kernel() -> Callable[..., None] | None:
    """The numba-compiled :func:`_tabu_steps`, or None when numba is not installed."""
    if "kernel" not in _COMPILED:
        try:
            import numba
            from numba.extending import register_jitable
        except ImportError:
            _COMPILED["kernel"] = None
        else:
            # Registered, the plain helpers compile wherever the kernel calls them,
            # and stay plain Python everywhere else (the tests run the kernel uncompiled).
            for helper in _LOOP_HELPERS:
                register_jitable(helper)
            _COMPILED["kernel"] = numba.njit(cache=True, nogil=True)(_tabu_steps)
    return _COMPILED["kernel"]


class _LoopTabu:
    """Tabu search through :func:`_tabu_steps` (compiled by numba when available).

    Runs the kernel in chunks so that a wall-clock deadline can be checked
    between them; the chunk length adapts to about 20 ms.
    """

    def __init__(self, problem: _Problem, kernel: Callable[..., None]) -> None:
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
        """Tabu search from ``labels`` until ``depth`` steps bring no new best.

        Returns ``(best_labels, best_value, steps)``.
        """
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


def _make_tabu(problem: _Problem, accelerate: bool | None) -> _NumpyTabu | _LoopTabu:
    """The tabu kernel for ``problem``: the compiled loops or whole-array numpy.

    ``accelerate``: None uses numba when installed, False forces numpy, True
    requires numba.

    Raises
    ------
    InputError
        ``accelerate=True`` without numba.
    """
    kernel = _compiled_kernel() if accelerate is not False else None
    if accelerate and kernel is None:
        raise InputError(
            "`accelerate=True` needs numba; got numba not installed. Fix: pip install numba."
        )
    return _NumpyTabu(problem) if kernel is None else _LoopTabu(problem, kernel)
