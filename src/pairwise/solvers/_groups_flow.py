"""Learning groups: min-cost-flow construction and the rule-free upper bound."""

from __future__ import annotations

import numpy as np

from . import _ortools
from ._groups_problem import _Problem

#: Elements of the protégé × protégé matrices handled at once (bounded memory).
_BLOCK_ELEMENTS = 1 << 22

#: Allowed pairs above which the construction's flows keep only each protégé's
#: :data:`_KEEP_PER_PROTEGE` best leaders and each leader's best protégés, and
#: the bound drops the leaders' capacities (:func:`_bound`): a min-cost flow over
#: millions of arcs costs several seconds.
_FLOW_ARCS = 1_000_000
_KEEP_PER_PROTEGE = 24


def _flow(
    prob: _Problem,
    open_: np.ndarray,
    *,
    lower: bool,
    n_flow: int | None = None,
    extra: np.ndarray | None = None,
    info: dict[str, float] | None = None,
    arcs: np.ndarray | None = None,
) -> np.ndarray | None:
    """Assignment of protégés to open leaders by min-cost flow; None if infeasible.

    Maximises the placed priority first (tiers ``w_int``) and then the fit
    (plus ``extra`` per arc) when ``n_flow`` is None; otherwise sends exactly
    ``n_flow`` protégés and maximises fit + extra. With ``lower`` every open
    leader receives at least ``min_size``. One ``max_count`` rule (the most
    binding) is kept exactly, as capacities of (leader, value) nodes; the
    other composition rules are ignored. ``arcs`` (default ``prob.cand``) are
    the pairs the flow may use.
    """
    mcf = _ortools.min_cost_flow()
    L, P = prob.fit.shape
    cand = (prob.cand if arcs is None else arcs) & open_[:, None]
    gi, pi = np.nonzero(cand)
    if len(gi) == 0:
        return np.full(P, -1, dtype=np.int64) if not (lower and open_.any()) else None
    capped = _value_cap(prob)
    value = prob.fit[gi, pi] + (0.0 if extra is None else extra[gi, pi])
    # nodes: protégés 0..P-1, leaders P..P+L-1, (leader, value) nodes, source, sink
    n_values = 0 if capped is None else capped[2]
    src, sink = P + L + L * n_values, P + L + L * n_values + 1
    tier_max = int(prob.w_int.max(initial=1)) if n_flow is None else 0
    cost, big = _flow_costs(prob, value, pi, tier_max, sink + 1, info)
    if n_flow is None:
        cost = cost + prob.w_int[pi] * big
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


def _flow_costs(
    prob: _Problem,
    value: np.ndarray,
    pi: np.ndarray,
    tier_max: int,
    n_nodes: int,
    info: dict[str, float] | None,
) -> tuple[np.ndarray, int]:
    """Integer arc costs for ``value`` and the weight ``big`` of one priority unit.

    Two flows differ in total cost by at most Σ over protégés of their
    largest arc cost, so ``big`` (twice that, plus one) makes the priority
    tiers lexicographic. The scale keeps ``(tier_max + 1) × big`` times the
    node count inside int64, the range OR-Tools' cost scaling needs (it
    multiplies costs by the number of nodes).
    """
    P = prob.n_proteges
    per_p = np.zeros(P)
    if len(pi):
        # pi comes from np.nonzero on a (leader, protégé) mask: group it by protégé
        order = np.argsort(pi, kind="stable")
        sorted_p = pi[order]
        starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
        per_p[sorted_p[starts]] = np.maximum.reduceat(np.abs(value[order]), starts)
    total = float(per_p.sum()) or 1.0
    budget = 2.0**61 / max(1, n_nodes + 1) / (2.0 * (tier_max + 1) + 1.0)
    fscale = min(prob.scale if prob.scale > 0 else 1.0, budget / (2.0 * total))
    cost = np.round(value * fscale).astype(np.int64)
    if info is not None:
        # largest rounding error of one arc, in units of fit
        info["error"] = float(np.max(np.abs(cost - value * fscale))) / fscale
    per_cost = np.round(per_p * fscale).astype(np.int64)
    big = 2 * int(per_cost.sum()) + 1
    # the sum over every arc is a coarser weight (the one small problems have always
    # used, so their flows break ties as before); keep it while it stays in range
    every_arc = 2 * int(np.abs(cost).sum()) + 1
    if (tier_max + 1) * every_arc * (n_nodes + 1) < 2**62:
        big = every_arc
    return cost, big


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
    halves = _diversity_halves(prob)
    if halves is None:
        return None
    k = np.clip(prob.max_size - 1, 0, prob.n_proteges)
    return halves[:, k].T  # (L, P)


def _diversity_halves(prob: _Problem) -> np.ndarray | None:
    """``out[p, j]``: half the sum of protégé ``p``'s ``j`` largest positive ``wd`` values.

    Columns ``0 .. max(max_size) - 1``; the rows are read by blocks, keeping
    only their largest values (bounded memory).
    """
    if prob.wd is None:
        return None
    P = prob.n_proteges
    top = int(np.clip(prob.max_size - 1, 0, P).max(initial=0))
    csum = np.zeros((P, top + 1))
    step = max(1, _BLOCK_ELEMENTS // max(P, 1))
    for start in range(0, P if top else 0, step):
        pos = np.maximum(prob.wd[start : start + step], 0.0)
        if top < P:
            pos = np.partition(pos, P - top, axis=1)[:, P - top :]
        srt = -np.sort(-pos, axis=1)
        csum[start : start + step, 1:] = np.cumsum(srt, axis=1)
    return 0.5 * csum


def _best_leader_values(prob: _Problem, open_possible: np.ndarray) -> np.ndarray:
    """Each protégé's best value (fit plus the diversity bound) over its usable leaders.

    ``-inf`` for a protégé with none. The diversity bound depends on a
    leader only through its ``max_size``, so the fit is maximised per
    distinct ``max_size`` and no leader × protégé value matrix is made.
    """
    halves = _diversity_halves(prob)
    k = np.clip(prob.max_size - 1, 0, prob.n_proteges)
    best = np.full(prob.n_proteges, -np.inf)
    for kval in np.unique(k[open_possible]):
        rows = np.flatnonzero(open_possible & (k == kval))
        fit_best = np.full(prob.n_proteges, -np.inf)
        step = max(1, _BLOCK_ELEMENTS // max(prob.n_proteges, 1))
        for s in range(0, len(rows), step):
            r = rows[s : s + step]
            masked = np.where(prob.cand[r], prob.fit[r], -np.inf)
            np.maximum(fit_best, masked.max(axis=0), out=fit_best)
        if halves is not None:
            fit_best = fit_best + halves[:, kval]
        np.maximum(best, fit_best, out=best)
    return best


def bound_source(prob: _Problem) -> str:
    """How :func:`_bound` bounds this problem: ``"flow"`` or ``"best leader"``."""
    return "best leader" if int(np.count_nonzero(prob.cand)) > _FLOW_ARCS else "flow"


def _bound(prob: _Problem, n_placed: int, open_possible: np.ndarray) -> float | None:
    """Upper bound on the objective of any grouping that places ``n_placed`` protégés.

    The optimum of the relaxation without minimum sizes and composition rules
    other than one ``max_count`` (exactly ``n_placed`` units of min-cost flow
    through allowed pairs and capacities ``max_size``), plus a per-protégé
    bound on the diversity term. Above :data:`_FLOW_ARCS` allowed pairs the
    capacities are dropped too: the ``n_placed`` largest values of each
    protégé's best allowed leader (fit plus the diversity bound), a looser
    bound computed in one pass.
    """
    if n_placed == 0:
        return 0.0
    if bound_source(prob) != "flow":
        best = _best_leader_values(prob, open_possible)
        best = best[np.isfinite(best)]
        if len(best) < n_placed:
            return None
        return float(np.sort(best)[::-1][:n_placed].sum())
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


def _flow_arcs(prob: _Problem) -> np.ndarray | None:
    """The pairs the construction's flows use: all (None) or, at scale, the best few.

    Each protégé keeps its :data:`_KEEP_PER_PROTEGE` best allowed leaders and
    each leader its ``4 × max_size`` best allowed protégés, so every leader
    can still fill a group. The selections run along contiguous rows (the
    protégés' on a transposed float32 copy), one row block at a time.
    """
    if int(np.count_nonzero(prob.cand)) <= _FLOW_ARCS:
        return None
    L, P = prob.fit.shape
    keep = np.zeros((L, P), dtype=bool)
    k = min(_KEEP_PER_PROTEGE, L)
    m = min(4 * int(prob.max_size.max(initial=1)), P)
    step = max(1, _BLOCK_ELEMENTS // max(P, 1))
    for s in range(0, L, step):
        e = min(L, s + step)
        masked = np.where(prob.cand[s:e], prob.fit[s:e], -np.inf)
        cols = np.argpartition(-masked, m - 1, axis=1)[:, :m]
        keep[np.arange(s, e)[:, None], cols] = True
    step = max(1, _BLOCK_ELEMENTS // max(L, 1))
    for s in range(0, P, step):
        e = min(P, s + step)
        masked_t = np.where(prob.cand[:, s:e].T, prob.fit[:, s:e].T, -np.inf)
        rows = np.argpartition(-masked_t, k - 1, axis=1)[:, :k]
        keep[rows, np.arange(s, e)[:, None]] = True
    return keep & prob.cand


def _construct(
    prob: _Problem, viable: np.ndarray, info: dict[str, int] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rule-free construction: choose the leaders who open, then a min-cost flow.

    Starts from every viable leader; while the flow with minimum sizes is
    infeasible, closes the leader the capacity-only relaxation loads least.
    Returns the labels and the capacity-only optimum (the "ideal" that guides
    large-neighbourhood search). ``info`` receives ``arcs`` (the pairs the
    flows used) and ``flows`` (how many flows were solved), from which the
    caller charges the work deterministically.
    """
    L, P = prob.fit.shape
    arcs = _flow_arcs(prob)
    if info is not None:
        info["arcs"] = int(np.count_nonzero(prob.cand if arcs is None else arcs))
        info["flows"] = 1
    relax = _flow(prob, viable, lower=False, arcs=arcs)
    if relax is None:
        return np.full(P, -1, dtype=np.int64), None
    if arcs is not None:
        # a protégé the kept arcs leave out gets back all its allowed leaders, so no
        # one waits while an allowed leader has room
        waiting = (relax < 0) & (prob.cand & viable[:, None]).any(axis=0)
        if waiting.any():
            arcs[:, waiting] = prob.cand[:, waiting]
            relax = _flow(prob, viable, lower=False, arcs=arcs)
            if info is not None:
                info["arcs"] = int(np.count_nonzero(arcs))
                info["flows"] += 1
            if relax is None:  # pragma: no cover - more arcs keep the flow feasible
                return np.full(P, -1, dtype=np.int64), None
    load = np.bincount(relax[relax >= 0], minlength=L)
    gain = np.zeros(L)
    placed = relax >= 0
    np.add.at(gain, relax[placed], prob.fit[relax[placed], np.flatnonzero(placed)])
    open_ = viable.copy()
    n_relax = int(placed.sum())
    # order of closing: least loaded, then least fit, then highest index
    ranked = np.lexsort((-np.arange(L), gain, load))
    order = [int(g) for g in ranked if open_[g]]
    # the minimum sizes of the open leaders must fit in what the relaxation places
    while open_.any() and int(prob.min_size[open_].sum()) > n_relax:
        g = order.pop(0)
        open_[g] = False
    while open_.any():
        labels = _flow(prob, open_, lower=True, arcs=arcs)
        if info is not None:
            info["flows"] += 1
        if labels is not None:
            return labels, relax
        g = order.pop(0)
        open_[g] = False
    return np.full(P, -1, dtype=np.int64), relax
