"""Learning groups: min-cost-flow construction and the rule-free upper bound."""

from __future__ import annotations

import numpy as np

from . import _ortools
from ._groups_problem import _Problem


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
    ranked = np.lexsort((-np.arange(L), gain, load))
    order = [int(g) for g in ranked if open_[g]]
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
