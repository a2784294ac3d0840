"""Regret of candidate pairs: equal to re-solving with the pair forced, dense and sparse."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise.errors import InputError
from pairwise.solvers import one_to_many
from pairwise.solvers._regret import pair_regret


@st.composite
def instances(draw: Any) -> dict[str, Any]:
    """Small mentor × mentee instances with capacities 0-2 and forbidden pairs."""
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["ties", "floats", "signed"]))
    if kind == "ties":
        scores = rng.integers(0, 4, (n, m)).astype(float)
    elif kind == "floats":
        scores = rng.random((n, m))
    else:
        scores = np.round(rng.normal(size=(n, m)), 2)
    allowed = rng.random((n, m)) < draw(st.sampled_from([0.4, 0.7, 1.0]))
    capacity = rng.integers(0, 3, n)
    return {"scores": scores, "allowed": allowed, "capacity": capacity}


def _forced(scores, allowed, capacity, i: int, j: int) -> tuple[int, float]:
    """(matched, total) of the best plan with (i, j): the solver on the reduced problem."""
    keep = np.arange(scores.shape[1]) != j
    cap = capacity.copy()
    cap[i] -= 1
    rest = one_to_many(scores[:, keep], cap, allowed[:, keep])
    return 1 + rest.n_matched, float(scores[i, j]) + rest.objective


def _brute(scores, allowed, capacity, forced=None) -> tuple[int, float]:
    """(matched, total) of the best plan by enumeration (count first, then total)."""
    n, m = scores.shape
    options = [[-1] + [i for i in range(n) if allowed[i, j]] for j in range(m)]
    best: tuple[int, float] | None = None
    for choice in itertools.product(*options):
        if forced is not None and choice[forced[1]] != forced[0]:
            continue
        if any(choice.count(i) > capacity[i] for i in range(n)):
            continue
        key = (
            sum(c >= 0 for c in choice),
            sum(scores[c, j] for j, c in enumerate(choice) if c >= 0),
        )
        if best is None or key[0] > best[0] or (key[0] == best[0] and key[1] > best[1] + 1e-12):
            best = key
    assert best is not None
    return best


def _check_against_resolve(inst: dict[str, Any], *, sparse: bool) -> None:
    scores, allowed, capacity = inst["scores"], inst["allowed"], inst["capacity"]
    plan = one_to_many(scores, capacity, allowed)
    if sparse:
        rows, cols = np.nonzero(allowed)
        matrix = sp.csr_matrix((scores[rows, cols], (rows, cols)), shape=scores.shape)
        res = pair_regret(matrix, None, capacity, plan_rows=plan.rows, plan_cols=plan.cols)
    else:
        res = pair_regret(scores, allowed, capacity, plan_rows=plan.rows, plan_cols=plan.cols)
    # every candidate of a mentor with room is listed, once
    expected = {(i, j) for i, j in zip(*np.nonzero(allowed), strict=True) if capacity[i] > 0}
    assert set(zip(res.rows.tolist(), res.cols.tolist(), strict=True)) == expected
    assert len(res) == len(expected)
    assert res.exact.all()
    for k in range(len(res)):
        i, j = int(res.rows[k]), int(res.cols[k])
        count, total = _forced(scores, allowed, capacity, i, j)
        assert res.lost[k] == (count < plan.n_matched)
        assert count >= plan.n_matched - 1
        assert res.regret[k] == pytest.approx(plan.objective - total, abs=1e-7)
        if res.in_plan[k]:
            assert res.regret[k] == 0.0
        if not res.lost[k]:
            assert res.regret[k] >= -1e-9


@settings(max_examples=80, deadline=None)
@given(instances())
def test_regret_equals_resolving_with_the_pair_forced_dense(inst: dict[str, Any]) -> None:
    _check_against_resolve(inst, sparse=False)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_regret_equals_resolving_with_the_pair_forced_sparse(inst: dict[str, Any]) -> None:
    _check_against_resolve(inst, sparse=True)


@settings(max_examples=40, deadline=None)
@given(instances())
def test_regret_equals_brute_force(inst: dict[str, Any]) -> None:
    scores, allowed, capacity = inst["scores"], inst["allowed"], inst["capacity"]
    plan = one_to_many(scores, capacity, allowed)
    res = pair_regret(scores, allowed, capacity, plan_rows=plan.rows, plan_cols=plan.cols)
    best = _brute(scores, allowed, capacity)
    assert best[0] == plan.n_matched
    for k in range(len(res)):
        count, total = _brute(scores, allowed, capacity, (int(res.rows[k]), int(res.cols[k])))
        assert res.lost[k] == (count < best[0])
        assert res.regret[k] == pytest.approx(best[1] - total, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(instances())
def test_without_budget_regret_is_the_reduced_cost_a_lower_bound(inst: dict[str, Any]) -> None:
    scores, allowed, capacity = inst["scores"], inst["allowed"], inst["capacity"]
    plan = one_to_many(scores, capacity, allowed)
    kwargs = {"plan_rows": plan.rows, "plan_cols": plan.cols}
    exact = pair_regret(scores, allowed, capacity, **kwargs)
    bound = pair_regret(scores, allowed, capacity, budget=0, **kwargs)
    np.testing.assert_array_equal(bound.lost, exact.lost)
    # pairs in the plan and pairs that lose a mentee stay exact; the others are bounds
    np.testing.assert_array_equal(bound.exact, exact.in_plan | exact.lost)
    assert np.all(bound.regret <= exact.regret + 1e-9)
    assert np.all(bound.regret[~bound.lost] >= 0)
    np.testing.assert_allclose(bound.regret[bound.exact], exact.regret[bound.exact], atol=1e-9)


def test_capacity_and_an_unmatched_mentee() -> None:
    # mentor 0 takes two, mentor 1 none; mentee 2 has no room left
    scores = np.array([[3.0, 2.0, 1.0], [5.0, 5.0, 5.0]])
    plan = one_to_many(scores, [2, 0])
    res = pair_regret(scores, None, [2, 0], plan_rows=plan.rows, plan_cols=plan.cols)
    assert res.rows.tolist() == [0, 0, 0]  # mentor 1 (capacity 0) has no candidates
    assert res.regret.tolist() == [0.0, 0.0, 1.0]
    assert not res.lost.any()


def test_forcing_a_pair_can_cost_a_matched_mentee() -> None:
    # mentee 1 can only have mentor 0: giving mentor 0 to mentee 0 leaves mentee 1 out
    scores = np.array([[9.0, 1.0], [1.0, 0.0]])
    allowed = np.array([[True, True], [False, False]])
    allowed[1, 0] = True
    plan = one_to_many(scores, 1, allowed)
    assert sorted(zip(plan.rows.tolist(), plan.cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    res = pair_regret(scores, allowed, 1, plan_rows=plan.rows, plan_cols=plan.cols)
    k = int(np.flatnonzero((res.rows == 0) & (res.cols == 0))[0])
    assert res.lost[k] and res.exact[k]
    assert res.regret[k] == pytest.approx(2.0 - 9.0)  # one pair fewer, a higher total


def test_plan_errors() -> None:
    scores = np.array([[3.0, 1.0], [2.0, 2.0]])
    with pytest.raises(InputError, match="plan must be optimal"):
        pair_regret(scores, plan_rows=[0, 1], plan_cols=[1, 0])
    with pytest.raises(InputError, match="as many mentees as possible"):
        pair_regret(scores, plan_rows=[0], plan_cols=[0])
    with pytest.raises(InputError, match="same length"):
        pair_regret(scores, plan_rows=[0, 1], plan_cols=[0])
    with pytest.raises(InputError, match="out of range"):
        pair_regret(scores, plan_rows=[0, 2], plan_cols=[0, 1])
    with pytest.raises(InputError, match="at most one mentor"):
        pair_regret(scores, plan_rows=[0, 1], plan_cols=[0, 0])
    with pytest.raises(InputError, match="respect capacity"):
        pair_regret(scores, plan_rows=[0, 0], plan_cols=[0, 1])
    with pytest.raises(InputError, match="candidate pairs only"):
        pair_regret(scores, [[True, False], [True, True]], plan_rows=[0, 1], plan_cols=[1, 0])
    with pytest.raises(InputError, match="`budget` must be a non-negative integer"):
        pair_regret(scores, plan_rows=[0, 1], plan_cols=[0, 1], budget=-1)
    with pytest.raises(InputError, match="`capacity`"):
        pair_regret(scores, capacity=[1], plan_rows=[0, 1], plan_cols=[0, 1])


def test_larger_instance_matches_forced_resolves_on_a_sample() -> None:
    rng = np.random.default_rng(7)
    scores = rng.random((15, 30))
    allowed = rng.random((15, 30)) < 0.4
    capacity = rng.integers(1, 3, 15)
    plan = one_to_many(scores, capacity, allowed)
    res = pair_regret(scores, allowed, capacity, plan_rows=plan.rows, plan_cols=plan.cols)
    for k in rng.choice(len(res), 25, replace=False):
        count, total = _forced(scores, allowed, capacity, int(res.rows[k]), int(res.cols[k]))
        assert res.lost[k] == (count < plan.n_matched)
        assert res.regret[k] == pytest.approx(plan.objective - total, abs=1e-7)
