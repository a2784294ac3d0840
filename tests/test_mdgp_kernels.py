"""Tests of the MDGP search kernels: tabu search (numpy and loops), crossover, the memetic driver.

Moved from ``test_mdgp.py`` when the kernels moved into ``pairwise.solvers._mdgp_*``;
the assertions are unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from pairwise.solvers._mdgp_memetic import _crossover, _improve, _labels_of_sizes, _random_labels
from pairwise.solvers._mdgp_tabu import _group_sums, _LoopTabu, _NumpyTabu, _Problem, _tabu_steps
from pairwise.solvers.mdgp import diverse_grouping
from test_mdgp import brute_force_grouping, grouping_value, random_instance


@pytest.mark.parametrize("accelerate", [False, None])
def test_heuristic_reaches_small_optimum(accelerate):
    # Optimum by the exact path; the search, started anywhere, should find it.
    d = random_instance(12, 9)
    lower, upper = np.array([2, 3, 3, 2]), np.array([4, 3, 5, 4])
    exact = diverse_grouping(d, 4, min_size=lower, max_size=upper)
    problem = _Problem(d.copy(), lower, upper)
    rng = np.random.default_rng(0)
    start = _random_labels(12, lower, upper, rng)
    labels, value, _ = _improve(
        problem, start, time_limit=None, max_iterations=3000, seed=0, accelerate=accelerate
    )
    assert value == pytest.approx(exact.objective)
    assert grouping_value(d, labels) == pytest.approx(value)


# --------------------------------------------------------------------------------------
# The general kernel (fit, forbidden, weights) and its two tabu backends
# --------------------------------------------------------------------------------------


def test_group_sums_matches_loops():
    d = random_instance(9, 10)
    labels = np.array([0, 1, 2, -1, 0, 1, 1, 2, -1])
    sums = _group_sums(d, labels, 3)
    for i in range(9):
        for g in range(3):
            expect = sum(d[i, j] for j in range(9) if labels[j] == g and j != i)
            assert sums[i, g] == pytest.approx(expect)


def test_zero_fit_reproduces_plain_grouping():
    d = random_instance(30, 11)
    lower, upper = np.array([8, 10, 9]), np.array([12, 10, 11])
    start = _random_labels(30, lower, upper, np.random.default_rng(1))
    plain = _Problem(d, lower, upper)
    zero = _Problem(d, lower, upper, fit=np.zeros((3, 30)), weight=np.ones(3))
    a = _improve(plain, start, time_limit=None, max_iterations=500, seed=2)
    b = _improve(zero, start, time_limit=None, max_iterations=500, seed=2)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def _general_case(seed: int):
    rng = np.random.default_rng(seed)
    n, k = 8, 3
    d = random_instance(n, seed)
    fit = rng.random((k, n)) * 60
    forbidden = rng.random((k, n)) < 0.2
    forbidden[:, 0] = [False, True, True]  # element 0 may only join group 0
    weight = np.array([1.0, 0.5, 0.0])  # group 2 acts as an unweighted pool
    lower, upper = np.array([2, 2, 0]), np.array([4, 4, 8])
    return d, fit, forbidden, weight, lower, upper


def _feasible_start(forbidden, lower, upper, rng):
    n = forbidden.shape[1]
    for _ in range(10_000):
        labels = _random_labels(n, lower, upper, rng)
        if not forbidden[labels, np.arange(n)].any():
            return labels
    raise AssertionError("no feasible start found")


@pytest.mark.parametrize("loops", [False, True])
def test_general_kernel_matches_brute_force(seed, loops):
    d, fit, forbidden, weight, lower, upper = _general_case(seed)
    best = brute_force_grouping(d, lower, upper, fit, forbidden, weight)
    problem = _Problem(d, lower, upper, fit=fit, forbidden=forbidden, weight=weight)
    start = _feasible_start(forbidden, lower, upper, np.random.default_rng(seed))
    if loops:
        # The scalar kernel run as plain Python: the code numba compiles.
        tabu = _LoopTabu(problem, _tabu_steps)
        labels, value, _ = tabu.run(
            start, depth=200, max_steps=400, tenure=(1, 3),
            rng=np.random.default_rng(seed), deadline=None,
        )  # fmt: skip
    else:
        labels, value, _ = _improve(
            problem, start, time_limit=None, max_iterations=2000, seed=seed, accelerate=False
        )
    assert not forbidden[labels, np.arange(8)].any()
    sizes = np.bincount(labels, minlength=3)
    assert np.all(sizes >= lower) and np.all(sizes <= upper)
    assert value == pytest.approx(problem.value(labels))
    assert value <= best + 1e-9
    if not loops:
        assert value == pytest.approx(best)


def test_numpy_and_loop_kernels_take_the_same_first_step():
    for seed in range(4):
        d = random_instance(15, 20 + seed)
        lower, upper = np.array([3, 4, 5]), np.array([6, 5, 7])
        problem = _Problem(d, lower, upper)
        start = _random_labels(15, lower, upper, np.random.default_rng(seed))
        kw = {"depth": 10, "max_steps": 1, "tenure": (2, 4), "deadline": None}
        _, v1, _ = _NumpyTabu(problem).run(start, rng=np.random.default_rng(0), **kw)
        _, v2, _ = _LoopTabu(problem, _tabu_steps).run(start, rng=np.random.default_rng(0), **kw)
        assert v1 == pytest.approx(v2)


def test_crossover_child_is_feasible():
    d = random_instance(40, 30)
    lower, upper = np.array([5, 8, 9, 6]), np.array([12, 9, 14, 8])
    problem = _Problem(d, lower, upper)
    rng = np.random.default_rng(5)
    for _ in range(20):
        a = _random_labels(40, lower, upper, rng)
        b = _random_labels(40, lower, upper, rng)
        child = _crossover(a, b, problem, rng)
        sizes = np.bincount(child, minlength=4)
        assert np.all(sizes >= lower) and np.all(sizes <= upper)


def test_numba_backend_when_installed():
    try:
        import numba  # noqa: F401
    except ImportError:
        pytest.skip("numba not installed")
    d = random_instance(40, 31)
    problem = _Problem(d, np.array([10] * 4), np.array([10] * 4))
    start = _random_labels(40, problem.lower, problem.upper, np.random.default_rng(0))
    labels, value, stats = _improve(
        problem, start, time_limit=None, max_iterations=500, seed=0, accelerate=True
    )
    assert stats["backend"] == "numba"
    assert value == pytest.approx(grouping_value(d, labels))
    again = _improve(problem, start, time_limit=None, max_iterations=500, seed=0, accelerate=True)
    assert np.array_equal(labels, again[0])


def _feasible_sizes(
    n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    sizes = lower.copy()
    for _ in range(n - int(lower.sum())):
        sizes[rng.choice(np.flatnonzero(sizes < upper))] += 1
    return sizes


def test_crossover_children_respect_different_size_bounds() -> None:
    # regression: a child that inherited every element could leave a group below
    # its lower bound (seen on an MDGPLIB ``ds`` instance under a short time limit)
    rng = np.random.default_rng(3)
    for trial in range(200):
        k = int(rng.integers(2, 6))
        lower = rng.integers(1, 5, size=k)
        upper = lower + rng.integers(0, 5, size=k)
        n = int(rng.integers(lower.sum(), upper.sum() + 1))
        d = rng.random((n, n))
        d = (d + d.T) / 2
        np.fill_diagonal(d, 0.0)
        problem = _Problem(d, lower, upper)

        a = _labels_of_sizes(_feasible_sizes(n, lower, upper, rng), rng)
        b = _labels_of_sizes(_feasible_sizes(n, lower, upper, rng), rng)
        child = _crossover(a, b, problem, rng)
        sizes = np.bincount(child, minlength=k)
        assert np.all(sizes >= lower) and np.all(sizes <= upper), (trial, sizes, lower, upper)
