"""Learning groups: leaders with 5–7 protégés each, under composition and accessibility rules.

Two engines solve the same problem:

* an exact CP-SAT model (boolean per allowed pair, group-open booleans with
  size bounds, composition rules as linear constraints on per-value counts,
  a lexicographic objective: most protégés placed, then the best objective),
  used when the instance is small enough to prove optimality and as the
  baseline a user would otherwise write by hand;
* for organisation scale, a construction by min-cost flow (the assignment
  optimum with group capacities and one ``max_count`` rule kept exactly; the
  same flow without minimum sizes gives the reported upper bound), a
  penalty-driven local search with vectorised move and swap gains that
  repairs the composition rules (strategic oscillation of the penalty
  weight), and large-neighbourhood search that re-solves a few groups at a
  time exactly with CP-SAT, choosing them along chains of protégés displaced
  from the rule-free optimum or among groups whose members would rather swap.

Both are deterministic for a fixed seed: ``time_limit`` is spent as a
*deterministic* work budget (local-search work counted in calibrated units,
CP-SAT in its own deterministic time), with a wall-clock guard of three times
the limit, like :func:`pairwise.solvers._ortools.solve_cp`.

The maximally-diverse-grouping kernels of :mod:`pairwise.solvers.mdgp` are not
reused: moves here must also weigh the fit to a leader, rule penalties, the
unassigned pool and the ``together`` mask, which the kernels below track
together.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..diversity import (
    CompositionRules,
    Diagnosis,
    diagnose,
    group_counts,
    group_penalties,
    make_rules,
)
from ..errors import InfeasibleError, InputError, SolverError
from . import _ortools
from ._result import GroupingResult
from ._validation import check_max_iterations, check_per_row, check_seed, check_time_limit

__all__ = ["learning_groups"]

logger = logging.getLogger(__name__)

METHODS = ("auto", "exact", "heuristic")

#: Largest number of allowed (leader, protégé) pairs for which ``method="auto"``
#: uses the exact model; above it the heuristic runs.
EXACT_PAIRS = 400

#: Work units per second of ``time_limit`` for the local search: one unit is
#: one element-rule operation of a vectorised gain evaluation (calibrated so a
#: budget of ``time_limit`` seconds takes about that long on an idle 2-core
#: machine; a loaded machine takes longer, up to the 3x wall-clock guard).
_LS_UNITS_PER_SECOND = 6.5e7

#: Wall-clock seconds per unit of CP-SAT deterministic time on the small
#: models of large-neighbourhood search (measured about 2 on an idle machine),
#: and seconds to build such a model per variable.
_CP_WALL_PER_DET = 2.0
_CP_BUILD_PER_VAR = 3e-5

#: Local search: lowest penalty weight (in units of the fit range) and the number
#: of feasible passes without a better grouping before large-neighbourhood search
#: takes over (measured: lower floors and longer runs did not pay off there).
_LAM_FLOOR = 1.0
_LS_STALE = 3

#: Share of large-neighbourhood steps guided by the rule-free optimum.
_GUIDED_SHARE = 0.5

#: Default deterministic budget (seconds) when ``time_limit`` is None and the
#: heuristic runs: it then stops when large-neighbourhood search stalls.
_DEFAULT_HEURISTIC_LIMIT = 60.0


# --------------------------------------------------------------------------
# problem data
# --------------------------------------------------------------------------


@dataclass
class _Problem:
    """Validated arrays the engines share (never the caller's objects)."""

    fit: np.ndarray  # (L, P) float64, 0 where not allowed
    allowed: np.ndarray  # (L, P) bool as given
    cand: np.ndarray  # (L, P) bool: allowed and not excluded by pre-checks
    min_size: np.ndarray  # (L,) int64
    max_size: np.ndarray  # (L,) int64
    weights: np.ndarray | None  # (P,) float64 or None
    w_int: np.ndarray  # (P,) int64 priority tiers (1 when no weights)
    rules: CompositionRules
    conflict: np.ndarray | None  # (P, P) bool: True where two may NOT share a group
    wd: np.ndarray | None  # (P, P) float64 symmetric diversity_weight * distance, 0 diagonal
    scale: float
    fit_int: np.ndarray  # (L, P) int64
    wd_int: np.ndarray | None  # (P, P) int64

    @property
    def n_leaders(self) -> int:
        return self.fit.shape[0]

    @property
    def n_proteges(self) -> int:
        return self.fit.shape[1]


def _as_sizes(value: Any, n: int, name: str) -> np.ndarray:
    return check_per_row(value, n, name, "learning_groups", unit="leader", minimum=1)


def _validate(
    fit: Any,
    *,
    min_size: Any,
    max_size: Any,
    allowed: Any,
    attributes: Any,
    min_distinct: Any,
    max_count: Any,
    no_isolation: Any,
    distance: Any,
    diversity_weight: Any,
    time_limit: Any,
    seed: Any,
    weights: Any,
    together: Any,
    max_iterations: Any,
    method: Any,
) -> tuple[_Problem, np.ndarray]:
    """Check every input and build a :class:`_Problem`; returns it and the pair mask."""
    if method not in METHODS:
        raise InputError(
            f"`method` must be one of {list(METHODS)}; got {method!r}. Fix: use method='auto'."
        )
    check_time_limit(time_limit, "learning_groups")
    check_seed(seed, "learning_groups")
    check_max_iterations(max_iterations, "learning_groups")
    try:
        import scipy.sparse as sp

        sparse = sp.issparse(fit)
    except ImportError:  # pragma: no cover - scipy is a dependency
        sparse = False
    if sparse:
        if allowed is not None:
            raise InputError(
                "`allowed` must be omitted when `fit` is sparse (its stored entries are the "
                "allowed pairs); got both. Fix: drop `allowed`."
            )
        coo = fit.tocoo()
        dense = np.zeros(fit.shape, dtype=np.float64)
        mask = np.zeros(fit.shape, dtype=bool)
        dense[coo.row, coo.col] = coo.data
        mask[coo.row, coo.col] = True
        fit_arr = dense
        allowed_arr = mask
    else:
        fit_arr = np.array(fit, dtype=np.float64, copy=True)
        if fit_arr.ndim != 2:
            raise InputError(
                f"`fit` must be a 2-D array (leaders × protégés); got {fit_arr.ndim} dimension(s)."
            )
        if allowed is None:
            allowed_arr = np.ones(fit_arr.shape, dtype=bool)
        else:
            allowed_arr = np.asarray(allowed)
            if allowed_arr.shape != fit_arr.shape:
                raise InputError(
                    f"`allowed` must have the shape of `fit` {fit_arr.shape}; "
                    f"got {allowed_arr.shape}. Fix: pass a mask with one entry per pair."
                )
            if allowed_arr.dtype != bool:
                raise InputError(
                    f"`allowed` must be a boolean mask; got dtype {allowed_arr.dtype}. "
                    "Fix: pass allowed.astype(bool)."
                )
            allowed_arr = allowed_arr.copy()
    n_leaders, n_proteges = fit_arr.shape
    bad = allowed_arr & ~np.isfinite(fit_arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(
            f"`fit` must be finite where pairs are allowed; got {fit_arr[r, c]} at "
            f"(leader {r}, protégé {c}) and {int(bad.sum()) - 1} more. "
            "Fix: mark such pairs as not allowed."
        )
    fit_arr = np.where(allowed_arr, fit_arr, 0.0)
    mins = _as_sizes(min_size, n_leaders, "min_size")
    maxs = _as_sizes(max_size, n_leaders, "max_size")
    if np.any(mins > maxs):
        g = int(np.argmax(mins > maxs))
        raise InputError(
            f"`min_size` must not exceed `max_size`; got {mins[g]} > {maxs[g]} (leader {g}). "
            "Fix: swap them or widen the range."
        )
    w_arr: np.ndarray | None = None
    if weights is not None:
        w_arr = np.array(weights, dtype=np.float64, copy=True)
        if w_arr.shape != (n_proteges,):
            raise InputError(
                f"`weights` must hold one number per protégé ({n_proteges}); "
                f"got shape {w_arr.shape}."
            )
        if not np.all(np.isfinite(w_arr)) or np.any(w_arr < 0):
            raise InputError(
                "`weights` must be finite and >= 0; got "
                f"{w_arr[~np.isfinite(w_arr) | (w_arr < 0)][:5].tolist()}. "
                "Fix: use 1 for ordinary protégés and e.g. 2 for priority ones."
            )
    w_int = _weight_tiers(w_arr, n_proteges)
    conflict = None
    if together is not None:
        tog = np.asarray(together)
        if tog.shape != (n_proteges, n_proteges) or tog.dtype != bool:
            raise InputError(
                f"`together` must be a boolean protégé × protégé mask ({n_proteges}, "
                f"{n_proteges}); got shape {tog.shape}, dtype {tog.dtype}."
            )
        if not np.array_equal(tog, tog.T):
            raise InputError(
                "`together` must be symmetric (p may meet q exactly when q may meet p); got an "
                "asymmetric mask. Fix: pass together & together.T."
            )
        conflict = ~tog
        np.fill_diagonal(conflict, False)
        if not conflict.any():
            conflict = None
    if isinstance(diversity_weight, bool) or not isinstance(
        diversity_weight, int | float | np.integer | np.floating
    ):
        raise InputError(f"`diversity_weight` must be a number; got {diversity_weight!r}.")
    if not math.isfinite(float(diversity_weight)):
        raise InputError(f"`diversity_weight` must be finite; got {diversity_weight!r}.")
    wd = None
    if distance is not None:
        d = np.array(distance, dtype=np.float64, copy=True)
        if d.shape != (n_proteges, n_proteges):
            raise InputError(
                f"`distance` must be protégé × protégé ({n_proteges}, {n_proteges}); "
                f"got shape {d.shape}."
            )
        upper = np.triu(d, 1)
        if not np.all(np.isfinite(upper)):
            raise InputError("`distance` must be finite above the diagonal.")
        if float(diversity_weight) != 0.0:
            wd = float(diversity_weight) * (upper + upper.T)
            if not wd.any():
                wd = None
    elif float(diversity_weight) != 0.0:
        raise InputError(
            "`distance` must be given when `diversity_weight` is not 0; got None. "
            "Fix: pass a protégé × protégé distance matrix or diversity_weight=0."
        )
    rules = make_rules(
        attributes,
        n_proteges,
        min_distinct=min_distinct,
        max_count=max_count,
        no_isolation=no_isolation,
    )
    # integer scale shared by fit and the diversity term
    parts = [fit_arr[allowed_arr]]
    if wd is not None:
        parts.append(wd[np.triu_indices(n_proteges, 1)])
    values = np.concatenate(parts) if parts else np.zeros(0)
    terms = n_proteges * (1 + (int(maxs.max()) if wd is not None else 0))
    scale = _ortools.int_scale(values, terms=max(terms, 1), budget=2.0**50)
    fit_int = np.round(fit_arr * scale).astype(np.int64)
    wd_int = None if wd is None else np.round(wd * scale).astype(np.int64)
    prob = _Problem(
        fit=fit_arr,
        allowed=allowed_arr,
        cand=allowed_arr.copy(),
        min_size=mins,
        max_size=maxs,
        weights=w_arr,
        w_int=w_int,
        rules=rules,
        conflict=conflict,
        wd=wd,
        scale=scale,
        fit_int=fit_int,
        wd_int=wd_int,
    )
    return prob, allowed_arr


def _weight_tiers(weights: np.ndarray | None, n: int) -> np.ndarray:
    """Integer priority per protégé: exact for whole-number weights, else 1e-6 relative."""
    if weights is None:
        return np.ones(n, dtype=np.int64)
    if np.all(weights == np.round(weights)) and weights.max(initial=0) <= 1e6:
        return weights.astype(np.int64)
    top = weights.max(initial=0.0)
    if top <= 0:
        return np.zeros(n, dtype=np.int64)
    return np.round(weights / top * 1e6).astype(np.int64)


# --------------------------------------------------------------------------
# min-cost flow: construction and the rule-free bound
# --------------------------------------------------------------------------


def _flow(
    prob: _Problem,
    open_: np.ndarray,
    *,
    lower: bool,
    n_flow: int | None = None,
    extra: np.ndarray | None = None,
    info: dict[str, float] | None = None,
) -> np.ndarray | None:
    """Assignment of protégés to open leaders by min-cost flow; None if infeasible.

    Maximises the placed priority first (tiers ``w_int``) and then the fit
    (plus ``extra`` per arc) when ``n_flow`` is None; otherwise sends exactly
    ``n_flow`` protégés and maximises fit + extra. With ``lower`` every open
    leader receives at least ``min_size``. One ``max_count`` rule (the most
    binding) is kept exactly, as capacities of (leader, value) nodes; the
    other composition rules are ignored.
    """
    mcf = _ortools.min_cost_flow()
    L, P = prob.fit.shape
    cand = prob.cand & open_[:, None]
    gi, pi = np.nonzero(cand)
    if len(gi) == 0:
        return np.full(P, -1, dtype=np.int64) if not (lower and open_.any()) else None
    capped = _value_cap(prob)
    value = prob.fit[gi, pi] + (0.0 if extra is None else extra[gi, pi])
    # a local integer scale keeps the tiered costs inside int64
    per_p = np.zeros(P)
    np.maximum.at(per_p, pi, np.abs(value))
    total = float(per_p.sum()) or 1.0
    tier_max = int(prob.w_int.max(initial=1)) if n_flow is None else 0
    budget = 2.0**60 / max(1, P) / max(1, tier_max + 1)
    fscale = min(prob.scale if prob.scale > 0 else 1.0, budget / (4.0 * total))
    cost = np.round(value * fscale).astype(np.int64)
    if info is not None:
        # largest rounding error of one arc, in units of fit
        info["error"] = float(np.max(np.abs(cost - value * fscale))) / fscale
    big = 2 * int(np.abs(cost).sum()) + 1
    if n_flow is None:
        cost = cost + prob.w_int[pi] * big
    # nodes: protégés 0..P-1, leaders P..P+L-1, (leader, value) nodes, source, sink
    n_values = 0 if capped is None else capped[2]
    src, sink = P + L + L * n_values, P + L + L * n_values + 1
    active = np.unique(pi)
    lo = np.where(open_, prob.min_size, 0) if lower else np.zeros(L, dtype=np.int64)
    hi = np.where(open_, prob.max_size, 0)
    heads_p = P + gi
    value_tails = np.zeros(0, dtype=np.int64)
    value_heads = np.zeros(0, dtype=np.int64)
    value_caps = np.zeros(0, dtype=np.int64)
    if capped is not None:
        codes, cap, _ = capped
        code = codes[pi]
        known = code >= 0
        heads_p = np.where(known, P + L + gi * n_values + code, heads_p)
        value_tails = P + L + np.arange(L * n_values)
        value_heads = P + np.repeat(np.arange(L), n_values)
        value_caps = np.full(L * n_values, cap, dtype=np.int64)
    tails = np.concatenate([np.full(len(active), src), pi, value_tails, P + np.arange(L)])
    heads = np.concatenate([active, heads_p, value_heads, np.full(L, sink)])
    caps = np.concatenate([np.ones(len(active) + len(pi), dtype=np.int64), value_caps, hi - lo])
    costs = np.concatenate(
        [np.zeros(len(active), np.int64), -cost, np.zeros(len(value_caps) + L, np.int64)]
    )
    supply_total = len(active) if n_flow is None else int(n_flow)
    if n_flow is None:  # the bypass lets protégés wait
        tails = np.append(tails, src)
        heads = np.append(heads, sink)
        caps = np.append(caps, supply_total)
        costs = np.append(costs, 0)
    mcf_obj = mcf.SimpleMinCostFlow()
    mcf_obj.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64), costs
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[src] = supply_total
    supplies[P : P + L] = -lo
    supplies[sink] = -(supply_total - int(lo.sum()))
    if supplies[sink] > 0:
        return None
    mcf_obj.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = mcf_obj.solve()
    if status != mcf_obj.OPTIMAL:
        return None
    arcs = np.arange(len(active), len(active) + len(pi), dtype=np.int32)
    flows = np.asarray(mcf_obj.flows(arcs))
    labels = np.full(P, -1, dtype=np.int64)
    used = flows > 0
    labels[pi[used]] = gi[used]
    return labels


def _value_cap(prob: _Problem) -> tuple[np.ndarray, int, int] | None:
    """The ``max_count`` rule a flow can keep exactly: ``(codes, cap, n_values)`` or None.

    A flow can route each protégé through one (leader, value) node, so only
    one attribute column fits; the one whose cap leaves the most protégés
    over is chosen (ties: the first).
    """
    rules = prob.rules
    best: tuple[np.ndarray, int, int] | None = None
    best_excess = -1
    L = prob.n_leaders
    for c in range(rules.n_columns):
        cap = int(rules.max_count[c])
        if cap <= 0 or rules.n_values(c) == 0:
            continue
        codes = rules.codes[c]
        counts = np.bincount(codes[codes >= 0], minlength=rules.n_values(c))
        excess = int(np.maximum(0, counts - cap * L).sum()) + int(
            np.maximum(0, counts - cap).sum()
        )
        if excess > best_excess:
            best, best_excess = (codes, cap, rules.n_values(c)), excess
    return best


def _diversity_extra(prob: _Problem) -> np.ndarray | None:
    """Per-arc upper bound on a protégé's share of the diversity term.

    A protégé in a group of at most ``b`` members shares a pair with at most
    ``b - 1`` others, so half the sum of its ``b - 1`` largest positive
    weighted distances bounds its share of ``Σ_pairs wd`` (each pair is split
    between its two ends).
    """
    if prob.wd is None:
        return None
    pos = np.maximum(prob.wd, 0.0)
    srt = -np.sort(-pos, axis=1)
    csum = np.concatenate([np.zeros((srt.shape[0], 1)), np.cumsum(srt, axis=1)], axis=1)
    k = np.clip(prob.max_size - 1, 0, srt.shape[1])
    return 0.5 * csum[:, k].T  # (L, P)


def _bound(prob: _Problem, n_placed: int, open_possible: np.ndarray) -> float | None:
    """Upper bound on the objective of any grouping that places ``n_placed`` protégés.

    The optimum of the relaxation without minimum sizes and composition rules
    other than one ``max_count`` (exactly ``n_placed`` units of min-cost flow
    through allowed pairs and capacities ``max_size``), plus a per-protégé
    bound on the diversity term.
    """
    if n_placed == 0:
        return 0.0
    extra = _diversity_extra(prob)
    info: dict[str, float] = {}
    labels = _flow(prob, open_possible, lower=False, n_flow=n_placed, extra=extra, info=info)
    if labels is None:
        return None
    placed = labels >= 0
    value = prob.fit[labels[placed], np.flatnonzero(placed)]
    total = float(value.sum())
    if extra is not None:
        total += float(extra[labels[placed], np.flatnonzero(placed)].sum())
    # the flow optimises rounded costs: the true optimum can beat its answer by at
    # most twice the rounding error of the arcs used
    return total + 2.0 * n_placed * info.get("error", 0.0)


def _construct(prob: _Problem, viable: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Rule-free construction: choose the leaders who open, then a min-cost flow.

    Starts from every viable leader; while the flow with minimum sizes is
    infeasible, closes the leader the capacity-only relaxation loads least.
    Returns the labels and the capacity-only optimum (the "ideal" that guides
    large-neighbourhood search).
    """
    L, P = prob.fit.shape
    relax = _flow(prob, viable, lower=False)
    if relax is None:
        return np.full(P, -1, dtype=np.int64), None
    load = np.bincount(relax[relax >= 0], minlength=L)
    gain = np.zeros(L)
    placed = relax >= 0
    np.add.at(gain, relax[placed], prob.fit[relax[placed], np.flatnonzero(placed)])
    open_ = viable.copy()
    n_relax = int(placed.sum())
    # order of closing: least loaded, then least fit, then highest index
    order = np.lexsort((-np.arange(L), gain, load))
    order = [g for g in order if open_[g]]
    # the minimum sizes of the open leaders must fit in what the relaxation places
    while open_.any() and int(prob.min_size[open_].sum()) > n_relax:
        g = order.pop(0)
        open_[g] = False
    while open_.any():
        labels = _flow(prob, open_, lower=True)
        if labels is not None:
            return labels, relax
        g = order.pop(0)
        open_[g] = False
    return np.full(P, -1, dtype=np.int64), relax


# --------------------------------------------------------------------------
# local search
# --------------------------------------------------------------------------


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
        self.cols = []
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
        self.conf = None if prob.conflict is None else prob.conflict.astype(np.int32)
        self.work = 0.0
        self.proven = False
        self.reset(labels)

    # -- state -------------------------------------------------------------
    def reset(self, labels: np.ndarray) -> None:
        L, P = self.L, self.P
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
            onehot = np.zeros((P, L + 1))
            onehot[np.flatnonzero(placed), self.lab[placed]] = 1.0
            self.ds = self.wd @ onehot
            self.ds[:, L] = 0.0
        if self.conf is not None:
            onehot = np.zeros((P, L + 1), dtype=np.int32)
            onehot[np.flatnonzero(placed), self.lab[placed]] = 1
            self.kc = self.conf @ onehot
            self.kc[:, L] = 0
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
            col = self.wd[:, p]
            if a >= 0:
                self.ds[:, a] -= col
            if b >= 0:
                self.ds[:, b] += col
        if self.conf is not None:
            col = self.conf[:, p]
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

    def best_move(self, p: int, lam: float, lam_w: float, allow_eject: bool = False):
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

    def best_swap(self, p: int, lam: float, lam_w: float, qs: np.ndarray | None = None):
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

    @property
    def total_pen(self) -> int:
        return int(self.pen[: self.L].sum())

    def objective(self) -> float:
        return _objective(self.prob, self.lab)

    def placed_weight(self) -> int:
        return int(self.prob.w_int[self.lab >= 0].sum())


def _objective(prob: _Problem, labels: np.ndarray) -> float:
    placed = np.flatnonzero(labels >= 0)
    total = float(prob.fit[labels[placed], placed].sum())
    if prob.wd is not None and len(placed):
        sub = labels[placed]
        same = sub[:, None] == sub[None, :]
        total += 0.5 * float((prob.wd[np.ix_(placed, placed)] * same).sum())
    return total


@dataclass
class _Budget:
    """Deterministic work budget in calibrated seconds, with a wall-clock guard."""

    limit: float | None
    max_iterations: int | None
    start: float = field(default_factory=time.perf_counter)
    used: float = 0.0
    iterations: int = 0
    first_feasible: float | None = None

    def spend(self, seconds: float) -> None:
        self.used += seconds

    @property
    def remaining(self) -> float:
        if self.limit is None:
            return math.inf
        return self.limit - self.used

    def exhausted(self) -> bool:
        if self.max_iterations is not None and self.iterations >= self.max_iterations:
            return True
        if self.limit is None:
            return False
        if self.used >= self.limit:
            return True
        return time.perf_counter() - self.start > 3.0 * self.limit + 1.0


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
    are closed, so a rule-feasible grouping always results.
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
        for p in rng.permutation(search.P):
            gm, b = search.best_move(p, lam, lam_w, allow_eject=eject)
            gs, q = search.best_swap(p, lam, lam_w)
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
            else:
                stale += 1
            at_floor = lam <= _LAM_FLOOR * lam0
            lam = max(_LAM_FLOOR * lam0, lam / 2.0)
            if stale >= _LS_STALE or (not improved and at_floor):
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
        best = search.lab.copy()
    return best


def _eject_broken(search: _Search) -> None:
    """Take members out of rule-breaking groups while that lowers the penalty."""
    for g in np.flatnonzero(search.pen[: search.L] > 0):
        while search.pen[g] > 0 and search.size[g] > search.minp[g]:
            members = np.flatnonzero(search.lab == g)
            best_p, best_pen = -1, search.pen[g]
            for p in members:
                search.relocate(int(p), -1)
                if search.pen[g] < best_pen:
                    best_p, best_pen = int(p), search.pen[g]
                search.relocate(int(p), int(g))
            if best_p < 0:
                break
            search.relocate(best_p, -1)


def _close_broken(search: _Search) -> None:
    for g in np.flatnonzero(search.pen[: search.L] > 0):
        for p in np.flatnonzero(search.lab == g):
            search.relocate(int(p), -1)


# --------------------------------------------------------------------------
# CP-SAT model (exact method, LNS neighbourhoods, infeasibility explanation)
# --------------------------------------------------------------------------


@dataclass
class _CpModel:
    model: Any
    x: dict[tuple[int, int], Any]
    opens: dict[int, Any]
    placed: Any  # linear expr: Σ w_int · x
    value: Any  # linear expr: Σ fit_int · x + Σ wd_int · y
    assumptions: dict[str, Any]


def _build_cp(
    prob: _Problem,
    leaders: Sequence[int],
    proteges: Sequence[int],
    *,
    explain: bool = False,
    need_group: bool = False,
) -> _CpModel:
    """CP-SAT model of the grouping restricted to ``leaders`` × ``proteges``.

    With ``explain``, every rule family is enforced only under its own
    assumption literal so an infeasible core names the families in conflict.
    """
    cp = _ortools.cp_model()
    m = cp.CpModel()
    assume: dict[str, Any] = {}

    def lit(name: str) -> list:
        if not explain:
            return []
        if name not in assume:
            assume[name] = m.new_bool_var(name)
        return [assume[name]]

    leaders = list(leaders)
    proteges = list(proteges)
    x: dict[tuple[int, int], Any] = {}
    by_g: dict[int, list[int]] = {}
    by_p: dict[int, list[Any]] = {p: [] for p in proteges}
    pset = np.array(proteges, dtype=np.int64)
    for g in leaders:
        members = pset[prob.cand[g, pset]] if len(pset) else pset
        by_g[g] = [int(p) for p in members]
        for p in by_g[g]:
            var = m.new_bool_var(f"x{p}_{g}")
            x[p, g] = var
            by_p[p].append(var)
    for p in proteges:
        if len(by_p[p]) > 1:
            m.add_at_most_one(by_p[p])
    opens: dict[int, Any] = {}
    for g in leaders:
        members = by_g[g]
        o = m.new_bool_var(f"open{g}")
        opens[g] = o
        xs = [x[p, g] for p in members]
        lo, hi = int(prob.min_size[g]), int(prob.max_size[g])
        if not xs:
            m.add(o == 0)
            continue
        m.add(sum(xs) <= hi * o)
        m.add_bool_or(xs).only_enforce_if(o)  # an open group is never empty
        for v in xs:
            m.add_implication(v, o)
        if explain:
            m.add(sum(xs) >= lo).only_enforce_if([o, *lit("min_size")])
        else:
            m.add(sum(xs) >= lo * o)
    if need_group:
        m.add_bool_or(list(opens.values()))
    rules = prob.rules
    for c, col in enumerate(rules.columns):
        codes = rules.codes[c]
        md, mc, iso = (
            int(rules.min_distinct[c]),
            int(rules.max_count[c]),
            bool(rules.no_isolation[c]),
        )
        for g in leaders:
            members = by_g[g]
            if not members:
                continue
            per_value: dict[int, list[Any]] = {}
            for p in members:
                if codes[p] >= 0:
                    per_value.setdefault(int(codes[p]), []).append(x[p, g])
            if mc > 0:
                for xs in per_value.values():
                    if len(xs) > mc:
                        m.add(sum(xs) <= mc).only_enforce_if(lit(f"max_count {col}"))
            if iso:
                for v, xs in per_value.items():
                    z = m.new_bool_var(f"iso{g}_{c}_{v}")
                    enf = lit(f"no_isolation {col}")
                    m.add(sum(xs) >= 2).only_enforce_if([z, *enf])
                    m.add(sum(xs) == 0).only_enforce_if([z.Not(), *enf])
            if md > 0:
                present = []
                for v, xs in per_value.items():
                    y = m.new_bool_var(f"has{g}_{c}_{v}")
                    m.add_bool_or(xs).only_enforce_if(y)
                    present.append(y)
                enf = [opens[g], *lit(f"min_distinct {col}")]
                if len(present) < md:
                    m.add_bool_or([opens[g].Not(), *[e.Not() for e in enf[1:]]])
                else:
                    m.add(sum(present) >= md).only_enforce_if(enf)
    if prob.conflict is not None:
        for g in leaders:
            members = np.array(by_g[g], dtype=np.int64)
            if len(members) < 2:
                continue
            sub = prob.conflict[np.ix_(members, members)]
            ii, jj = np.nonzero(np.triu(sub, 1))
            for i, j in zip(ii, jj, strict=True):
                m.add_bool_or(
                    [
                        x[members[i], g].Not(),
                        x[members[j], g].Not(),
                        *[e.Not() for e in lit("together")],
                    ]
                )
    placed = sum(int(prob.w_int[p]) * v for (p, _g), v in x.items()) if x else 0
    terms = [int(prob.fit_int[g, p]) * v for (p, g), v in x.items() if prob.fit_int[g, p] != 0]
    if prob.wd_int is not None:
        for g in leaders:
            members = by_g[g]
            for i, p in enumerate(members):
                for q in members[i + 1 :]:
                    w = int(prob.wd_int[p, q])
                    if w == 0:
                        continue
                    y = m.new_bool_var(f"y{p}_{q}_{g}")
                    if w > 0:
                        m.add_implication(y, x[p, g])
                        m.add_implication(y, x[q, g])
                    else:
                        m.add_bool_or([x[p, g].Not(), x[q, g].Not(), y])
                    terms.append(w * y)
    value = sum(terms) if terms else 0
    return _CpModel(model=m, x=x, opens=opens, placed=placed, value=value, assumptions=assume)


def _cp_labels(solver: Any, cpm: _CpModel, n: int, base: np.ndarray | None = None) -> np.ndarray:
    labels = np.full(n, -1, dtype=np.int64) if base is None else base.copy()
    for (p, g), v in cpm.x.items():
        if solver.boolean_value(v):
            labels[p] = g
    return labels


def _hint(cpm: _CpModel, labels: np.ndarray) -> None:
    for (p, g), v in cpm.x.items():
        cpm.model.add_hint(v, bool(labels[p] == g))
    for g, o in cpm.opens.items():
        cpm.model.add_hint(o, bool(np.any(labels == g)))


def _solve_exact(
    prob: _Problem,
    budget: _Budget,
    seed: int,
) -> tuple[np.ndarray, str, float | None] | None:
    """Exact CP-SAT on the whole problem: most placed priority first, then best objective.

    One model with the lexicographic objective ``big · placed + value`` (one
    presolve, one search) when the integers stay well inside int64; otherwise
    two phases. Returns ``(labels, status, bound)`` or None when CP-SAT found
    no solution in time. ``bound`` holds for groupings placing as much
    priority as the answer.
    """
    cp = _ortools.cp_model()
    L, P = prob.fit.shape
    leaders = [g for g in range(L) if prob.cand[g].sum() >= prob.min_size[g]]
    proteges = [p for p in range(P) if prob.cand[leaders, p].any()] if leaders else []
    if not leaders or not proteges:
        return np.full(P, -1, dtype=np.int64), "optimal", 0.0
    cpm = _build_cp(prob, leaders, proteges)
    pset = np.array(proteges)
    value_range = 2 * int(np.abs(prob.fit_int[np.ix_(leaders, pset)]).max(axis=0).sum())
    if prob.wd_int is not None:
        value_range += int(np.abs(np.triu(prob.wd_int[np.ix_(pset, pset)], 1)).sum())
    big = value_range + 1
    total_priority = int(prob.w_int[pset].sum())
    if big * (total_priority + 1) < 2**60:
        cpm.model.maximize(big * cpm.placed + cpm.value)
        solver, status = _ortools.solve_cp(cpm.model, time_limit=budget.limit, seed=seed)
        budget.spend(float(solver.deterministic_time))
        if status not in (cp.OPTIMAL, cp.FEASIBLE):
            return None
        labels = _cp_labels(solver, cpm, P)
        placed = int(prob.w_int[labels >= 0].sum())
        bound = (float(solver.best_objective_bound) - big * placed) / prob.scale
        return labels, ("optimal" if status == cp.OPTIMAL else "feasible"), bound
    limit1 = None if budget.limit is None else max(0.05, 0.3 * budget.remaining)
    cpm.model.maximize(cpm.placed)
    solver, status = _ortools.solve_cp(cpm.model, time_limit=limit1, seed=seed)
    budget.spend(float(solver.deterministic_time))
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return None
    first_optimal = status == cp.OPTIMAL
    labels1 = _cp_labels(solver, cpm, P)
    best_placed = round(solver.objective_value)
    _hint(cpm, labels1)
    cpm.model.add(cpm.placed >= best_placed)
    cpm.model.maximize(cpm.value)
    limit2 = None if budget.limit is None else max(0.05, budget.remaining)
    solver, status = _ortools.solve_cp(cpm.model, time_limit=limit2, seed=seed)
    budget.spend(float(solver.deterministic_time))
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return labels1, "feasible", None
    labels = _cp_labels(solver, cpm, P)
    proven = first_optimal and status == cp.OPTIMAL
    bound = float(solver.best_objective_bound) / prob.scale
    return labels, ("optimal" if proven else "feasible"), (bound if first_optimal else None)


def _explain(prob: _Problem, seed: int, time_limit: float) -> list[str]:
    """Name the rule families that together rule out every group (CP-SAT core)."""
    cp = _ortools.cp_model()
    L, P = prob.fit.shape
    leaders = list(range(L))
    proteges = [p for p in range(P) if prob.allowed[:, p].any()]
    if not proteges or prob.allowed.sum() > 50_000:
        return []
    base = _Problem(**{**prob.__dict__, "cand": prob.allowed.copy(), "wd": None, "wd_int": None})
    cpm = _build_cp(base, leaders, proteges, explain=True, need_group=True)
    cpm.model.add_assumptions(list(cpm.assumptions.values()))
    solver, status = _ortools.solve_cp(cpm.model, time_limit=time_limit, seed=seed, workers=1)
    if status != cp.INFEASIBLE:
        return []
    core = solver.sufficient_assumptions_for_infeasibility()
    names = [n for n, v in cpm.assumptions.items() if v.Index() in set(core)]
    if not names:
        return ["no group can be formed from the allowed pairs and group sizes alone"]
    sizes = sorted({int(s) for s in prob.min_size})
    nice = [
        (f"min_size {sizes[0]}" if len(sizes) == 1 else "min_size")
        if n == "min_size"
        else ("`together` (common meeting time)" if n == "together" else n)
        for n in names
    ]
    return [
        "no group can satisfy " + " together with ".join(nice) + "; relax one of them "
        "(lower min_size, lower min_distinct / raise max_count, drop a column from "
        "no_isolation, or widen the meeting-time rule)"
    ]


# --------------------------------------------------------------------------
# large-neighbourhood search
# --------------------------------------------------------------------------


def _lns(
    search: _Search,
    budget: _Budget,
    rng: np.random.Generator,
    seed: int,
    *,
    stall_limit: int,
    k: int | None = None,
    k_max: int | None = None,
    sub_limit: float = 0.3,
    ideal: np.ndarray | None = None,
) -> None:
    """Re-solve a few related groups (plus waiting protégés) exactly, keep improvements."""
    cp = _ortools.cp_model()
    prob = search.prob
    L, P = prob.fit.shape
    viable = prob.cand.sum(axis=1) >= prob.min_size
    if k is None:
        k = 8 if prob.wd is None else 4
    if k_max is None:
        k_max = 16 if prob.wd is None else 8
    stall = 0
    rounds = 0
    order: list[int] = []
    n_usable = int(viable.sum())
    n_free_all = int(prob.cand[viable].any(axis=0).sum())
    while not budget.exhausted() and stall < stall_limit:
        lab = search.lab
        open_groups = np.flatnonzero(search.size[:L] > 0)
        closed = np.flatnonzero(viable & (search.size[:L] == 0))
        if not order:
            order = list(rng.permutation(open_groups)) if len(open_groups) else []
            if not order and len(closed):
                order = list(rng.permutation(closed))
            if not order:
                return
        seed_g = int(order.pop())
        if ideal is not None and rng.random() < _GUIDED_SHARE:
            chosen = _guided(search, ideal, k, rng, closed)
        else:
            chosen = _related(search, seed_g, k, rng, closed)
        members = np.flatnonzero(np.isin(lab, chosen))
        waiting = np.flatnonzero((lab < 0) & prob.cand[chosen].any(axis=0))
        if len(waiting) > 3 * k:
            best_fit = prob.fit[chosen][:, waiting].max(axis=0)
            pick = np.lexsort((-best_fit, -prob.w_int[waiting]))[: 3 * k]
            waiting = waiting[np.sort(pick)]
        free = np.concatenate([members, waiting])
        cpm = _build_cp(prob, [int(g) for g in chosen], [int(p) for p in free])
        _hint(cpm, lab)
        cur_placed = int(prob.w_int[members].sum())
        cur_value = _sub_value(prob, lab, free)
        big = 2 * int(np.abs(prob.fit_int[np.ix_(chosen, free)]).sum()) + 1
        if prob.wd_int is not None:
            big += int(np.abs(prob.wd_int[np.ix_(free, free)]).sum())
        cpm.model.add(cpm.placed >= cur_placed)
        cpm.model.maximize(big * cpm.placed + cpm.value)
        limit = min(sub_limit, max(0.02, budget.remaining))
        solver, status = _ortools.solve_cp_small(cpm.model, time_limit=limit, seed=seed + rounds)
        # CP-SAT's deterministic time runs slower than the wall clock on these small
        # models, and building one in Python costs time per variable (measured)
        budget.spend(
            _CP_WALL_PER_DET * float(solver.deterministic_time)
            + _CP_BUILD_PER_VAR * len(cpm.x)
            + 2e-3
        )
        budget.iterations += 1
        rounds += 1
        improved = False
        if status in (cp.OPTIMAL, cp.FEASIBLE):
            new_obj = round(solver.objective_value)
            if new_obj > big * cur_placed + cur_value:
                new_lab = lab.copy()
                new_lab[free] = -1
                new_lab = _cp_labels(solver, cpm, P, base=new_lab)
                for p in free:
                    search.relocate(int(p), -1)
                for p in free:
                    if new_lab[p] >= 0:
                        search.relocate(int(p), int(new_lab[p]))
                improved = True
        stall = 0 if improved else stall + 1
        if status == cp.OPTIMAL and len(chosen) == n_usable and len(free) == n_free_all:
            # the neighbourhood was the whole problem: the grouping is optimal
            search.proven = True
            return
        if status == cp.OPTIMAL and solver.deterministic_time < 0.3 * limit:
            k = min(k + 1, k_max, max(1, len(open_groups) + len(closed)))
        elif status != cp.OPTIMAL:
            k = max(2, k - 1)


def _sub_value(prob: _Problem, lab: np.ndarray, free: np.ndarray) -> int:
    """Integer objective (fit_int + wd_int) contributed by the elements in ``free``."""
    sub = lab[free]
    placed = sub >= 0
    total = int(prob.fit_int[sub[placed], free[placed]].sum())
    if prob.wd_int is not None:
        f = free[placed]
        s = sub[placed]
        same = np.triu(s[:, None] == s[None, :], 1)
        total += int((prob.wd_int[np.ix_(f, f)] * same).sum())
    return total


def _guided(
    search: _Search, ideal: np.ndarray, k: int, rng: np.random.Generator, closed: np.ndarray
) -> np.ndarray:
    """Groups along a chain of protégés displaced from their place in the rule-free optimum.

    ``ideal`` is the capacity-only flow optimum; a protégé away from its ideal
    leader loses ``fit[ideal] - fit[current]``. Starting from a protégé drawn
    with probability proportional to that loss, the neighbourhood takes its
    current and ideal groups, then the ideal groups of the most displaced
    members of the groups taken so far, so the exact re-solve can move whole
    chains of protégés towards the rule-free optimum.
    """
    prob = search.prob
    lab = search.lab
    L = search.L
    P = search.P
    usable = (search.size[:L] > 0) | np.isin(np.arange(L), closed)
    cur = search.fitp[lab, np.arange(P)]
    ok = ideal >= 0
    loss = np.zeros(P)
    loss[ok] = prob.fit[ideal[ok], np.flatnonzero(ok)] - cur[ok]
    loss[~ok | (ideal == lab)] = 0.0
    loss = np.maximum(loss, 0.0)
    if ok.any():
        loss[ok] *= usable[ideal[ok]]
    if loss.sum() <= 0:
        return _related(search, int(rng.integers(L)), k, rng, closed)
    start = int(rng.choice(P, p=loss / loss.sum()))
    chosen = [g for g in (int(ideal[start]), int(lab[start])) if g >= 0]
    while len(chosen) < k:
        inside = np.isin(lab, chosen)
        want = np.where(inside & (loss > 0), ideal, -1)
        pull = np.bincount(want[want >= 0], weights=loss[want >= 0], minlength=L)
        pull[chosen] = 0
        if pull.max() <= 0:
            break
        chosen.append(int(np.argmax(pull)))
    if len(chosen) < k:
        more = _related(search, chosen[0], k - len(chosen) + 1, rng, closed)
        chosen.extend(int(g) for g in more if g not in chosen)
    return np.sort(np.array(chosen[:k], dtype=np.int64))


def _related(
    search: _Search, seed_g: int, k: int, rng: np.random.Generator, closed: np.ndarray
) -> np.ndarray:
    """``seed_g`` and up to ``k - 1`` groups its members (or theirs) would rather join."""
    prob = search.prob
    L = search.L
    lab = search.lab
    fit = np.where(prob.cand, prob.fit, -np.inf)
    members = np.flatnonzero(lab == seed_g)
    score = np.zeros(L)
    if len(members):
        own = prob.fit[seed_g, members]
        score += np.maximum(fit[:, members] - own, 0).sum(axis=1) + prob.cand[:, members].sum(1)
    placed = np.flatnonzero(lab >= 0)
    if len(placed):
        their = np.maximum(fit[seed_g, placed] - prob.fit[lab[placed], placed], 0)
        their = np.where(np.isfinite(their), their, 0)
        score += np.bincount(lab[placed], weights=their, minlength=L)
    waiting = np.flatnonzero(lab < 0)
    if len(waiting):
        score += prob.cand[:, waiting].sum(axis=1) * 0.01
    score[seed_g] = -np.inf
    candidates = np.flatnonzero((search.size[:L] > 0) | np.isin(np.arange(L), closed))
    candidates = candidates[candidates != seed_g]
    if len(candidates) == 0 or k <= 1:
        return np.array([seed_g])
    top = candidates[np.argsort(-score[candidates], kind="stable")][: 2 * (k - 1)]
    pick = rng.choice(len(top), size=min(k - 1, len(top)), replace=False)
    return np.sort(np.append(top[pick], seed_g))


# --------------------------------------------------------------------------
# reasons
# --------------------------------------------------------------------------


def _reasons(
    prob: _Problem,
    labels: np.ndarray,
    diag: Diagnosis,
    excluded: Mapping[int, str],
    weights_given: bool,
) -> dict[str, str]:
    """A plain sentence for every unassigned protégé and every leader without a group."""
    L = prob.n_leaders
    sizes = np.bincount(labels[labels >= 0], minlength=L)
    open_ = sizes > 0
    n_allowed = prob.allowed.sum(axis=1)
    reasons: dict[str, str] = {}
    base_pen = group_penalties(labels, prob.rules, L) if not prob.rules.is_empty else None
    for p in np.flatnonzero(labels < 0):
        p = int(p)
        if p in excluded:
            reasons[str(p)] = excluded[p]
            continue
        allowed_g = np.flatnonzero(prob.allowed[:, p])
        if len(allowed_g) == 0:
            reasons[str(p)] = "no allowed leader (accessibility/level rules)"
            continue
        og = allowed_g[open_[allowed_g]]
        if len(og) == 0:
            reasons[str(p)] = (
                f"none of their {len(allowed_g)} allowed leader(s) has a group "
                "(see those leaders' reasons)"
            )
            continue
        room = og[sizes[og] < prob.max_size[og]]
        if len(room) == 0:
            if open_.all() and len(set(prob.max_size.tolist())) == 1:
                eligible = int(prob.allowed.any(axis=0).sum())
                text = (
                    f"all groups full: {int(prob.max_size[0])} × {L} leaders = "
                    f"{int(prob.max_size.sum())} places for {eligible} protégés"
                )
            elif open_.all():
                text = (
                    f"all groups full: {int(prob.max_size.sum())} places in {L} groups "
                    f"for {int(prob.allowed.any(axis=0).sum())} protégés"
                )
            else:
                text = (
                    f"every group they may join is full: {len(og)} of their {len(allowed_g)} "
                    f"allowed leader(s) have a group, {int(prob.max_size[og].sum())} places, all "
                    "taken, and no further group can be opened within the rules"
                )
            if weights_given and np.any(prob.w_int[labels >= 0] > prob.w_int[p]):
                text += "; protégés with a higher priority weight were placed first"
            reasons[str(p)] = text
            continue
        broken: dict[str, int] = {}
        for g in room:
            if prob.conflict is not None and np.any(prob.conflict[p, labels == g]):
                broken["no common meeting time with every member (`together`)"] = 1
                continue
            if base_pen is None:
                broken.setdefault("", 0)
                continue
            trial = labels.copy()
            trial[p] = g
            pen = group_penalties(trial, prob.rules, L)[g]
            if pen > base_pen[g]:
                name = _rule_broken(prob.rules, trial, labels, int(g))
                broken[name] = broken.get(name, 0) + 1
            else:
                broken.setdefault("", 0)
        if "" in broken:
            reasons[str(p)] = (
                "an allowed group had room but the search ended before placing them; "
                "raise time_limit"
            )
        else:
            which = max(broken, key=lambda s: broken[s])
            reasons[str(p)] = f"joining any allowed group with room would break a rule: {which}"
    for g in np.flatnonzero(~open_):
        g = int(g)
        need = int(prob.min_size[g])
        if n_allowed[g] < need:
            reasons[f"leader:{g}"] = (
                f"only {int(n_allowed[g])} allowed protégés, fewer than min_size {need}"
            )
            continue
        if diag.max_groups and int(open_.sum()) >= diag.max_groups and not prob.rules.is_empty:
            reasons[f"leader:{g}"] = (
                f"composition rules allow at most {diag.max_groups} groups (see diagnosis)"
            )
            continue
        waiting_idx = np.flatnonzero(prob.cand[g] & (labels < 0))
        waiting = len(waiting_idx)
        if waiting >= need:
            reasons[f"leader:{g}"] = (
                f"its {waiting} waiting protégés cannot form a group that meets the rules"
                + _group_blocker(prob.rules, waiting_idx, need)
            )
        else:
            reasons[f"leader:{g}"] = (
                f"not enough protégés left to open this group (needs {need}; "
                f"{waiting} of its {int(n_allowed[g])} allowed protégés are waiting, the "
                "others are placed in groups where they fit better or that the rules need)"
            )
    return reasons


def _group_blocker(rules: CompositionRules, members: np.ndarray, need: int) -> str:
    """Which composition rule keeps ``members`` from forming a group of ``need`` (or "")."""
    for c, col in enumerate(rules.columns):
        codes = rules.codes[c][members]
        counts = np.bincount(codes[codes >= 0], minlength=rules.n_values(c))
        unknown = int(np.count_nonzero(codes < 0))
        cap = int(rules.max_count[c])
        if cap > 0 and int(np.minimum(counts, cap).sum()) + unknown < need:
            return (
                f" (max_count {col}={cap} lets at most "
                f"{int(np.minimum(counts, cap).sum()) + unknown} of them into one group)"
            )
        k = int(rules.min_distinct[c])
        if k > 0 and np.count_nonzero(counts) < k:
            return f" (only {np.count_nonzero(counts)} distinct {col} values among them)"
    return ""


def _rule_broken(rules: CompositionRules, trial: np.ndarray, labels: np.ndarray, g: int) -> str:
    for c, col in enumerate(rules.columns):
        nv = rules.n_values(c)
        n_groups = int(max(trial.max(), labels.max())) + 1
        new = group_counts(trial, rules.codes[c], n_groups, nv)[g]
        old = group_counts(labels, rules.codes[c], n_groups, nv)[g]
        if rules.max_count[c] > 0 and np.any((new > rules.max_count[c]) & (new > old)):
            return f"max_count {col}={int(rules.max_count[c])}"
        if rules.no_isolation[c] and np.count_nonzero(new == 1) > np.count_nonzero(old == 1):
            return f"no_isolation {col}"
    return "a composition rule"


# --------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------


def learning_groups(
    fit: Any,
    *,
    min_size: int | Sequence[int] | np.ndarray = 5,
    max_size: int | Sequence[int] | np.ndarray = 7,
    allowed: np.ndarray | None = None,
    attributes: Any = None,
    min_distinct: Mapping[str, int] | None = None,
    max_count: Mapping[str, int] | None = None,
    no_isolation: str | Iterable[str] | None = None,
    distance: np.ndarray | None = None,
    diversity_weight: float = 0.0,
    time_limit: float | None = None,
    seed: int = 0,
    weights: np.ndarray | Sequence[float] | None = None,
    together: np.ndarray | None = None,
    max_iterations: int | None = None,
    method: str = "auto",
) -> GroupingResult:
    """Form learning groups: each leader takes ``min_size``..``max_size`` protégés or none.

    Maximises, in this order: the number of protégés placed (the sum of
    ``weights`` of placed protégés when given); then ``objective`` =
    Σ fit[label[p], p] + ``diversity_weight`` × Σ distance[p, q] over protégé
    pairs p < q in the same group. Every group satisfies the composition rules
    and, with ``together``, every two members may meet.

    Parameters
    ----------
    fit : array_like or scipy.sparse matrix, shape (n_leaders, n_proteges)
        Larger is better. A sparse matrix's stored entries are the allowed pairs.
    min_size, max_size : int or array of int per leader
        Size of every group that opens (default 5..7).
    allowed : ndarray of bool, optional
        Pairs that may be used (accessibility, level rules, ...).
    attributes : pandas.DataFrame, optional
        One row per protégé (column order of ``fit``) holding the rule columns.
    min_distinct : dict column -> int, optional
        Each group has at least this many distinct known values.
    max_count : dict column -> int, optional
        No group has more members than this with the same known value.
    no_isolation : str or list of str, optional
        No group has exactly one member with a given known value. Missing
        values (None, NaN, blank) are "unknown": never isolated, never capped,
        not counted as a distinct value.
    distance : ndarray, shape (n_proteges, n_proteges), optional
        Dissimilarity of protégés; only the upper triangle is read.
    diversity_weight : float
        Weight of the within-group dissimilarity in the objective.
    time_limit : float, optional
        Work budget in seconds (deterministic; a wall-clock guard stops at three
        times it). None: the exact model runs to proven optimality, the
        heuristic until large-neighbourhood search stalls (at most 60 units).
    seed : int
        Same inputs and seed give the same groups.
    weights : array of float >= 0, optional
        Priority per protégé. When not everybody can be placed, the sum of
        weights of placed protégés is maximised first (whole numbers exactly,
        otherwise to a relative 1e-6), then ``objective``.
    together : ndarray of bool, shape (n_proteges, n_proteges), optional
        Symmetric mask, True where two protégés may share a group (e.g. they
        have a common working-hours window of N hours; for intervals on a
        line, pairwise overlap implies a common window, so a pairwise mask is
        exact for that rule).
    max_iterations : int, optional
        Deterministic cap on heuristic iterations (local-search passes plus
        large-neighbourhood steps), independent of the clock; the exact model
        ignores it.
    method : {"auto", "exact", "heuristic"}
        ``"exact"``: one CP-SAT model of the whole problem; ``"heuristic"``:
        flow construction, local search and large-neighbourhood search;
        ``"auto"``: exact when there are at most 400 allowed pairs and no
        diversity term (then None means at most 60 units), else heuristic.

    Returns
    -------
    GroupingResult
        ``labels`` (leader per protégé, -1 unassigned), recomputed
        ``objective``, ``status`` ("optimal" only when proven), ``bound`` (an
        upper bound on the objective of groupings placing as many protégés:
        CP-SAT's bound, or the min-cost-flow optimum without minimum sizes
        and composition rules, one ``max_count`` rule excepted, plus a
        per-protégé bound on the diversity term), ``reasons`` (a
        sentence for every unassigned protégé, key ``str(p)``, and every
        leader without a group, key ``f"leader:{g}"``). ``options`` records
        the options and ``scale`` (integer units per unit of objective given
        to OR-Tools), ``diagnosis`` (pre-check notes, each naming a fix),
        ``bound_source`` and, for the heuristic, ``first_feasible_time``
        (seconds until the first grouping meeting every rule).

    Raises
    ------
    InputError
        Bad shapes, values or rule specs (unknown column: the message lists
        the available ones), unknown ``method``.
    InfeasibleError
        No group at all can satisfy the rules; ``reasons`` names them and a fix.
    SolverError
        ``method="exact"`` and CP-SAT found no grouping within ``time_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> fit = np.array([[3, 1, 2, 1], [1, 3, 1, 2]])
    >>> res = learning_groups(fit, min_size=2, max_size=2)
    >>> res.labels.tolist(), res.objective, res.status
    ([0, 1, 0, 1], 10.0, 'optimal')
    """
    t0 = time.perf_counter()
    options = {
        "min_size": min_size if np.ndim(min_size) == 0 else "per leader",
        "max_size": max_size if np.ndim(max_size) == 0 else "per leader",
        "min_distinct": dict(min_distinct or {}),
        "max_count": dict(max_count or {}),
        "no_isolation": [no_isolation]
        if isinstance(no_isolation, str)
        else list(no_isolation or []),
        "diversity_weight": float(diversity_weight)
        if isinstance(diversity_weight, int | float)
        else diversity_weight,
        "time_limit": time_limit,
        "weights": weights is not None,
        "together": together is not None,
        "max_iterations": max_iterations,
        "method": method,
    }
    prob, allowed_arr = _validate(
        fit,
        min_size=min_size,
        max_size=max_size,
        allowed=allowed,
        attributes=attributes,
        min_distinct=min_distinct,
        max_count=max_count,
        no_isolation=no_isolation,
        distance=distance,
        diversity_weight=diversity_weight,
        time_limit=time_limit,
        seed=seed,
        weights=weights,
        together=together,
        max_iterations=max_iterations,
        method=method,
    )
    L, P = prob.fit.shape
    seed = int(seed)

    # ---- cheap pre-checks -------------------------------------------------
    eligible = allowed_arr.any(axis=0)
    diag = diagnose(prob.rules, eligible=eligible, min_size=prob.min_size, max_size=prob.max_size)
    excluded: dict[int, str] = dict(diag.excluded)
    if prob.conflict is not None:
        # a protégé who can meet fewer than min_size - 1 others can join no group
        degree = (~prob.conflict).sum(axis=1) - 1
        need = int(prob.min_size.min()) - 1 if L else 0
        for p in np.flatnonzero(eligible & (degree < need)):
            excluded.setdefault(
                int(p),
                f"can meet only {int(degree[p])} other protégé(s) (`together`), but a group "
                f"needs {need + 1}; widen their working hours or lower min_size",
            )
    for p in excluded:
        prob.cand[:, p] = False
    notes = list(diag.notes)
    cap_all = int(prob.max_size.sum())
    n_eligible = int(eligible.sum())
    if n_eligible > cap_all:
        uniform = len(set(prob.max_size.tolist())) == 1
        places = (
            f"{L} leaders × max {int(prob.max_size[0])} = {cap_all} places"
            if uniform
            else f"{L} leaders have {cap_all} places"
        )
        notes.append(f"{n_eligible} protégés but {places}: {n_eligible - cap_all} will wait")
    short = np.flatnonzero(allowed_arr.sum(axis=1) < prob.min_size)
    for g in short[:5]:
        notes.append(
            f"leader {g} has only {int(allowed_arr[g].sum())} allowed protégés, fewer than "
            f"min_size {int(prob.min_size[g])}"
        )
    if len(short) > 5:
        notes.append(f"... and {len(short) - 5} more leaders with too few allowed protégés")
    fatal = list(diag.fatal)
    if P == 0 or L == 0:
        fatal.append(
            "there are no protégés to group" if P == 0 else "there are no leaders to lead groups"
        )
    viable = prob.cand.sum(axis=1) >= prob.min_size
    if not fatal and not viable.any():
        fatal.append(
            f"no leader has at least min_size ({int(prob.min_size.min())}) allowed protégés; "
            "lower min_size or allow more pairs"
        )
    if fatal:
        raise InfeasibleError("no learning group can be formed: " + fatal[0], fatal + notes)

    # ---- search -----------------------------------------------------------
    n_pairs = int(prob.cand[viable].sum())
    # CP-SAT proves small instances quickly, but not with the quadratic diversity term
    use_exact = method == "exact" or (
        method == "auto" and n_pairs <= EXACT_PAIRS and prob.wd is None
    )
    rng = np.random.default_rng(seed)
    bound: float | None = None
    status = "feasible"
    used_method = "cp-sat" if use_exact else "flow+local-search+lns"
    labels: np.ndarray | None = None
    if use_exact:
        exact_limit = time_limit
        if exact_limit is None and method == "auto":
            exact_limit = _DEFAULT_HEURISTIC_LIMIT
        budget = _Budget(exact_limit, None)
        out = _solve_exact(prob, budget, seed)
        options["bound_source"] = "cp-sat"
        if out is not None:
            labels, status, bound = out
        elif method == "exact":
            raise SolverError(
                f"CP-SAT found no grouping within time_limit={time_limit}; raise time_limit "
                "or use method='heuristic' (or 'auto')"
            )
        else:
            used_method = "flow+local-search+lns (cp-sat found nothing in time)"
    if labels is None:
        limit = _DEFAULT_HEURISTIC_LIMIT if time_limit is None else float(time_limit)
        budget = _Budget(limit, max_iterations)
        labels, proven = _heuristic(prob, viable, budget, rng, seed, stall_free=time_limit is None)
        if proven:
            status = "optimal"
        elif not np.any(labels >= 0):
            # the search placed nobody: let the exact model decide whether any group exists
            out = _solve_exact(prob, _Budget(min(limit, 30.0), None), seed)
            if out is not None and np.any(out[0] >= 0):
                labels = out[0]
                used_method += "+cp-sat"
        options["first_feasible_time"] = budget.first_feasible
        options["bound_source"] = "flow"
    labels = labels.astype(np.int64)
    objective = _objective(prob, labels)
    if status == "optimal":
        bound = objective
    elif np.any(labels >= 0):
        # the rule-free flow bound holds for every grouping placing as many protégés
        flow_bound = _bound(prob, int(np.count_nonzero(labels >= 0)), viable)
        if flow_bound is not None:
            if bound is not None and bound < flow_bound:
                options["bound_source"] = "cp-sat"
            else:
                bound = flow_bound
                options["bound_source"] = "flow"
        if bound is not None:
            bound = max(bound, objective)
    if not np.any(labels >= 0):
        reasons = list(fatal)
        reasons += _explain(prob, seed, time_limit=min(10.0, time_limit or 10.0))
        reasons += notes
        why = _reasons(prob, labels, diag, excluded, weights is not None)
        if not reasons:
            reasons = sorted(set(why.values()))
        raise InfeasibleError(
            "no learning group can be formed that satisfies the rules: " + reasons[0], reasons
        )
    reasons_map = _reasons(prob, labels, diag, excluded, weights is not None)
    wall = time.perf_counter() - t0
    logger.debug("learning_groups: %s, objective %.6g, bound %s", used_method, objective, bound)
    return GroupingResult(
        labels=labels,
        objective=objective,
        status=status,  # type: ignore[arg-type]
        bound=bound,
        wall_time=wall,
        method=used_method,
        seed=seed,
        options=options,
        reasons=reasons_map,
        diagnosis=tuple(notes),
        scale=prob.scale,
    )


def _heuristic(
    prob: _Problem,
    viable: np.ndarray,
    budget: _Budget,
    rng: np.random.Generator,
    seed: int,
    *,
    stall_free: bool,
) -> tuple[np.ndarray, bool]:
    """Flow construction, penalty local search to a rule-feasible grouping, then LNS."""
    labels, ideal = _construct(prob, viable)
    budget.spend(1.5e-6 * prob.cand.sum())  # two min-cost flows, measured
    search = _Search(prob, labels)
    spread = prob.fit[prob.cand]
    lam0 = float(spread.max() - spread.min()) if spread.size else 1.0
    if prob.wd is not None:
        lam0 += float(np.abs(prob.wd).max()) * float(prob.max_size.max())
    lam0 = max(lam0, 1e-9)
    lam_w = 1e3 * lam0 * max(1.0, float(prob.max_size.max()))
    best = _local_search(search, budget, rng, lam_w=lam_w, lam0=lam0)
    search.reset(best)
    budget.first_feasible = time.perf_counter() - budget.start
    if not search.total_pen == 0:  # pragma: no cover - _local_search guarantees this
        raise SolverError("local search ended with broken composition rules")
    stall_limit = max(20, 2 * int(viable.sum())) if stall_free else 10**9
    _lns(search, budget, rng, seed, stall_limit=stall_limit, ideal=ideal)
    return search.lab.copy(), search.proven
