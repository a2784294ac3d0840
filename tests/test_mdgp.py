"""Tests of the maximally diverse grouping solver (``pairwise.solvers.mdgp``)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise._benchdata import data_dir, load_mdgplib, mdgplib_exact_optima, mdgplib_path
from pairwise.errors import InputError
from pairwise.solvers import mdgp
from pairwise.solvers.mdgp import diverse_grouping

# --------------------------------------------------------------------------------------
# Oracles (independent of the solver's code)
# --------------------------------------------------------------------------------------


def brute_force_grouping(
    distance: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    fit: np.ndarray | None = None,
    forbidden: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> float:
    """Best value over every labelling: ``sum_g w_g * pairs + sum fit``; -inf if none fits."""
    n = distance.shape[0]
    k = len(lower)
    best = -np.inf
    iu, ju = np.triu_indices(n, 1)
    pair = distance[iu, ju]
    w = np.ones(k) if weight is None else np.asarray(weight, float)
    for labels in itertools.product(range(k), repeat=n):
        lab = np.array(labels)
        sizes = np.bincount(lab, minlength=k)
        if np.any(sizes < lower) or np.any(sizes > upper):
            continue
        if forbidden is not None and forbidden[lab, np.arange(n)].any():
            continue
        same = lab[iu] == lab[ju]
        value = float((pair[same] * w[lab[iu][same]]).sum())
        if fit is not None:
            value += float(fit[lab, np.arange(n)].sum())
        best = max(best, value)
    return best


def grouping_value(distance: np.ndarray, labels: np.ndarray) -> float:
    """Sum of distance over same-group pairs i < j, by plain loops."""
    n = len(labels)
    return float(
        sum(distance[i, j] for i in range(n) for j in range(i + 1, n) if labels[i] == labels[j])
    )


def random_instance(n: int, seed: int, integer: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 100, size=(n, n)).astype(float) if integer else rng.random((n, n)) * 100
    d = np.triu(d, 1)
    return d + d.T


def check_valid(res, n: int, lower, upper) -> None:
    k = len(lower)
    assert res.labels.shape == (n,)
    assert res.labels.min() >= 0 and res.labels.max() < k
    sizes = np.bincount(res.labels, minlength=k)
    assert np.all(sizes >= lower) and np.all(sizes <= upper)


# --------------------------------------------------------------------------------------
# Input validation: one test per message
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"distance": np.zeros((3, 4))}, "square"),
        ({"distance": np.array([[0.0, 1.0], [2.0, 0.0]])}, "symmetric"),
        ({"distance": np.array([[0.0, np.nan], [np.nan, 0.0]])}, "NaN"),
        ({"distance": np.array([[0.0, np.inf], [np.inf, 0.0]])}, "finite"),
        ({"n_groups": 0}, "n_groups` must be >= 1"),
        ({"n_groups": 2.5}, "positive integer"),
        ({"min_size": 3, "max_size": 2}, r"min_size=3 > max_size=2"),
        ({"min_size": 3, "max_size": 4}, r"sum\(min_size\) = 6 .* n = 4"),
        ({"min_size": 0, "max_size": 1}, r"sum\(max_size\) = 2 .* n = 4"),
        ({"max_size": [2, 2, 2]}, "one integer per group"),
        ({"min_size": -1}, "non-negative"),
        ({"min_size": 1.5}, "whole numbers"),
        ({"min_size": True}, "bool"),
        ({"time_limit": 0}, "time_limit` must be a positive number of seconds"),
        ({"time_limit": -1.0}, "time_limit` must be a positive number of seconds"),
        ({"time_limit": "fast"}, "time_limit"),
        ({"max_iterations": 0}, "max_iterations"),
    ],
)
def test_bad_input_raises(kwargs, pattern):
    args = {
        "distance": random_instance(4, 0),
        "n_groups": 2,
        "min_size": 2,
        "max_size": 2,
    }
    args.update(kwargs)
    distance = args.pop("distance")
    n_groups = args.pop("n_groups")
    with pytest.raises(InputError, match=pattern) as info:
        diverse_grouping(distance, n_groups, **args)
    assert "Fix:" in str(info.value)


def test_asymmetry_within_tolerance_is_accepted():
    d = random_instance(5, 1)
    d[0, 1] += 1e-12
    res = diverse_grouping(d, 2, min_size=2, max_size=3)
    assert res.status == "optimal"


def test_inputs_are_not_mutated():
    d = random_instance(20, 2)
    d_copy = d.copy()
    lower = np.array([5, 5, 5, 5])
    upper = np.array([5, 5, 5, 5])
    diverse_grouping(d, 4, min_size=lower, max_size=upper, max_iterations=200)
    assert np.array_equal(d, d_copy)
    assert lower.tolist() == [5] * 4 and upper.tolist() == [5] * 4


# --------------------------------------------------------------------------------------
# Exact path: brute force and the MDGPLIB optima
# --------------------------------------------------------------------------------------


@st.composite
def tiny_instances(draw):
    n = draw(st.integers(2, 8))
    k = draw(st.integers(1, 3))
    lower = np.array([draw(st.integers(0, max(0, n // k))) for _ in range(k)])
    upper = np.array([int(lower[g]) + draw(st.integers(0, n)) for g in range(k)])
    if lower.sum() > n or upper.sum() < n:
        upper = upper + n
        lower = np.minimum(lower, n // k)
    seed = draw(st.integers(0, 2**16))
    integer = draw(st.booleans())
    return random_instance(n, seed, integer), k, lower, upper


@settings(max_examples=40, deadline=None)
@given(tiny_instances())
def test_exact_matches_brute_force(instance):
    d, k, lower, upper = instance
    res = diverse_grouping(d, k, min_size=lower, max_size=upper)
    check_valid(res, d.shape[0], lower, upper)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(brute_force_grouping(d, lower, upper), abs=1e-7)
    assert res.objective == pytest.approx(grouping_value(d, res.labels), abs=1e-9)
    assert res.bound == pytest.approx(res.objective)


def test_exact_permutation_keeps_objective():
    d = random_instance(9, 3)
    perm = np.random.default_rng(0).permutation(9)
    a = diverse_grouping(d, 3, min_size=[2, 3, 2], max_size=[4, 3, 4])
    b = diverse_grouping(d[np.ix_(perm, perm)], 3, min_size=[2, 3, 2], max_size=[4, 3, 4])
    assert a.objective == pytest.approx(b.objective)


def test_relaxing_bounds_never_hurts():
    d = random_instance(10, 4)
    tight = diverse_grouping(d, 2, min_size=5, max_size=5)
    loose = diverse_grouping(d, 2, min_size=3, max_size=7)
    assert loose.objective >= tight.objective - 1e-9


def test_trivial_cases():
    d = random_instance(30, 5)
    one = diverse_grouping(d, 1, min_size=0, max_size=30)
    assert one.status == "optimal" and np.all(one.labels == 0)
    assert one.objective == pytest.approx(np.triu(d, 1).sum())
    empty = diverse_grouping(np.zeros((0, 0)), 2, min_size=0, max_size=3)
    assert empty.labels.shape == (0,) and empty.objective == 0.0


def _data_dir() -> Path | None:
    return data_dir(Path(__file__).resolve().parents[1])


def _exact_cases() -> list:
    data = _data_dir()
    if data is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="shared data absent"))]
    known = mdgplib_exact_optima(data)
    return [pytest.param(name, value, id=name) for name, value in sorted(known.items())]


@pytest.mark.parametrize(("name", "value"), _exact_cases())
def test_exact_matches_mdgplib_optima(name, value):
    data = _data_dir()
    d, m, lower, upper = load_mdgplib(mdgplib_path(data, name))
    res = diverse_grouping(d, m, min_size=lower, max_size=upper)
    check_valid(res, d.shape[0], lower, upper)
    assert res.status == "optimal"
    # The stored values are rounded to the files' three decimals.
    assert res.objective == pytest.approx(value, abs=2e-3)


# --------------------------------------------------------------------------------------
# Heuristic path
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "k", "lower", "upper"),
    [
        (24, 4, 6, 6),
        (30, 5, [4, 5, 6, 5, 4], [8, 7, 6, 8, 9]),
        (33, 3, 5, 15),
        (20, 6, 0, 20),
    ],
)
def test_heuristic_result_is_valid_and_recomputed(n, k, lower, upper):
    d = random_instance(n, n + k)
    res = diverse_grouping(d, k, min_size=lower, max_size=upper, max_iterations=400, seed=3)
    lo = np.broadcast_to(np.asarray(lower), (k,))
    up = np.broadcast_to(np.asarray(upper), (k,))
    check_valid(res, n, lo, up)
    assert res.status == "feasible"
    assert res.method == "memetic_tabu"
    assert res.objective == pytest.approx(grouping_value(d, res.labels), rel=1e-12)
    assert res.bound is not None and res.bound >= res.objective - 1e-9
    assert res.options["iterations"] <= 400


def test_same_seed_same_result():
    d = random_instance(40, 7, integer=True)
    kw = {"min_size": [6, 8, 9, 10], "max_size": [12, 11, 10, 13], "max_iterations": 600}
    a = diverse_grouping(d, 4, seed=11, **kw)
    b = diverse_grouping(d, 4, seed=11, **kw)
    assert np.array_equal(a.labels, b.labels) and a.objective == b.objective


def test_time_limit_run_is_valid():
    d = random_instance(30, 8)
    res = diverse_grouping(d, 3, min_size=10, max_size=10, time_limit=0.3)
    check_valid(res, 30, [10] * 3, [10] * 3)
    assert res.options["time_limit"] == 0.3


def test_upper_bound_is_valid_on_tiny_instances():
    for seed in range(5):
        d = random_instance(7, seed)
        lower, upper = np.array([1, 2, 2]), np.array([3, 3, 4])
        best = brute_force_grouping(d, lower, upper)
        assert mdgp._upper_bound(d, upper) >= best - 1e-9
