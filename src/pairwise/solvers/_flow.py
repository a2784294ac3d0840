"""The min-cost-flow engine behind one_to_many: mentor capacities and min_load lower bounds.

Network: source → mentor (capacity), mentor → mentee (allowed pairs, cost =
−scaled weighted score), mentee → sink (1). Lower bounds (``min_load``) move
into node supplies by the standard transform. Every solve is exact and
polynomial (OR-Tools ``SimpleMaxFlow`` / ``SimpleMinCostFlow``).
"""

from __future__ import annotations

import numpy as np

from pairwise.errors import InfeasibleError, SolverError
from pairwise.solvers import _ortools
from pairwise.solvers._lsap import Solved, bottleneck, empty, to_cost
from pairwise.solvers._ortools import Scaling, integer_scale
from pairwise.solvers._validation import ScoreProblem

__all__ = ["fair_threshold", "max_count", "mcf_assign", "min_load_reasons", "solve_capacitated"]


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
) -> float:
    """Largest score threshold that still lets ``count`` mentees be matched."""

    def counter(rr: np.ndarray, cc: np.ndarray) -> int:
        got = max_count(n, m, rr, cc, capacity, min_load)
        return -1 if got is None else got

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


def mcf_assign(
    n: int,
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    values: np.ndarray,
    capacity: np.ndarray,
    min_load: np.ndarray,
    count: int,
) -> tuple[np.ndarray, np.ndarray, Scaling]:
    """Best total with exactly ``count`` mentees matched (min-cost flow).

    Large networks are solved where Ctrl-C and the run's deadline can stop
    them (:func:`pairwise.solvers._ortools.run_cancellable`); at the deadline
    :class:`~pairwise.solvers._ortools.DeadlineExceeded` reaches the caller.
    """
    source, sink, tails, heads = _flow_network(n, m, r, c)
    scaling = integer_scale(values, limit=_ortools.mcf_cost_limit(n + m + 2))
    caps = np.concatenate([capacity - min_load, np.ones(r.size + m, np.int64)])
    costs = np.concatenate(
        [np.zeros(n, np.int64), to_cost(values, scaling), np.zeros(m, np.int64)]
    )
    if np.any(min_load):
        nodes = np.concatenate([[source, sink], np.arange(n)])
        supplies = np.concatenate([[count - int(min_load.sum()), -count], min_load])
    else:
        nodes, supplies = np.array([source, sink]), np.array([count, -count])
    network = (tails, heads, caps, costs, nodes, supplies)
    used = _ortools.run_cancellable(
        _mcf_used, network, n, r.size, bool(np.any(min_load)), arcs=int(tails.size)
    )
    return r[used], c[used], scaling


def _mcf_used(
    network: tuple[np.ndarray, ...], n: int, n_pairs: int, lower_bounds: bool
) -> np.ndarray:
    """Solve the min-cost flow; which mentor -> mentee arcs carry flow."""
    tails, heads, caps, costs, nodes, supplies = network
    flow = _ortools.min_cost_flow().SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_nodes_supplies(nodes, supplies)
    status = flow.solve() if lower_bounds else flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise SolverError(f"min-cost flow stopped with status {status.name} (please report)")
    return np.asarray(flow.flows(arcs[n : n + n_pairs]) > 0)


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


def solve_capacitated(
    problem: ScoreProblem,
    weights: np.ndarray | None,
    capacity: np.ndarray,
    min_load: np.ndarray,
    fair: bool,
) -> tuple[Solved, float | None]:
    """Most mentees (subject to ``min_load``), then the fair threshold, then the best total.

    Returns the pairs and the threshold (None unless ``fair`` and someone is
    matched). Raises :class:`InfeasibleError` when ``min_load`` cannot be met.
    """
    n, m = problem.shape
    r, c, s = problem.arcs()
    keep = capacity[r] > 0
    r, c, s = r[keep], c[keep], s[keep]
    count = max_count(n, m, r, c, capacity, min_load)
    if count is None:
        reasons = min_load_reasons(n, m, r, c, min_load)
        raise InfeasibleError("min_load cannot be met: " + reasons[0], reasons)
    threshold: float | None = None
    if fair and count > 0:
        threshold = fair_threshold(n, m, r, c, s, capacity, min_load, count)
        keep = s >= threshold
        r, c, s = r[keep], c[keep], s[keep]
    if count == 0:
        return empty(), threshold
    values = s * weights[c] if weights is not None else s
    try:
        rows, cols, scaling = mcf_assign(n, m, r, c, values, capacity, min_load, count)
    except _ortools.DeadlineExceeded:
        if np.any(min_load):
            # no cheap fallback meets the lower bounds: finish the exact solve (still
            # stoppable by Ctrl-C) rather than return pairs breaking a min_load
            with _ortools.no_deadline():
                rows, cols, scaling = mcf_assign(n, m, r, c, values, capacity, min_load, count)
        else:
            rows, cols = _max_flow_pairs(n, m, r, c, capacity)
            return Solved(rows, cols, "max_flow (time limit)", stopped_by_time_limit=True), (
                threshold
            )
    method = "min_cost_flow" if threshold is None else "bottleneck+min_cost_flow"
    return Solved(rows, cols, method, scaling), threshold
