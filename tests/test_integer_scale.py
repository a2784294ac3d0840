"""The integer-scaling policy: the smallest exact grid, found in linear time.

Oracle: the brute-force scan of every whole grid 1..1024 over every value.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise.solvers._ortools import Scaling, integer_scale

LIMIT = 2.0**52


def smallest_grid(values: np.ndarray) -> int | None:
    """Brute force: the first whole q <= 1024 with every value * q within 4 ulps of a whole."""
    for q in range(1, 1025):
        y = values * q
        if np.all(np.abs(y - np.rint(y)) <= 2.0**-50 * np.abs(y)):
            return q
    return None


def test_integer_grids_are_scale_one() -> None:
    values = np.arange(-5, 40, dtype=float)
    assert integer_scale(values, limit=LIMIT) == Scaling(1.0, True)


@settings(max_examples=60, deadline=None)
@given(
    dens=st.lists(st.integers(1, 12), min_size=1, max_size=4),
    size=st.integers(1, 3000),
    seed=st.integers(0, 2**16),
)
def test_weighted_lattice_matches_brute_force(dens: list[int], size: int, seed: int) -> None:
    """Scores built from a few weighted criteria: the lcm of their denominators."""
    rng = np.random.default_rng(seed)
    parts = [rng.integers(0, d + 1, size) / d for d in dens]
    values = np.sum(parts, axis=0)
    got = integer_scale(values, limit=LIMIT)
    assert got.exact
    assert got.scale == smallest_grid(values)
    ints = got.integers(values)
    assert np.array_equal(ints / got.scale, np.rint(values * got.scale) / got.scale)


def test_rare_value_outside_the_sample_is_found() -> None:
    """The sample sees halves only; one third far from it forces the grid 6."""
    values = np.full(200_000, 0.5)
    values[::2] = 1.0
    values[123_457] = 1.0 / 3.0
    got = integer_scale(values, limit=LIMIT)
    assert got == Scaling(6.0, True)


def test_many_rare_values_outside_the_sample() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 5, 300_000) / 4.0
    spots = rng.choice(values.size, 200, replace=False)
    values[spots] = rng.integers(0, 7, spots.size) / 7.0
    got = integer_scale(values, limit=LIMIT)
    assert got == Scaling(28.0, True)
    assert smallest_grid(values) == 28


def test_decimal_grid_when_no_small_grid() -> None:
    values = np.array([0.0001, 0.2503, 1.0, 0.7777])
    assert integer_scale(values, limit=LIMIT) == Scaling(1e4, True)


def test_no_grid_falls_back_to_powers_of_two() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(5000)
    exact = integer_scale(values, limit=2.0**62)
    assert exact.exact and np.log2(exact.scale).is_integer()
    assert np.array_equal(exact.integers(values) / exact.scale, values)
    rough = integer_scale(values, limit=2.0**30)
    assert not rough.exact and rough.tolerance(10) > 0


def test_grid_too_fine_for_the_limit_is_not_claimed_exact() -> None:
    values = np.array([0.0, 1.0 / 7.0, 1000.0])
    got = integer_scale(values, limit=1000, terms=1)
    assert not got.exact
    assert integer_scale(values, limit=LIMIT) == Scaling(7.0, True)


def test_non_finite_values_are_ignored() -> None:
    values = np.array([-np.inf, 0.25, np.nan, 0.75, np.inf])
    assert integer_scale(values, limit=LIMIT) == Scaling(4.0, True)
    assert integer_scale(np.array([np.nan]), limit=LIMIT) == Scaling(1.0, True)


def test_sample_of_zeros_still_checks_every_value() -> None:
    """The dyadic shortcut looks at the sample first: a zero sample must not end the search."""
    values = np.zeros(100_000)
    values[77_777] = np.pi
    got = integer_scale(values, limit=2.0**62)
    assert got.exact
    assert np.array_equal(got.integers(values) / got.scale, values)
