"""Exactness (issue 7, point 8): "optimal" only when optimal for the scores given.

Large offsets plus tiny differences used to be rounded away by the integer
grid check (``1e-9`` relative: 1e6 + 1e-4 passed as the whole number 1e6) on
the sparse, one-to-many, peers and dense-transport paths, while the result said
``optimal`` with ``tolerance == 0``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairwise.solvers import peers
from pairwise.solvers._ortools import exact_integers, integer_scale
from pairwise.solvers.assignment import one_to_many, one_to_one
from pairwise.solvers.peers import peer_pairs
from reference import brute_force_assignment, brute_force_peers, matching_key, scipy_one_to_many

SOME = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

OFFSETS = (1e6, -1e6, 1e8, 123456.789)
DELTAS = (1e-4, 3e-5, 7e-6)


# --------------------------------------------------------------------------- the issue's example


def test_issue_example_sparse():
    res = one_to_one(sp.csr_matrix([[1e6, 1e6 + 1e-4], [1e6 + 1e-4, 1e6]]))
    assert res.objective == 2000000.0002
    assert sorted(res.cols[np.argsort(res.rows)].tolist()) == [0, 1]
    assert res.rows.tolist() == [1, 0]
    assert res.status == "optimal" and res.tolerance == 0.0


@pytest.mark.parametrize(
    "solve",
    [
        lambda S: one_to_one(S),
        lambda S: one_to_one(sp.csr_matrix(S)),
        lambda S: one_to_many(S, 1),
        lambda S: one_to_many(S, [1, 1], min_load=1),
        lambda S: one_to_many(sp.csr_matrix(S), 2),
        lambda S: one_to_one(S, priority=[2, 1]),
    ],
)
def test_issue_example_every_path(solve):
    S = np.array([[1e6, 1e6 + 1e-4], [1e6 + 1e-4, 1e6]])
    res = solve(S)
    if res.n_matched == 2 and len(set(res.rows.tolist())) == 2:
        assert res.objective == 2000000.0002
    else:  # capacity 2: one mentor takes both, each at its best
        assert res.objective == pytest.approx(2000000.0002, abs=1e-9)
    assert res.status == "optimal" and res.tolerance == 0.0


# --------------------------------------------------------------------------- the grid policy


def test_grid_check_is_not_relative_1e9():
    values = np.array([1e6, 1e6 + 1e-4])
    scaling = integer_scale(values, limit=2.0**40, shift=True)
    assert scaling.exact
    ints = scaling.integers(values)
    assert ints[1] - ints[0] == round(1e-4 * scaling.scale)
    # Whole numbers only at scale 1 when they really are whole.
    assert integer_scale(np.array([1e6 + 1e-4]), limit=2.0**60).scale != 1.0


def test_dyadic_grid_is_exact_and_inexact_grid_says_so():
    values = np.random.default_rng(0).random(50)  # multiples of 2**-53
    scaling = integer_scale(values, limit=2.0**60)
    assert scaling.exact and scaling.scale <= 2.0**53
    assert np.array_equal(scaling.integers(values) / scaling.scale, values)
    rough = integer_scale(values, limit=2.0**40)
    assert not rough.exact and rough.tolerance(10) > 0


def test_exact_integers_are_the_scores():
    values = np.array([1e6, 1e6 + 1e-4, 1e-9, -3.25])
    ints, scale = exact_integers(values)
    low = values.min()
    for v, k in zip(values.tolist(), ints, strict=True):
        assert (v - low) * scale == pytest.approx(k, rel=1e-15)
    order = np.argsort(values)
    assert [ints[i] for i in order] == sorted(ints)


# ----------------------------------------------------------------- hypothesis: every path


@st.composite
def offset_instances(draw, max_rows=4, max_cols=4):
    n = draw(st.integers(1, max_rows))
    m = draw(st.integers(1, max_cols))
    offset = draw(st.sampled_from(OFFSETS))
    delta = draw(st.sampled_from(DELTAS))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, 4, (n, m)) + (rng.random((n, m)) if draw(st.booleans()) else 0.0)
    scores = offset + delta * steps
    allowed = rng.random((n, m)) < 0.7 if draw(st.booleans()) else None
    return {"scores": scores, "allowed": allowed, "delta": delta}


def _same_best(scores, res, best, delta, **key):
    got = matching_key(scores, res.rows, res.cols, **key)
    assert got[:-1] == best[:-1]
    assert abs(got[-1] - best[-1]) <= delta / 10, (got, best)


@SOME
@given(offset_instances())
def test_one_to_one_dense_and_sparse(inst):
    S, A, delta = inst["scores"], inst["allowed"], inst["delta"]
    best = brute_force_assignment(S, A)
    _same_best(S, one_to_one(S, A), best, delta)
    mask = np.ones(S.shape, bool) if A is None else A
    rows, cols = np.nonzero(mask)
    res = one_to_one(sp.csr_matrix((S[rows, cols], (rows, cols)), shape=S.shape))
    _same_best(S, res, best, delta)
    assert res.status == "optimal" and res.tolerance == 0.0


@SOME
@given(offset_instances(max_rows=3), st.data())
def test_one_to_many_and_priority(inst, data):
    S, A, delta = inst["scores"], inst["allowed"], inst["delta"]
    n, m = S.shape
    cap = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    best = brute_force_assignment(S, A, capacity=cap)
    res = one_to_many(S, cap, A)
    _same_best(S, res, best, delta)
    assert res.status == "optimal" and res.tolerance == 0.0
    prio = np.asarray(data.draw(st.lists(st.sampled_from([1, 2]), min_size=m, max_size=m)))
    best = brute_force_assignment(S, A, capacity=cap, priority=prio)
    res = one_to_many(S, cap, A, priority=prio)
    _same_best(S, res, best, delta, priority=prio)


@st.composite
def offset_pools(draw, max_people=7):
    n = draw(st.integers(2, max_people))
    offset = draw(st.sampled_from(OFFSETS))
    delta = draw(st.sampled_from(DELTAS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    half = np.triu(offset + delta * rng.integers(0, 4, (n, n)), 1)
    scores = half + half.T
    np.fill_diagonal(scores, offset)
    return {"scores": scores, "delta": delta}


@SOME
@given(offset_pools())
def test_peers_exact_and_fast(pool):
    S, delta = pool["scores"], pool["delta"]
    best = brute_force_peers(S)
    res = peer_pairs(S)
    _same_best(S, res, best, delta)
    assert res.status == "optimal" and res.tolerance == 0.0
    old = peers.EXACT_WORK
    peers.EXACT_WORK = 0
    try:
        fast = peer_pairs(S)
    finally:
        peers.EXACT_WORK = old
    if fast.status == "optimal":  # only when it really is
        _same_best(S, fast, best, delta)
    assert fast.bound >= best[-1] - delta / 10


# --------------------------------------------------------------------------- dense portfolio paths


def _scipy_total(S):
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(S, maximize=True)
    return float(S[r, c].sum())


def test_transport_path_keeps_tiny_differences():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 300), rng.integers(0, 3, 320)
    # Every row type prefers column type 0, so no row-maximum certificate exists.
    table = 1e6 + 1e-4 * np.array([[4, 3, 0], [4, 0, 3], [4, 1, 2]])
    S = table[a[:, None], b[None, :]]
    res = one_to_one(S)
    assert res.method == "transport"  # before: 0.0195 below the optimum, "optimal"
    assert res.objective == pytest.approx(_scipy_total(S), abs=1e-6)
    assert res.status == "optimal"


def test_pruned_path_keeps_tiny_differences():
    S = 1e6 + 1e-6 * np.random.default_rng(1).random((300, 300))
    res = one_to_one(S)
    assert res.objective == pytest.approx(_scipy_total(S), abs=1e-7)


# --------------------------------------------------------------------------- honest tolerance


def test_rounded_flow_reports_feasible_with_bound():
    # 250 mentees, arbitrary 53-bit floats: no exact grid fits min-cost flow's range.
    rng = np.random.default_rng(3)
    S = rng.random((40, 250))
    res = one_to_many(S, 5)
    count, total = scipy_one_to_many(S, 5)
    assert res.n_matched == count
    if res.tolerance > 0:
        assert res.status == "feasible" and res.bound == res.objective + res.tolerance
        assert total <= res.bound + 1e-9 and res.objective >= total - res.tolerance - 1e-9
    else:
        assert res.status == "optimal"
        assert res.objective == pytest.approx(total, rel=1e-12)
