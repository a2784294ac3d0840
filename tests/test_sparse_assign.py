"""Sparse solve paths: arc order for OR-Tools' assignment, priority tier counts by maximum flow.

Oracles: an exact CP-SAT model (lexicographic count, priority, total in three
stages), SciPy's sparse full matching, brute force on tiny cases, and the
min-cost flows that computed the tier counts before.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairwise.solvers import _flow, _ortools
from pairwise.solvers._sparse_assign import lsa_mates, order_arcs
from pairwise.solvers.assignment import one_to_many, one_to_one
from reference import brute_force_assignment, keys_equal, matching_key

SOME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def sparse_rosters(draw, max_n=6, max_m=9, levels=4):
    """Candidate arcs (tie-heavy scores on quarters), capacities 0-3, priorities 1-3."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.2, 0.4, 0.7, 1.0]))
    mask = rng.random((n, m)) < density
    r, c = np.nonzero(mask)
    s = rng.integers(0, levels + 1, r.size) / levels
    cap = rng.integers(0, 4, n)
    prio = rng.choice([1.0, 2.0, 3.0], m) if draw(st.booleans()) else rng.choice([1.0, 2.0], m)
    low = np.minimum(cap, rng.integers(0, 2, n)) if draw(st.booleans()) else np.zeros(n, int)
    return n, m, r, c, s, cap.astype(np.int64), prio, low.astype(np.int64)


def cp_lexicographic(n, m, r, c, s, cap, low, prio, scale=4):
    """Exact (count, priority, total) optimum by CP-SAT in three stages; None: infeasible."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{a}") for a in range(r.size)]
    for j in range(m):
        model.add(sum(x[a] for a in np.flatnonzero(c == j)) <= 1)
    for i in range(n):
        arcs = [x[a] for a in np.flatnonzero(r == i)]
        model.add(sum(arcs) <= int(cap[i]))
        model.add(sum(arcs) >= int(low[i]))
    # priority as integer ranks: only the order matters (see one_to_one)
    ranks = np.unique(prio, return_inverse=True)[1].ravel() + 1
    stages = [
        [1] * r.size,
        [int(ranks[c[a]]) for a in range(r.size)],
        [round(float(s[a]) * scale) for a in range(r.size)],
    ]
    key = []
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    for coef in stages:
        expr = sum(k * v for k, v in zip(coef, x, strict=True))
        model.maximize(expr)
        status = solver.solve(model)
        if status == cp_model.INFEASIBLE:
            return None
        assert status == cp_model.OPTIMAL
        best = round(solver.objective_value)
        model.add(expr == best)
        key.append(best)
    return key


def _key(r_out, c_out, s_lookup, prio, scale=4):
    ranks = np.unique(prio, return_inverse=True)[1].ravel() + 1
    return [int(r_out.size), int(ranks[c_out].sum()), round(float(s_lookup.sum()) * scale)]


# --------------------------------------------------------------------------- arc order


@SOME
@given(st.integers(0, 2**31 - 1), st.integers(1, 200))
def test_order_arcs_groups_tails_and_puts_cheap_arcs_last(seed, size):
    rng = np.random.default_rng(seed)
    t, h = rng.integers(0, 20, size), rng.integers(0, 20, size)
    cost = rng.integers(-(2**40), 2**40, size) if seed % 2 else rng.integers(-3, 3, size)
    ot, oh, oc = order_arcs(t, h, cost)
    assert sorted(zip(ot, oh, oc, strict=True)) == sorted(zip(t, h, cost, strict=True))
    assert np.all(np.diff(ot) >= 0)
    same = ot[1:] == ot[:-1]
    assert np.all(oc[1:][same] <= oc[:-1][same])


def test_order_arcs_huge_costs_fall_back_to_lexsort():
    t = np.array([2, 0, 1, 0])
    cost = np.array([2**61, -(2**61), 0, 2**61])
    ot, _, oc = order_arcs(t, np.arange(4), cost)
    assert ot.tolist() == [0, 0, 1, 2] and oc.tolist() == [2**61, -(2**61), 0, 2**61]


@SOME
@given(st.integers(0, 2**31 - 1), st.integers(2, 40), st.sampled_from([1, 3, 100]))
def test_lsa_mates_matches_scipy_on_perfect_sparse_problems(seed, n, levels):
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    mask = rng.random((n, n)) < 0.3
    mask[np.arange(n), perm] = True  # a perfect matching exists
    r, c = np.nonzero(mask)
    cost = rng.integers(0, levels + 1, r.size)
    mate = lsa_mates(n, r, c, -cost)
    assert sorted(mate.tolist()) == list(range(n))
    got = cost[np.searchsorted(r * n + c, np.arange(n) * n + mate)].sum()
    rr, cc = min_weight_full_bipartite_matching(sp.csr_matrix((levels + 1.0 - cost, (r, c))))
    want = cost[np.searchsorted(r * n + c, rr * n + cc)].sum()
    assert got == want


# --------------------------------------------------------------------------- one_to_one, sparse


@SOME
@given(sparse_rosters(max_n=8, max_m=8))
def test_sparse_one_to_one_matches_cp_sat(inst):
    n, m, r, c, s, _, prio, _ = inst
    S = sp.csr_matrix((s + 1.0, (r, c)), shape=(n, m))  # +1: no stored zero gets lost
    ones, zero = np.ones(n, np.int64), np.zeros(n, np.int64)
    for priority in (None, prio):
        res = one_to_one(S, priority=priority)
        p = np.ones(m) if priority is None else priority
        want = cp_lexicographic(n, m, r, c, s + 1.0, ones, zero, p)
        got = _key(res.rows, res.cols, S.toarray()[res.rows, res.cols], p)
        assert got == want
        assert res.status == "optimal" and res.tolerance == 0.0


# --------------------------------------------------------------------------- priority


@SOME
@given(sparse_rosters())
def test_priority_one_to_many_matches_cp_sat(inst):
    n, m, r, c, s, cap, prio, low = inst
    S = sp.csr_matrix((s + 1.0, (r, c)), shape=(n, m))
    want = cp_lexicographic(n, m, r, c, s + 1.0, cap, low, prio)
    if want is None:
        with pytest.raises(Exception, match="min_load"):
            one_to_many(S, cap, min_load=low, priority=prio)
        return
    res = one_to_many(S, cap, min_load=low, priority=prio)
    got = _key(res.rows, res.cols, S.toarray()[res.rows, res.cols], prio)
    assert got == want
    loads = np.bincount(res.rows, minlength=n)
    assert np.all(loads <= cap) and np.all(loads >= low)


@SOME
@given(sparse_rosters(max_n=3, max_m=5), st.data())
def test_priority_one_to_many_dense_matches_brute_force(inst, data):
    n, m, r, c, s, cap, prio, low = inst
    scores = np.zeros((n, m))
    allowed = np.zeros((n, m), bool)
    scores[r, c], allowed[r, c] = s + 0.1 * data.draw(st.integers(0, 3)), True
    best = brute_force_assignment(scores, allowed, capacity=cap, min_load=low, priority=prio)
    if best is None:
        return
    res = one_to_many(scores, cap, allowed, min_load=low, priority=prio)
    assert keys_equal(matching_key(scores, res.rows, res.cols, priority=prio), best)


def _tier_counts_by_min_cost_flow(n, m, r, c, cap, low, count, tier):
    """Each tier maximum as a min-cost flow holding the earlier ones (the general method)."""
    k_tiers = int(tier.max()) + 1
    best = np.zeros(k_tiers - 1, np.int64)
    for k in range(k_tiers - 1):
        chain = np.zeros(k_tiers, np.int64)
        chain[k] = -1
        solved = _flow.solve_network(
            n, m, r, c, cap, low, count, arc_costs=np.zeros(r.size, np.int64), tier=tier,
            lower=best, chain_costs=chain,
        )  # fmt: skip
        best[k] = -int(solved[0].optimal_cost())
    return best


@SOME
@given(sparse_rosters(max_n=10, max_m=16, levels=7))
def test_tier_counts_by_maximum_flow_equal_the_min_cost_flows(inst):
    n, m, r, c, _, cap, prio, _ = inst
    zero = np.zeros(n, np.int64)
    count = _flow.max_count(n, m, r, c, cap, zero)
    tier = _flow.priority_tiers(prio)
    if count is None or count == 0 or tier is None:
        return
    got = _flow.tier_counts(n, m, r, c, cap, zero, count, tier)
    want = _tier_counts_by_min_cost_flow(n, m, r, c, cap, zero, count, tier)
    assert got.tolist() == want.tolist()


def test_priority_at_the_deadline_keeps_a_maximum_flow(monkeypatch):
    # the min-cost flow is cut; the fallback flow (still stoppable by Ctrl-C) keeps the
    # most mentees and, before any score, the priority mentee
    real = _ortools.run_cancellable
    cut: list[object] = []

    def stop_first(fn, *args, **kwargs):
        if not cut:
            cut.append(fn)
            raise _ortools.DeadlineExceeded
        return real(fn, *args, **kwargs)

    S = sp.csr_matrix(np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 2.0]]))
    monkeypatch.setattr(_ortools, "run_cancellable", stop_first)
    res = one_to_many(S, [1, 1], priority=[2.0, 1.0, 1.0])
    assert res.stopped_by_time_limit and res.n_matched == 2
    assert 0 in res.cols.tolist()
