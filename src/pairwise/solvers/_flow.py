"""The min-cost-flow engine behind one_to_many: mentor capacities and min_load lower bounds.

Network: source → mentor (capacity), mentor → mentee (allowed pairs, cost =
−scaled weighted score), mentee → sink (1). Lower bounds (``min_load``) move
into node supplies by the standard transform. Every solve is exact and
polynomial (OR-Tools ``SimpleMaxFlow`` / ``SimpleMinCostFlow``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pairwise.errors import InfeasibleError, SolverError
from pairwise.solvers import _ortools
from pairwise.solvers._lsap import Solved, bottleneck, empty, to_cost
from pairwise.solvers._ortools import Scaling, integer_scale
from pairwise.solvers._validation import ScoreProblem

__all__ = [
    "FALLBACK_FACTOR",
    "FALLBACK_TIER_FACTOR",
    "fair_threshold",
    "max_count",
    "mcf_assign",
    "min_load_reasons",
    "priority_tiers",
    "solve_capacitated",
    "solve_network",
    "tier_counts",
]

#: Time of the fallback flow after a cut solve, in units of the maximum flow that counted
#: the matched mentees (measured at 100k x 100k: the same maximum flow 1.1x, the zero-cost
#: flow holding the priority tiers 1.8x); reserved before the deadline.
FALLBACK_FACTOR = 1.2
FALLBACK_TIER_FACTOR = 2.0


def _flow_network(
    n: int, m: int, r: np.ndarray, c: np.ndarray
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Nodes: mentors 0..n-1, mentees n..n+m-1, source n+m, sink n+m+1."""
    source, sink = n + m, n + m + 1
    tails = np.concatenate([np.full(n, source), r, n + np.arange(m)])
    heads = np.concatenate([np.arange(n), n + c, np.full(m, sink)])
    return source, sink, tails.astype(np.int64), heads.astype(np.int64)


def max_count(
    n: int, m: int, r: np.ndarray, c: np.ndarray, capacity: np.ndarray, min_load: np.ndarray
) -> int | None:
    """Most mentees that can be matched with every mentor at or above ``min_load``.

    None when ``min_load`` cannot be met at all. Without lower bounds this is a
    maximum flow; with them, a min-cost circulation whose only cost is -1 per
    unit returned from sink to source (the lower-bound transform moves each
    ``min_load[i]`` into node supplies).
    """
    source, sink, tails, heads = _flow_network(n, m, r, c)
    if not np.any(min_load):
        mf = _ortools.max_flow().SimpleMaxFlow()
        caps = np.concatenate([capacity, np.ones(r.size + m, np.int64)])
        mf.add_arcs_with_capacity(tails, heads, caps)
        if mf.solve(source, sink) != mf.OPTIMAL:
            raise SolverError("max flow failed on a valid network (please report)")
        return int(mf.optimal_flow())
    flow = _ortools.min_cost_flow().SimpleMinCostFlow()
    caps = np.concatenate([capacity - min_load, np.ones(r.size + m, np.int64), [m]])
    costs = np.zeros(caps.size, np.int64)
    costs[-1] = -1
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([tails, [sink]]), np.concatenate([heads, [source]]), caps, costs
    )
    total = int(min_load.sum())
    nodes = np.concatenate([[source], np.arange(n)])
    flow.set_nodes_supplies(nodes, np.concatenate([[-total], min_load]))
    status = flow.solve()
    if status == flow.INFEASIBLE:
        return None
    if status != flow.OPTIMAL:
        raise SolverError(f"min-cost flow stopped with status {status.name} (please report)")
    return int(-flow.optimal_cost())


def fair_threshold(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    s: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    count: int,
    tier: np.ndarray | None = None,
    tiers_best: np.ndarray | None = None,
) -> float:
    """Largest score threshold that still lets ``count`` mentees be matched.

    With ``tier``, the arcs at or above the threshold must also still reach
    every tier maximum ``tiers_best`` (priority is placed before fairness).
    """

    def counter(rr: np.ndarray, cc: np.ndarray) -> int:
        got = max_count(n, m, rr, cc, capacity, min_load)
        if got is None or got < count:
            return -1
        if tier is not None and tiers_best is not None:
            reached = tier_counts(n, m, rr, cc, capacity, min_load, count, tier)
            if np.any(reached < tiers_best):
                return -1
        return got

    return bottleneck(n, m, r, c, s, count, counter)


def min_load_reasons(
    n: int, m: int, r: np.ndarray, c: np.ndarray, min_load: np.ndarray
) -> list[str]:
    """Explain why ``min_load`` cannot be met: a Hall violator from a min cut."""
    reasons = []
    degree = np.bincount(r, minlength=n)
    short = np.flatnonzero(degree < min_load)
    if short.size:
        shown = ", ".join(f"{i} (min_load {min_load[i]}, {degree[i]} allowed)" for i in short[:5])
        more = f" and {short.size - 5} more" if short.size > 5 else ""
        reasons.append(
            f"mentors {shown}{more} have fewer allowed mentees than their min_load. "
            f"Fix: lower min_load for them or allow more pairs."
        )
    total = int(min_load.sum())
    if total > m:
        reasons.append(
            f"min_load adds up to {total} but there are only {m} mentees. Fix: lower min_load."
        )
    # A set X of mentors whose allowed mentees N(X) number fewer than sum(min_load[X]).
    source, sink, tails, heads = _flow_network(n, m, r, c)
    mf = _ortools.max_flow().SimpleMaxFlow()
    big = np.full(r.size, total + 1, np.int64)
    mf.add_arcs_with_capacity(tails, heads, np.concatenate([min_load, big, np.ones(m, np.int64)]))
    mf.solve(source, sink)
    side = np.asarray(mf.get_source_side_min_cut(), dtype=np.int64)
    group = np.sort(side[side < n])
    group = group[min_load[group] > 0]
    mentees = side[(side >= n) & (side < n + m)]
    if group.size and not short.size:
        shown = ", ".join(str(i) for i in group[:5])
        more = f" and {group.size - 5} more" if group.size > 5 else ""
        reasons.append(
            f"mentors {shown}{more} need at least {int(min_load[group].sum())} mentees together "
            f"but only {mentees.size} mentees are allowed with any of them. Fix: lower min_load "
            f"for these mentors or allow more pairs with them."
        )
    return reasons or ["min_load cannot be met. Fix: lower min_load or allow more pairs."]


def priority_tiers(priority: np.ndarray | None) -> np.ndarray | None:
    """Tier per mentee, 0 for the highest priority value; None when all are equal.

    Only the order of the priorities matters for who is placed (see
    :func:`tier_counts`), so the tiers are the distinct values, highest first.
    """
    if priority is None:
        return None
    values, tier = np.unique(-priority, return_inverse=True)
    return tier.astype(np.int64).ravel() if values.size > 1 else None


def solve_network(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    count: int,
    *,
    arc_costs: np.ndarray,
    tier: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    chain_costs: np.ndarray | None = None,
) -> tuple[Any, np.ndarray, np.ndarray] | None:
    """Min-cost flow matching exactly ``count`` mentees; None when infeasible.

    Network: source → mentor (capacity, lower bound ``min_load``), mentor →
    mentee (``arc_costs``), mentee → its tier node, tier ``k`` → tier ``k + 1``
    → … → sink. The flow on the chain arc out of tier ``k`` is the number of
    matched mentees of tiers ``0..k``; ``lower[k]`` is a lower bound on it and
    ``chain_costs[k]`` its unit cost. Without tiers, mentee → sink. Lower
    bounds move into node supplies (the standard transform). Returns the
    solved flow, the ids of the mentor → mentee arcs and of the chain arcs.
    """
    k = 0 if tier is None else int(tier.max()) + 1
    source, sink = n + m + k, n + m + k + 1
    mentee_head = np.full(m, sink) if tier is None else n + m + tier
    chain_t = n + m + np.arange(k)
    chain_h = np.append(chain_t[1:], sink) if k else chain_t
    chain_low = np.zeros(k, np.int64) if lower is None else np.append(lower, 0)
    tails = np.concatenate([np.full(n, source), r, n + np.arange(m), chain_t])
    heads = np.concatenate([np.arange(n), n + c, mentee_head, chain_h])
    caps = np.concatenate(
        [capacity - min_load, np.ones(r.size + m, np.int64), np.full(k, m) - chain_low]
    )
    chain_cost = np.zeros(k, np.int64) if chain_costs is None else chain_costs
    costs = np.concatenate([np.zeros(n, np.int64), arc_costs, np.zeros(m, np.int64), chain_cost])
    flow = _ortools.min_cost_flow().SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int64), heads.astype(np.int64), caps.astype(np.int64), costs
    )
    supply = np.zeros(n + m + k + 2, np.int64)
    supply[source] = count - int(min_load.sum())
    supply[sink] = -count
    supply[:n] = min_load
    np.subtract.at(supply, chain_t, chain_low)
    np.add.at(supply, chain_h, chain_low)
    nodes = np.flatnonzero(supply)
    flow.set_nodes_supplies(nodes, supply[nodes])
    status = flow.solve()
    if status == flow.INFEASIBLE:
        return None
    if status != flow.OPTIMAL:
        raise SolverError(f"min-cost flow stopped with status {status.name} (please report)")
    return flow, arcs[n : n + r.size], arcs[n + r.size + m :]


def tier_counts(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    count: int,
    tier: np.ndarray,
) -> np.ndarray:
    """Most mentees of tiers ``0..k`` matched, for each ``k``, among ``count``-matchings.

    The sets of mentees that a maximum matching (subject to ``min_load``) can
    cover are the bases of a matroid (any two such flows differ by cycles, which
    exchange one covered mentee for another), so one basis reaches every one
    of these maxima at once and it is exactly a basis of greatest total
    priority, for any positive priority values in this order. Without
    ``min_load`` each maximum is the rank of the mentees of tiers ``0..k``:
    one maximum flow on their arcs. With ``min_load`` each is one min-cost
    flow with unit costs (exact, small integers), holding the earlier tiers
    at their maxima.
    """
    k_tiers = int(tier.max()) + 1
    best = np.zeros(k_tiers - 1, np.int64)
    if not np.any(min_load):
        # Without lower bounds, the most mentees of tiers 0..k in a basis is the rank of
        # that set in the matroid: a maximum flow on their arcs alone (several times
        # cheaper than a min-cost flow).
        for k in range(k_tiers - 1):
            own = tier[c] <= k
            got = max_count(n, m, r[own], c[own], capacity, min_load)
            best[k] = min(count, int(got or 0))
        return best
    zero = np.zeros(r.size, np.int64)
    for k in range(k_tiers - 1):
        chain = np.zeros(k_tiers, np.int64)
        chain[k] = -1
        solved = solve_network(
            n, m, r, c, capacity, min_load, count,
            arc_costs=zero, tier=tier, lower=best, chain_costs=chain,
        )  # fmt: skip
        if solved is None:
            raise SolverError("internal: a tier count is infeasible (please report)")
        best[k] = -int(solved[0].optimal_cost())
    return best


def mcf_assign(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    values: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    count: int,
    tier: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, Scaling]:
    """Best total with exactly ``count`` mentees matched (min-cost flow).

    With ``tier`` and ``lower``, at least ``lower[k]`` of the matched mentees
    are of tiers ``0..k`` (see :func:`tier_counts`). Every solution adds up
    ``count`` scores, so the smallest score is subtracted before scaling.
    Large networks are solved where Ctrl-C and the run's deadline can stop
    them (:func:`pairwise.solvers._ortools.run_cancellable`); at the deadline
    :class:`~pairwise.solvers._ortools.DeadlineExceeded` reaches the caller.

    With ``keep`` (a boolean per arc: the pair was in the previous matching),
    the most kept arcs come before the total: each kept arc earns a bonus
    ``B = count * P + 1`` on top of its scaled score (``P`` the largest scaled
    score after the shift), more than any two totals of ``count`` scores can
    differ, so one more kept pair always wins (exact integers). The grid is
    chosen so that ``P + B`` fits OR-Tools' cost range
    (``terms = count + 1`` in :func:`~pairwise.solvers._ortools.integer_scale`);
    when no exact grid fits, the scores are rounded to the finest grid that
    does (matched and kept counts stay exact; the total is then within
    ``Scaling.tolerance`` of the optimum).
    """
    k = 0 if tier is None else int(tier.max()) + 1
    n_nodes = n + m + k + 2
    limit = _ortools.mcf_cost_limit(n_nodes)
    if keep is not None and keep.any():
        scaling = integer_scale(values, limit=limit - 1, terms=count + 1, shift=True)
        ints = scaling.integers(values)
        ints -= min(0, int(ints.min()))
        bonus = count * int(ints.max()) + 1
        if int(ints.max()) + bonus > limit:
            raise SolverError("internal: the keep bonus exceeds the cost range (please report)")
        arc_costs = -(ints + bonus * keep.astype(np.int64))
    else:
        scaling = integer_scale(values, limit=limit, shift=True)
        arc_costs = to_cost(values, scaling)
    used = _ortools.run_cancellable(
        _mcf_used,
        (n, m, r, c, capacity, min_load, count),
        arc_costs,
        tier,
        lower,
        arcs=int(r.size + n + m + k),
    )
    return r[used], c[used], scaling


def _mcf_used(
    shape: tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int],
    arc_costs: np.ndarray,
    tier: np.ndarray | None,
    lower: np.ndarray | None,
) -> np.ndarray:
    """Solve the min-cost flow; which mentor -> mentee arcs carry flow."""
    solved = solve_network(*shape, arc_costs=arc_costs, tier=tier, lower=lower)
    if solved is None:
        raise SolverError("internal: the matched count is infeasible (please report)")
    flow, pair_arcs, _ = solved
    return np.asarray(flow.flows(pair_arcs) > 0)


def _max_flow_pairs(
    n: int, m: int, r: np.ndarray, c: np.ndarray, capacity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The fallback at the deadline (no ``min_load``): a maximum flow, scores not optimised."""
    source, sink, tails, heads = _flow_network(n, m, r, c)
    mf = _ortools.max_flow().SimpleMaxFlow()
    arcs = mf.add_arcs_with_capacity(
        tails, heads, np.concatenate([capacity, np.ones(r.size + m, np.int64)])
    )
    if mf.solve(source, sink) != mf.OPTIMAL:
        raise SolverError("max flow failed on a valid network (please report)")
    used = np.asarray(mf.flows(arcs[n : n + r.size]) > 0)
    return r[used], c[used]


def _priority_flow_pairs(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    count: int,
    tier: np.ndarray,
    best: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The fallback at the deadline with priority tiers: ``count`` mentees, every tier at its most.

    A flow with zero costs on the tier network of :func:`solve_network`
    (scores not optimised); run where Ctrl-C can stop it.
    """
    zero = np.zeros(r.size, np.int64)

    def used(args: tuple[Any, ...]) -> np.ndarray:
        solved = solve_network(*args, arc_costs=zero, tier=tier, lower=best)
        if solved is None:
            raise SolverError("internal: the priority counts are infeasible (please report)")
        flow, pair_arcs, _ = solved
        return np.asarray(flow.flows(pair_arcs) > 0)

    keep = _ortools.run_cancellable(
        used, (n, m, r, c, capacity, min_load, count), arcs=int(r.size + n + m)
    )
    return r[keep], c[keep]


def solve_capacitated(
    problem: ScoreProblem,
    weights: np.ndarray | None,
    capacity: np.ndarray,
    min_load: np.ndarray,
    fair: bool,
    priority: np.ndarray | None = None,
) -> tuple[Solved, float | None]:
    """Most mentees (subject to ``min_load``), then priority, then fairness, then the total.

    In this order: (1) the number of matched mentees; (2) the total
    ``priority`` of the matched mentees (see :func:`tier_counts`); (3) with
    ``fair``, the lowest matched score; (4) the total (weighted) score.
    Returns the pairs and the threshold (None unless ``fair`` and someone is
    matched). Raises :class:`InfeasibleError` when ``min_load`` cannot be met.
    """
    n, m = problem.shape
    r, c, s = problem.arcs()
    keep = capacity[r] > 0
    r, c, s = r[keep], c[keep], s[keep]
    counted = time.perf_counter()
    count = max_count(n, m, r, c, capacity, min_load)
    counted = time.perf_counter() - counted
    if count is None:
        reasons = min_load_reasons(n, m, r, c, min_load)
        raise InfeasibleError("min_load cannot be met: " + reasons[0], reasons)
    if count == 0:
        return empty(), None
    tier = priority_tiers(priority)
    best = None if tier is None else tier_counts(n, m, r, c, capacity, min_load, count, tier)
    threshold: float | None = None
    if fair:
        threshold = fair_threshold(n, m, r, c, s, capacity, min_load, count, tier, best)
        keep = s >= threshold
        r, c, s = r[keep], c[keep], s[keep]
    values = s * weights[c] if weights is not None else s
    # The fallback at the deadline (a flow as costly as the count above, about twice with
    # tiers) comes out of the solve's time, so that a cut solve still ends by the deadline.
    deadline = _ortools.earliest(None)
    if deadline is not None and not np.any(min_load):
        deadline -= counted * (FALLBACK_TIER_FACTOR if tier is not None else FALLBACK_FACTOR)
    try:
        with _ortools.wall_deadline(deadline):
            rows, cols, scaling = mcf_assign(
                n, m, r, c, values, capacity, min_load, count, tier, best
            )
    except _ortools.DeadlineExceeded:
        if np.any(min_load):
            # no cheap fallback meets the lower bounds: finish the exact solve (still
            # stoppable by Ctrl-C) rather than return pairs breaking a min_load
            with _ortools.no_deadline():
                rows, cols, scaling = mcf_assign(
                    n, m, r, c, values, capacity, min_load, count, tier, best
                )
        elif tier is None:
            rows, cols = _max_flow_pairs(n, m, r, c, capacity)
            return Solved(rows, cols, "max_flow (time limit)", stopped_by_time_limit=True), (
                threshold
            )
        else:
            # priority comes before any score: a plain maximum flow would leave priority
            # mentees out that could be matched; a flow with zero costs holding every tier
            # at its maximum keeps both counts exact (still stoppable by Ctrl-C)
            with _ortools.no_deadline():
                rows, cols = _priority_flow_pairs(
                    n, m, r, c, capacity, min_load, count, tier, best
                )
            method = "priority+max_flow (time limit)"
            return Solved(rows, cols, method, stopped_by_time_limit=True), threshold
    method = "min_cost_flow" if tier is None else "priority+min_cost_flow"
    method = method if threshold is None else f"bottleneck+{method}"
    return Solved(rows, cols, method, scaling), threshold
