"""Learning groups: penalty-driven local search (move / swap gains, work budget, repair)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _ortools
from ._groups_problem import _Problem

#: Work units per calibrated second for the local search: one unit is one
#: element-rule operation of a vectorised gain evaluation. Measured as thread CPU
#: time (which a busy machine barely changes): 3.8e7 units per second on 150 x 930
#: with diversity, meeting-time and three rule columns; 6.5e7 without the first two.
#: The lower figure keeps the budget's promise (at most that long) on both.
_LS_UNITS_PER_SECOND = 3.5e7

#: Local search: lowest penalty weight (in units of the fit range) and the number
#: of feasible passes without a better grouping before large-neighbourhood search
#: takes over (measured: lower floors and longer runs did not pay off there).
_LAM_FLOOR = 1.0
_LS_STALE = 3


class _Search:
    """Grouping state with incremental counts and vectorised move / swap gains.

    Arrays indexed by group carry one extra slot at the end for "unassigned",
    so ``arr[label]`` works with label ``-1``; that slot never changes state.
    """

    def __init__(self, prob: _Problem, labels: np.ndarray) -> None:
        self.prob = prob
        L, P = prob.fit.shape
        self.L, self.P = L, P
        self.fitp = np.vstack([prob.fit, np.zeros((1, P))])
        self.candp = np.vstack([prob.cand, np.ones((1, P), dtype=bool)])
        self.minp = np.append(prob.min_size, 0)
        self.maxp = np.append(prob.max_size, P)
        self.wt = prob.w_int.astype(np.float64)
        rules = prob.rules
        self.cols: list[tuple[np.ndarray, int, int, int, bool]] = []
        for c in range(rules.n_columns):
            if rules.min_distinct[c] < 1 and rules.max_count[c] <= 0 and not rules.no_isolation[c]:
                continue
            nv = rules.n_values(c)
            code = np.where(rules.codes[c] < 0, nv, rules.codes[c]).astype(np.int64)
            self.cols.append(
                (
                    code,
                    nv,
                    int(rules.min_distinct[c]),
                    int(rules.max_count[c]),
                    bool(rules.no_isolation[c]),
                )
            )
        self.wd = prob.wd
        # one byte per pair; counts per group are summed in int32 (`_group_sums`)
        self.conf = None if prob.conflict is None else prob.conflict.view(np.int8)
        self.work = 0.0
        self.proven = False
        self.reset(labels)

    # -- state -------------------------------------------------------------
    def reset(self, labels: np.ndarray) -> None:
        L = self.L
        self.lab = labels.astype(np.int64).copy()
        placed = self.lab >= 0
        self.size = np.append(np.bincount(self.lab[placed], minlength=L), 0)
        self.cnt = []
        self.dist = []
        for code, nv, *_ in self.cols:
            cnt = np.zeros((L + 1, nv + 1), dtype=np.int64)
            np.add.at(cnt, (self.lab[placed], code[placed]), 1)
            self.cnt.append(cnt)
            self.dist.append(np.count_nonzero(cnt[:, :nv], axis=1))
        if self.wd is not None:
            self.ds = _member_sums(self.wd, self.lab, L, np.float64)
        if self.conf is not None:
            self.kc = _member_sums(self.conf, self.lab, L, np.int32)
        # conflicting pairs per group (`together`), counted in the penalty
        self.clash = np.zeros(L + 1, dtype=np.int64)
        if self.conf is not None and placed.any():
            per = self.kc[np.flatnonzero(placed), self.lab[placed]]
            self.clash[:L] = np.bincount(self.lab[placed], weights=per, minlength=L) // 2
        self.pen = np.zeros(L + 1, dtype=np.int64)
        for g in range(L):
            self.pen[g] = self._group_pen(g)

    def _group_pen(self, g: int) -> int:
        if g < 0 or self.size[g] == 0:
            return 0
        total = int(self.clash[g])
        for k, (_, nv, md, mc, iso) in enumerate(self.cols):
            row = self.cnt[k][g, :nv]
            if md > 0:
                total += max(0, md - int(self.dist[k][g]))
            if mc > 0:
                total += int(np.maximum(0, row - mc).sum())
            if iso:
                total += int(np.count_nonzero(row == 1))
        return total

    def relocate(self, p: int, b: int) -> None:
        """Move protégé ``p`` to group ``b`` (``-1``: unassign) and update everything."""
        a = int(self.lab[p])
        if a == b:
            return
        L = self.L
        self.lab[p] = b
        for k, (code, nv, *_) in enumerate(self.cols):
            v = code[p]
            if a >= 0:
                self.cnt[k][a, v] -= 1
                self.dist[k][a] = np.count_nonzero(self.cnt[k][a, :nv])
            if b >= 0:
                self.cnt[k][b, v] += 1
                self.dist[k][b] = np.count_nonzero(self.cnt[k][b, :nv])
        if a >= 0:
            self.size[a] -= 1
        if b >= 0:
            self.size[b] += 1
        if self.wd is not None:
            col = self.wd[p]  # symmetric: the row is the column, read contiguously
            if a >= 0:
                self.ds[:, a] -= col
            if b >= 0:
                self.ds[:, b] += col
        if self.conf is not None:
            col = self.conf[p]
            if a >= 0:
                self.kc[:, a] -= col
                self.clash[a] -= self.kc[p, a]
            if b >= 0:
                self.clash[b] += self.kc[p, b]
                self.kc[:, b] += col
        if a >= 0:
            self.pen[a] = self._group_pen(a)
        if b >= 0:
            self.pen[b] = self._group_pen(b)
        self.pen[L] = 0

    # -- evaluation --------------------------------------------------------
    def _replace(self, k: int, g: Any, vo: Any, vi: Any) -> np.ndarray:
        """Penalty change in groups ``g`` when a member of value ``vo`` is replaced by ``vi``.

        Value ``nv`` (unknown) stands for "nobody", so a pure removal is
        ``vi = nv`` and a pure addition ``vo = nv``. The unassigned slot
        never changes penalty.
        """
        _, nv, md, mc, iso = self.cols[k]
        cnt = self.cnt[k]
        xo = cnt[g, vo]
        xi = cnt[g, vi]
        ko = vo != nv
        ki = vi != nv
        diff = vo != vi
        delta = np.zeros(np.broadcast(g, vo, vi).shape, dtype=np.int64)
        if md > 0:
            dist = self.dist[k][g]
            dd = (ki & (xi == 0)).astype(np.int64) - (ko & (xo == 1))
            delta += np.maximum(0, md - dist - dd) - np.maximum(0, md - dist)
        if mc > 0:
            delta += (ki & (xi >= mc)).astype(np.int64) - (ko & (xo > mc))
        if iso:
            delta += (ki & (xi == 0)).astype(np.int64) - (ki & (xi == 1))
            delta += (ko & (xo == 2)).astype(np.int64) - (ko & (xo == 1))
        return np.where(diff & (np.asarray(g) != self.L), delta, 0)

    def best_move(
        self, p: int, lam: float, lam_w: float, allow_eject: bool = False
    ) -> tuple[float, int]:
        """Best relocation of ``p`` (into another open group with room, or out)."""
        a = int(self.lab[p])
        L = self.L
        if a >= 0 and self.size[a] <= self.minp[a] and not allow_eject:
            return -np.inf, -2
        groups = np.arange(L)
        ok = self.candp[:L, p] & (self.size[:L] > 0) & (self.size[:L] < self.maxp[:L])
        if a >= 0:
            ok[a] = False
            if self.size[a] <= self.minp[a]:
                ok[:] = False
        dpen = np.zeros(L, dtype=np.int64)
        out_pen = 0
        if self.conf is not None:
            dpen += self.kc[p, :L]
            out_pen -= int(self.kc[p, a]) if a >= 0 else 0
        for k, (code, nv, *_) in enumerate(self.cols):
            v = code[p]
            out_pen += int(self._replace(k, a, v, nv))
            dpen += self._replace(k, groups, nv, v)
        dpen += out_pen
        dobj = self.fitp[:L, p] - self.fitp[a, p]
        if self.wd is not None:
            dobj = dobj + self.ds[p, :L] - self.ds[p, a]
        dw = self.wt[p] if a < 0 else 0.0
        gain = lam_w * dw + dobj - lam * dpen
        if dw != 0:
            ok &= dpen <= 0
        self.work += L * (2 + 4 * len(self.cols))
        best_gain, best_b = -np.inf, -2
        if ok.any():
            gain = np.where(ok, gain, -np.inf)
            b = int(np.argmax(gain))
            best_gain, best_b = float(gain[b]), b
        if allow_eject and a >= 0:
            # leaving the group: only to repair rules
            g_out = -lam_w * self.wt[p] - self.fitp[a, p] - lam * out_pen
            if self.wd is not None:
                g_out -= self.ds[p, a]
            if self.size[a] - 1 >= self.minp[a] and out_pen < 0 and g_out > best_gain:
                best_gain, best_b = float(g_out), -1
        return best_gain, best_b

    def best_swap(
        self, p: int, lam: float, lam_w: float, qs: np.ndarray | None = None
    ) -> tuple[float, int]:
        """Best exchange of ``p`` with another protégé (possibly an unassigned one)."""
        a = int(self.lab[p])
        lab = self.lab
        if qs is None:
            qs = np.arange(self.P)
        b = lab[qs]
        ok = (b != a) & self.candp[b, p] & self.candp[a, qs]
        if a < 0:
            ok &= b >= 0
        if not ok.any():
            return -np.inf, -1
        dpen = np.zeros(len(qs), dtype=np.int64)
        if self.conf is not None:
            # p leaves a and joins b without q; q leaves b and joins a without p
            cpq = self.conf[p, qs]
            kc = self.kc
            dpen += kc[p, b] - cpq * (b >= 0) - kc[p, a] * (a >= 0)
            dpen += (kc[qs, a] - cpq) * (a >= 0) - kc[qs, b] * (b >= 0)
        for k, (code, _nv, *_) in enumerate(self.cols):
            vp = code[p]
            vq = code[qs]
            dpen += self._replace(k, a, vp, vq)
            dpen += self._replace(k, b, vq, vp)
        fitp = self.fitp
        dobj = fitp[b, p] - fitp[a, p] + fitp[a, qs] - fitp[b, qs]
        if self.wd is not None:
            wpq = self.wd[p, qs]
            ds = self.ds
            dobj = (
                dobj
                + ds[p, b]
                - wpq * (b >= 0)
                + ds[qs, a]
                - (wpq if a >= 0 else 0.0)
                - ds[p, a]
                - ds[qs, b]
            )
        if a < 0:
            dw = self.wt[p] - self.wt[qs] * 1.0
            dw = np.where(b >= 0, dw, 0.0)
        else:
            dw = np.where(b < 0, self.wt[qs] - self.wt[p], 0.0)
        ok &= (dw == 0) | (dpen <= 0)
        ok &= dw >= 0
        gain = lam_w * dw + dobj - lam * dpen
        self.work += len(qs) * (4 + 6 * len(self.cols))
        gain = np.where(ok, gain, -np.inf)
        i = int(np.argmax(gain))
        return float(gain[i]), int(qs[i])

    def swap(self, p: int, q: int) -> None:
        a, b = int(self.lab[p]), int(self.lab[q])
        # through the unassigned slot, so no group ever exceeds its bounds midway
        self.relocate(p, -1)
        self.relocate(q, a)
        self.relocate(p, b)

    def culprits(self) -> np.ndarray:
        """Members of rule-breaking groups who take part in a broken rule, in index order.

        A member takes part when its leaving would lower one rule's penalty
        of its group (a conflicting pair, an isolated value, a value over its
        cap), or when its group is short of distinct values (leaving never
        helps there, a swap does).
        """
        members = np.flatnonzero(self.lab >= 0)
        g = self.lab[members]
        broken = self.pen[g] > 0
        members, g = members[broken], g[broken]
        part = np.zeros(len(members), dtype=bool)
        if self.conf is not None:
            part |= self.kc[members, g] > 0
        for k, (code, nv, md, *_) in enumerate(self.cols):
            part |= self._replace(k, g, code[members], nv) < 0
            if md > 0:
                part |= self.dist[k][g] < md
        return members[part]

    @property
    def total_pen(self) -> int:
        return int(self.pen[: self.L].sum())

    def objective(self) -> float:
        return _objective(self.prob, self.lab)

    def placed_weight(self) -> int:
        return int(self.prob.w_int[self.lab >= 0].sum())


def _group_sums(M: np.ndarray, labels: np.ndarray, L: int, dtype: Any = None) -> np.ndarray:
    """``out[:, g] = Σ M[:, q]`` over members ``q`` of group ``g``; column ``L`` (unassigned) 0.

    ``M`` is symmetric, so the columns are summed as rows: the members' rows
    are gathered in group order (contiguous reads) and added group by group
    (O(P²), no one-hot product: 0.35 s on 930 protégés x 150 leaders), in
    ``dtype`` (default ``M``'s).
    """
    dtype = M.dtype if dtype is None else np.dtype(dtype)
    out = np.zeros((M.shape[0], L + 1), dtype=dtype)
    placed = np.flatnonzero(labels >= 0)
    if placed.size == 0:
        return out
    order = placed[np.argsort(labels[placed], kind="stable")]
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sums = np.add.reduceat(M[order], starts, axis=0, dtype=dtype)
    out[:, sorted_labels[starts]] = sums.T
    return out


def _member_sums(M: np.ndarray, labels: np.ndarray, L: int, dtype: Any) -> np.ndarray:
    """:func:`_group_sums` of a symmetric ``M`` as ``dtype``, stored column by column.

    One sparse product (group one-hot × ``M``, O(P²), in ``M``'s float
    precision, int32 for integer ``M``) with no copy of ``M``; the result is
    the transpose of a C-ordered ``(L + 1, P)`` array, so the column of one
    group (what a relocation updates) is contiguous.
    """
    P = M.shape[0]
    placed = np.flatnonzero(labels >= 0)
    acc = np.int32 if np.issubdtype(M.dtype, np.integer) else M.dtype
    onehot = sp.csr_matrix(
        (np.ones(len(placed), dtype=acc), (labels[placed], placed)), shape=(L + 1, P)
    )
    sums = np.asarray(onehot @ M)
    if sums.dtype != np.dtype(dtype):
        sums = sums.astype(dtype)
    return sums.T


def _objective(prob: _Problem, labels: np.ndarray) -> float:
    """Σ fit of placed protégés + Σ weighted distance of pairs sharing a group."""
    placed = np.flatnonzero(labels >= 0)
    total = float(prob.fit[labels[placed], placed].sum())
    if prob.wd is not None and len(placed) > _DENSE_OBJECTIVE:
        total += float(prob.wd[_same_group_pairs(labels)].sum(dtype=np.float64))
    elif prob.wd is not None and len(placed):
        sub = labels[placed]
        same = sub[:, None] == sub[None, :]
        block = prob.wd[np.ix_(placed, placed)].astype(np.float64, copy=False)
        total += 0.5 * float((block * same).sum())
    return total


#: Most placed protégés for which :func:`_objective` sums the diversity term on the
#: placed × placed block; above it, over the pairs sharing a group only.
_DENSE_OBJECTIVE = 2048


def _same_group_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(p, q)``, ``p`` before ``q`` in group order, of protégés sharing a group.

    O(placed × largest group) instead of the placed × placed mask.
    """
    placed = np.flatnonzero(labels >= 0)
    order = placed[np.argsort(labels[placed], kind="stable")]
    lab = labels[order]
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for d in range(1, len(order)):
        same = lab[d:] == lab[:-d]
        if not same.any():
            break
        rows.append(order[:-d][same])
        cols.append(order[d:][same])
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)


#: Seconds between two progress reports of a search (about two a second).
_REPORT_EVERY = 0.5

ProgressFn = Callable[[float, "float | None"], None]


@dataclass
class _Budget:
    """A search's deterministic work budget, with the wall clock only as a safety cap.

    ``limit`` is work in calibrated seconds (local-search units and CP-SAT
    deterministic time converted at their measured idle rates), so the same
    seed gives the same answer however busy the machine is. ``deadline`` (a
    ``time.perf_counter()`` value) cuts the search when the machine is so slow
    that the work would overrun it; :attr:`stopped_by_time_limit` then records
    that the answer is the best found so far.
    """

    limit: float | None
    max_iterations: int | None
    deadline: float | None = None
    progress: ProgressFn | None = None
    start: float = field(default_factory=time.perf_counter)
    used: float = 0.0
    iterations: int = 0
    first_feasible: float | None = None
    stopped_by_time_limit: bool = False
    last_report: float = -math.inf

    def spend(self, seconds: float) -> None:
        self.used += seconds

    @property
    def remaining(self) -> float:
        if self.limit is None:
            return math.inf
        return self.limit - self.used

    def out_of_time(self) -> bool:
        """Whether the wall-clock cap is reached (and record that it cut the search)."""
        if _ortools.past(self.deadline):
            self.stopped_by_time_limit = True
            return True
        return False

    def exhausted(self) -> bool:
        if self.max_iterations is not None and self.iterations >= self.max_iterations:
            return True
        if self.limit is not None and self.used >= self.limit:
            return True
        return self.out_of_time()

    def report(self, objective: Callable[[], float]) -> None:
        """Pass the best objective so far (computed only when due) to ``progress``.

        At most one report every half second, so the search pays nothing measurable.
        """
        if self.progress is None:
            return
        now = time.perf_counter()
        if now - self.last_report >= _REPORT_EVERY:
            self.last_report = now
            self.progress(objective(), None)


def _local_search(
    search: _Search,
    budget: _Budget,
    rng: np.random.Generator,
    *,
    lam_w: float,
    lam0: float,
    max_passes: int = 50,
) -> np.ndarray:
    """Move / swap descent with an adaptive rule penalty; returns the best rule-feasible labels.

    The penalty weight doubles after every pass that ends with broken rules
    and halves after passes spent feasible (strategic oscillation between
    the feasible and infeasible sides of the rule boundary), down to the fit
    range. When a pass improves nothing and rules are still broken,
    protégés may leave the groups that break them (only as far as
    ``min_size`` allows); if that is not enough, groups that still break them
    are closed, so a rule-feasible grouping always results. When the budget
    ends before any pass meets every rule, the same repair runs, the waiting
    leaders left without a group form new ones from the waiting and the
    rest are seated where no rule breaks (:func:`_reopen_closed`,
    :func:`_seat_waiting`).
    """
    lam = 4.0 * lam0
    best: np.ndarray | None = None
    best_key = (-math.inf, -math.inf)
    stale = 0
    eject = False
    for _ in range(max_passes):
        if budget.exhausted():
            break
        before = search.work
        improved = False
        cut = False
        large = search.P > _LARGE
        for k, p in enumerate(_pass_order(search, rng, large)):
            spent = (search.work - before) / _LS_UNITS_PER_SECOND
            if k % 64 == 63 and (budget.out_of_time() or spent > budget.remaining):
                cut = True
                break
            gm, b = search.best_move(p, lam, lam_w, allow_eject=eject)
            qs = rng.integers(0, search.P, _SWAP_SAMPLE) if large else None
            gs, q = search.best_swap(p, lam, lam_w, qs)
            if max(gm, gs) <= 1e-9 * max(lam0, 1e-12):
                continue
            improved = True
            if gm >= gs:
                search.relocate(int(p), b)
            else:
                search.swap(int(p), q)
        budget.spend((search.work - before) / _LS_UNITS_PER_SECOND)
        budget.iterations += 1
        pen = search.total_pen
        if pen == 0:
            key = (search.placed_weight(), search.objective())
            if key > best_key:
                best_key, best = key, search.lab.copy()
                stale = 0
                budget.report(functools.partial(float, key[1]))
            else:
                stale += 1
            at_floor = lam <= _LAM_FLOOR * lam0
            lam = max(_LAM_FLOOR * lam0, lam / 2.0)
            if cut or stale >= _LS_STALE or (not improved and at_floor):
                break
        elif cut:
            break
        else:
            lam = min(lam * 2.0, 1e6 * lam0)
            if not improved:
                if eject:
                    _close_broken(search)
                eject = True
    if best is None:
        _eject_broken(search)
        _close_broken(search)
        _reopen_closed(search)
        _seat_waiting(search, lam_w=lam_w, lam=4.0 * lam0)
        best = search.lab.copy()
    return best


#: Protégés above which a pass works at scale: while rules are broken it visits only
#: the unassigned and the members who take part in a broken rule
#: (:meth:`_Search.culprits`), and each protégé weighs swaps with :data:`_SWAP_SAMPLE`
#: protégés drawn at random instead of all of them, so a pass costs
#: O(P × (L + sample)) instead of O(P²).
_LARGE = 2000
_SWAP_SAMPLE = 512


def _pass_order(search: _Search, rng: np.random.Generator, large: bool) -> np.ndarray:
    """The protégés one local-search pass visits, in a random order."""
    if not large or search.total_pen == 0:
        return rng.permutation(search.P)
    visit = np.union1d(search.culprits(), np.flatnonzero(search.lab < 0))
    return rng.permutation(visit)


def _eject_broken(search: _Search) -> None:
    """Take members out of rule-breaking groups while that lowers the penalty."""
    for g in np.flatnonzero(search.pen[: search.L] > 0):
        _eject_from(search, int(g))


def _eject_from(search: _Search, g: int) -> None:
    """Take members out of group ``g`` while that lowers its penalty and ``min_size`` allows.

    Each step removes the member (the first, on ties) whose leaving lowers
    the penalty most, evaluated for all members at once.
    """
    while search.pen[g] > 0 and search.size[g] > search.minp[g]:
        members = np.flatnonzero(search.lab == g)
        delta = np.zeros(len(members), dtype=np.int64)
        if search.conf is not None:
            delta -= search.kc[members, g]
        for k, (code, nv, *_) in enumerate(search.cols):
            delta += search._replace(k, g, code[members], nv)
        i = int(np.argmin(delta))
        if delta[i] >= 0:
            break
        search.relocate(int(members[i]), -1)


def _reopen_closed(search: _Search) -> bool:
    """Form groups for leaders without one from the waiting protégés, greedily.

    For each such leader (index order) with at least ``min_size`` allowed
    waiting protégés: add them by decreasing fit, skipping any in conflict
    with a member, up to ``max_size``; take out members breaking rules while
    ``min_size`` allows; keep the group only when every rule holds. Returns
    whether any group was formed.
    """
    prob = search.prob
    formed = False
    for g in range(search.L):
        if search.size[g] > 0:
            continue
        waiting = np.flatnonzero((search.lab < 0) & prob.cand[g])
        if len(waiting) < search.minp[g]:
            continue
        order = waiting[np.argsort(-prob.fit[g, waiting], kind="stable")]
        for p in order:
            if search.size[g] >= search.maxp[g]:
                break
            if search.conf is not None and search.kc[p, g] > 0:
                continue
            search.relocate(int(p), g)
        _eject_from(search, g)
        if search.pen[g] > 0 or search.size[g] < search.minp[g]:
            for p in np.flatnonzero(search.lab == g):
                search.relocate(int(p), -1)
        else:
            formed = True
    return formed


def _seat_waiting(
    search: _Search, *, lam_w: float, lam: float, deadline: float | None = None
) -> None:
    """Seat unassigned protégés in open groups with room where no rule breaks.

    The repair after a search cut before every rule held: closing the
    groups that broke rules unseats their members, and most of them fit in
    another group as it stands. Highest priority first (then index order);
    each protégé takes its best such seat, kept only when its group's
    penalty stays 0, so the grouping stays rule-feasible. It runs to the end
    even past the wall clock's deadline (one vectorised evaluation per waiting
    protégé, far less than the result reserve's share per person): the
    repair is part of the answer, and stopping it would leave people waiting
    beside empty seats. With ``deadline`` (a ``time.perf_counter()`` value) it
    stops there instead: the finishing touch after a search that did meet
    every rule.
    """
    room = np.flatnonzero(
        (search.size[: search.L] > 0) & (search.size[: search.L] < search.maxp[: search.L])
    )
    if not len(room):
        return
    # only those with an allowed open group with room can be seated
    waiting = np.flatnonzero((search.lab < 0) & search.prob.cand[room].any(axis=0))
    order = waiting[np.argsort(-search.wt[waiting], kind="stable")]
    for p in order:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        gain, b = search.best_move(int(p), lam, lam_w)
        if b < 0 or not np.isfinite(gain):
            continue
        search.relocate(int(p), b)
        if search.pen[b] != 0:
            search.relocate(int(p), -1)


def _close_broken(search: _Search) -> None:
    """Unassign every member of a group that still breaks a rule (always rule-feasible)."""
    for g in np.flatnonzero(search.pen[: search.L] > 0):
        for p in np.flatnonzero(search.lab == g):
            search.relocate(int(p), -1)
