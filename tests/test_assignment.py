"""Tests for one_to_one / one_to_many: oracles, invariants, methods and input errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairwise.errors import InfeasibleError, InputError
from pairwise.solvers.assignment import one_to_many, one_to_one
from reference import (
    bottleneck_reference,
    brute_force_assignment,
    keys_equal,
    matching_key,
    scipy_assignment,
    scipy_one_to_many,
)
from strategies import capacities, score_matrices

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _key(inst, res, fair=False):
    return matching_key(
        np.nan_to_num(inst["scores"]), res.rows, res.cols, weights=inst["weights"], fair=fair
    )


def _check_invariants(inst, res, capacity=1):
    scores, allowed = inst["scores"], inst["allowed"]
    n, m = scores.shape
    assert res.rows.dtype.kind == "i" and res.cols.dtype.kind == "i"
    assert len(set(res.cols.tolist())) == res.cols.size, "a mentee matched twice"
    assert np.all(np.diff(res.cols) > 0), "pairs sorted by column"
    load = np.bincount(res.rows, minlength=n)
    assert np.all(load <= np.broadcast_to(capacity, (n,)))
    if allowed is not None:
        assert allowed[res.rows, res.cols].all(), "a forbidden pair was used"
    w = np.ones(m) if inst["weights"] is None else inst["weights"]
    recomputed = float(np.sum(scores[res.rows, res.cols] * w[res.cols]))
    assert res.objective == pytest.approx(recomputed, rel=1e-12, abs=1e-12)
    assert res.status == "optimal" and res.bound == res.objective
    assert res.wall_time >= 0


# --------------------------------------------------------------------------- oracles


@FAST
@given(score_matrices(max_rows=5, max_cols=5), st.sampled_from(["total", "fair"]))
def test_one_to_one_matches_brute_force(inst, objective):
    res = one_to_one(inst["scores"], inst["allowed"], objective=objective, weights=inst["weights"])
    _check_invariants(inst, res)
    fair = objective == "fair"
    best = brute_force_assignment(
        np.nan_to_num(inst["scores"]), inst["allowed"], weights=inst["weights"], fair=fair
    )
    assert keys_equal(_key(inst, res, fair), best)


@FAST
@given(score_matrices(max_rows=30, max_cols=30))
def test_one_to_one_matches_scipy(inst):
    res = one_to_one(inst["scores"], inst["allowed"], weights=inst["weights"])
    _check_invariants(inst, res)
    count, total = scipy_assignment(
        np.nan_to_num(inst["scores"]), inst["allowed"], weights=inst["weights"]
    )
    assert res.n_matched == count
    assert res.objective == pytest.approx(total, rel=1e-9, abs=1e-9)


@SOME
@given(score_matrices(max_rows=12, max_cols=12))
def test_fair_matches_threshold_scan(inst):
    res = one_to_one(inst["scores"], inst["allowed"], objective="fair", weights=inst["weights"])
    _check_invariants(inst, res)
    ref = bottleneck_reference(
        np.nan_to_num(inst["scores"]), inst["allowed"], weights=inst["weights"]
    )
    got = _key(inst, res, fair=True)
    assert keys_equal(got, ref)
    if res.n_matched:
        assert res.min_score == pytest.approx(ref[1])


@SOME
@given(score_matrices(max_rows=25, max_cols=25))
def test_sparse_input_equals_dense(inst):
    scores = np.nan_to_num(inst["scores"])
    allowed = np.ones(scores.shape, bool) if inst["allowed"] is None else inst["allowed"]
    rows, cols = np.nonzero(allowed)
    sparse = sp.csr_matrix((scores[rows, cols], (rows, cols)), shape=scores.shape)
    a = one_to_one(scores, allowed, weights=inst["weights"])
    b = one_to_one(sparse, weights=inst["weights"])
    assert b.n_matched == a.n_matched
    assert b.objective == pytest.approx(a.objective, rel=1e-9, abs=1e-9)
    assert allowed[b.rows, b.cols].all()


@FAST
@given(score_matrices(max_rows=4, max_cols=5), st.data())
def test_one_to_many_matches_brute_force(inst, data):
    n = inst["scores"].shape[0]
    cap = data.draw(capacities(n, max_capacity=2))
    low = data.draw(st.sampled_from([0, 1]))
    low = np.minimum(low, np.broadcast_to(cap, (n,)))
    objective = data.draw(st.sampled_from(["total", "fair"]))
    fair = objective == "fair"
    best = brute_force_assignment(
        np.nan_to_num(inst["scores"]),
        inst["allowed"],
        capacity=cap,
        min_load=low,
        weights=inst["weights"],
        fair=fair,
    )
    if best is None:
        with pytest.raises(InfeasibleError):
            one_to_many(
                inst["scores"],
                cap,
                inst["allowed"],
                min_load=low,
                objective=objective,
                weights=inst["weights"],
            )
        return
    res = one_to_many(
        inst["scores"],
        cap,
        inst["allowed"],
        min_load=low,
        objective=objective,
        weights=inst["weights"],
    )
    _check_invariants(inst, res, capacity=cap)
    assert np.all(np.bincount(res.rows, minlength=n) >= low)
    assert keys_equal(_key(inst, res, fair), best)


@SOME
@given(score_matrices(max_rows=10, max_cols=25), st.data())
def test_one_to_many_matches_slot_expansion(inst, data):
    n = inst["scores"].shape[0]
    cap = data.draw(capacities(n, max_capacity=4))
    res = one_to_many(inst["scores"], cap, inst["allowed"], weights=inst["weights"])
    _check_invariants(inst, res, capacity=cap)
    count, total = scipy_one_to_many(
        np.nan_to_num(inst["scores"]), cap, inst["allowed"], weights=inst["weights"]
    )
    assert res.n_matched == count
    assert res.objective == pytest.approx(total, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------- properties


@SOME
@given(score_matrices(max_rows=8, max_cols=8), st.integers(0, 2**16))
def test_same_seed_same_result_and_inputs_untouched(inst, seed):
    scores = inst["scores"].copy()
    allowed = None if inst["allowed"] is None else inst["allowed"].copy()
    a = one_to_one(inst["scores"], inst["allowed"], seed=seed)
    b = one_to_one(inst["scores"], inst["allowed"], seed=seed)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.cols, b.cols)
    np.testing.assert_array_equal(inst["scores"], scores)
    if allowed is not None:
        np.testing.assert_array_equal(inst["allowed"], allowed)
    assert a.seed == seed


@SOME
@given(score_matrices(max_rows=10, max_cols=10), st.integers(0, 2**16))
def test_permuting_rows_keeps_objective(inst, seed):
    perm = np.random.default_rng(seed).permutation(inst["scores"].shape[0])
    allowed = None if inst["allowed"] is None else inst["allowed"][perm]
    a = one_to_one(inst["scores"], inst["allowed"], weights=inst["weights"])
    b = one_to_one(inst["scores"][perm], allowed, weights=inst["weights"])
    assert (a.n_matched, a.objective) == (b.n_matched, pytest.approx(b.objective, abs=1e-9))


@SOME
@given(score_matrices(max_rows=8, max_cols=8), st.integers(0, 2**16))
def test_relaxing_never_hurts(inst, seed):
    """More allowed pairs or more capacity never lowers (count, total)."""
    scores = np.nan_to_num(inst["scores"])
    allowed = np.ones(scores.shape, bool) if inst["allowed"] is None else inst["allowed"]
    more = allowed | (np.random.default_rng(seed).random(scores.shape) < 0.3)
    a = one_to_one(scores, allowed)
    b = one_to_one(scores, more)
    assert (b.n_matched, b.objective + 1e-9) >= (a.n_matched, a.objective)
    c = one_to_many(scores, 2, allowed)
    assert (c.n_matched, c.objective + 1e-9) >= (a.n_matched, a.objective)


def test_nobody_left_out_while_a_partner_has_room():
    # Greedy on scores would take (0, 0) = 10 and leave mentee 1 alone.
    S = np.array([[10.0, 9.0], [1.0, -np.inf]])
    allowed = np.isfinite(S)
    res = one_to_one(S, allowed)
    assert res.n_matched == 2 and res.objective == 10.0


def test_weights_keep_priority_mentees_in():
    S = np.array([[0.6, 0.5]])
    plain = one_to_one(S)
    assert plain.cols.tolist() == [0]
    weighted = one_to_one(S, weights=[1.0, 2.0])
    assert weighted.cols.tolist() == [1]
    assert weighted.objective == pytest.approx(1.0)


def test_fair_raises_the_worst_pair():
    S = np.array([[10.0, 4.0], [4.0, 1.0]])
    total = one_to_one(S)
    assert total.objective == 11.0 and total.min_score == 1.0
    fair = one_to_one(S, objective="fair")
    assert fair.min_score == 4.0 and fair.objective == 8.0


# --------------------------------------------------------------------------- methods


def _compare_with_scipy(S, allowed=None, **kw):
    res = one_to_one(S, allowed, **kw)
    count, total = scipy_assignment(np.nan_to_num(S), allowed)
    assert res.n_matched == count
    assert res.objective == pytest.approx(total, rel=1e-10, abs=1e-9)
    return res


def test_pruned_certified_on_uniform(seed):
    S = np.random.default_rng(seed).random((300, 300))
    assert _compare_with_scipy(S, seed=seed).method == "lsa-pruned"


def test_pruned_rectangular():
    S = np.random.default_rng(3).random((250, 400))
    _compare_with_scipy(S)
    _compare_with_scipy(S.T.copy())


def test_row_max_certificate_on_few_integers():
    S = np.random.default_rng(0).integers(0, 11, (300, 300)).astype(float)
    assert _compare_with_scipy(S).method == "row-max"


def test_transport_on_categorical_scores():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, (300, 2)), rng.integers(0, 3, (320, 2))
    S = ((a[:, None, :] == b[None, :, :]) * np.array([0.7, 0.3])).sum(axis=2) + rng.integers(
        0, 2, (300, 1)
    ) * 0.1
    assert _compare_with_scipy(S).method == "transport"


def test_imperfect_mask_uses_blocks():
    rng = np.random.default_rng(5)
    S = rng.random((260, 240))
    allowed = rng.random(S.shape) < 0.01
    allowed[:, :20] = False  # 20 mentees nobody may take
    res = _compare_with_scipy(S, allowed)
    assert res.n_matched < 240


def test_sparse_imperfect_and_rectangular():
    rng = np.random.default_rng(2)
    for shape, density in (((200, 150), 0.02), ((150, 200), 0.02), ((200, 200), 0.01)):
        allowed = rng.random(shape) < density
        S = np.round(rng.random(shape), 2)
        rows, cols = np.nonzero(allowed)
        sparse = sp.csr_matrix((S[rows, cols], (rows, cols)), shape=shape)
        res = one_to_one(sparse)
        count, total = scipy_assignment(S, allowed)
        assert (res.n_matched, res.objective) == (count, pytest.approx(total, abs=1e-9))
        assert res.scale == 100 and res.tolerance == 0.0


def test_sparse_explicit_zero_is_a_candidate():
    sparse = sp.csr_matrix(
        (np.array([0.0, 1.0]), (np.array([0, 0]), np.array([0, 1]))), shape=(2, 2)
    )
    res = one_to_one(sparse)
    assert res.n_matched == 1 and res.objective == 1.0
    res = one_to_one(sp.coo_matrix(([0.0], ([1], [1])), shape=(2, 2)))
    assert res.rows.tolist() == [1] and res.cols.tolist() == [1]


def test_non_grid_floats_solved_exactly():
    # Issue 7 (exactness): these floats fit no integer grid within the solver's
    # range; they used to be rounded (tolerance > 0 under status "optimal"). The
    # sparse block is now solved in floating point: optimal for the scores given.
    rng = np.random.default_rng(0)
    allowed = rng.random((60, 60)) < 0.2
    S = rng.random((60, 60))
    rows, cols = np.nonzero(allowed)
    res = one_to_one(sp.csr_matrix((S[rows, cols], (rows, cols)), shape=S.shape))
    _, total = scipy_assignment(S, allowed)
    assert res.status == "optimal" and res.tolerance == 0.0 and "lsa-sparse" in res.method
    assert res.objective == pytest.approx(total, rel=1e-13)


def test_empty_inputs():
    assert one_to_one(np.zeros((0, 3))).n_matched == 0
    assert one_to_one(np.zeros((3, 0))).n_matched == 0
    assert one_to_many(np.zeros((2, 3)), 0).n_matched == 0
    res = one_to_one(np.ones((2, 2)), np.zeros((2, 2), bool))
    assert res.n_matched == 0 and res.objective == 0.0


def test_min_load_is_met_even_at_a_cost():
    S = np.array([[5.0, 5.0, 5.0], [1.0, 1.0, 1.0]])
    free = one_to_many(S, 3)
    assert free.objective == 15.0
    res = one_to_many(S, 3, min_load=[0, 1])
    assert np.bincount(res.rows, minlength=2).tolist() == [2, 1]
    assert res.objective == 11.0


def test_min_load_infeasible_names_mentors():
    S = np.ones((3, 3))
    allowed = np.array([[True, True, True], [True, False, False], [True, False, False]])
    with pytest.raises(InfeasibleError) as err:
        one_to_many(S, 2, allowed, min_load=[0, 1, 1])
    text = " ".join(err.value.reasons)
    assert "mentors 1, 2" in text and "Fix:" in text
    with pytest.raises(InfeasibleError) as err:
        one_to_many(S, 3, allowed, min_load=[0, 2, 0])
    assert "mentors 1 (min_load 2, 1 allowed)" in err.value.reasons[0]


def test_capacity_zero_mentor_takes_nobody():
    S = np.array([[9.0, 9.0], [1.0, 1.0]])
    res = one_to_many(S, [0, 2])
    assert res.rows.tolist() == [1, 1]


# --------------------------------------------------------------------------- input errors


def _raises(match, fn, *args, **kw):
    with pytest.raises(InputError, match=match) as err:
        fn(*args, **kw)
    assert "Fix:" in str(err.value)


def test_error_scores_not_2d():
    _raises(r"`scores` must be a 2-D matrix.*got shape \(3,\)", one_to_one, np.ones(3))


def test_error_scores_dtype():
    _raises(r"`scores` must hold real numbers; got dtype <U1", one_to_one, np.array([["a"]]))


def test_error_scores_nan_where_allowed():
    S = np.array([[1.0, np.nan]])
    _raises(
        r"finite wherever a pair is allowed; got 1 NaN/inf entries, first at \(0, 1\)",
        one_to_one,
        S,
    )
    assert one_to_one(S, np.array([[True, False]])).n_matched == 1


def test_error_sparse_nan():
    _raises(r"finite for every stored", one_to_one, sp.csr_matrix(np.array([[np.inf, 1.0]])))


def test_error_allowed_shape():
    _raises(
        r"`allowed` must have the same shape as `scores` \(2, 2\); got \(2, 3\)",
        one_to_one,
        np.ones((2, 2)),
        np.ones((2, 3), bool),
    )


def test_error_allowed_dtype():
    _raises(
        r"`allowed` must be a boolean mask; got dtype int64",
        one_to_one,
        np.ones((2, 2)),
        np.ones((2, 2), dtype=np.int64),
    )


def test_error_allowed_with_sparse():
    _raises(
        r"`allowed` must be None when `scores` is a sparse matrix",
        one_to_one,
        sp.csr_matrix(np.ones((2, 2))),
        np.ones((2, 2), bool),
    )


def test_error_unknown_objective_lists_valid():
    _raises(
        re.escape("`objective` must be one of 'total', 'fair'; got 'best'"),
        one_to_one,
        np.ones((2, 2)),
        objective="best",
    )
    _raises("one of 'total', 'fair'", one_to_many, np.ones((2, 2)), 1, objective="max")


def test_error_weights_length():
    _raises(
        r"`weights` must have one entry per mentee \(2\); got shape \(3,\)",
        one_to_one,
        np.ones((2, 2)),
        weights=[1, 1, 1],
    )


def test_error_weights_non_positive():
    _raises(
        r"`weights` must be positive and finite; got 0.0 for mentee 1",
        one_to_one,
        np.ones((2, 2)),
        weights=[1, 0],
    )


def test_error_time_limit():
    _raises(
        r"`time_limit` must be a positive number of seconds or None; got 0",
        one_to_one,
        np.ones((2, 2)),
        time_limit=0,
    )
    _raises(r"got -1", one_to_many, np.ones((2, 2)), 1, time_limit=-1)


def test_error_seed():
    _raises(r"`seed` must be an integer; got 1.5", one_to_one, np.ones((2, 2)), seed=1.5)


def test_error_capacity_negative():
    _raises(
        r"`capacity` must be non-negative; got -1 for mentor 1",
        one_to_many,
        np.ones((2, 2)),
        [1, -1],
    )


def test_error_capacity_length():
    _raises(
        r"`capacity` must be an integer or one integer per mentor \(2\); got shape \(3,\)",
        one_to_many,
        np.ones((2, 2)),
        [1, 1, 1],
    )


def test_error_capacity_not_whole():
    _raises(
        r"`capacity` must hold whole numbers; got 1.5 for mentor 0",
        one_to_many,
        np.ones((2, 2)),
        [1.5, 1],
    )


def test_error_capacity_dtype():
    _raises(
        r"`capacity` must be an integer or one integer per mentor; got dtype <U1",
        one_to_many,
        np.ones((2, 2)),
        "a",
    )


def test_error_min_load_above_capacity():
    _raises(
        r"`min_load` must not exceed `capacity`; got min_load 3 > capacity 2 for mentor 0",
        one_to_many,
        np.ones((2, 2)),
        2,
        min_load=[3, 0],
    )
