"""Hypothesis strategies shared by the test suite (score matrices, pools, capacities)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

# How scores are drawn: few distinct values (ties), arbitrary floats, signed.
SCORE_KINDS = ("ties", "floats", "signed", "constant")


def _scores(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    if kind == "ties":
        return rng.integers(0, 4, shape).astype(float)
    if kind == "floats":
        return rng.random(shape)
    if kind == "signed":
        return np.round(rng.normal(size=shape), 3)
    return np.full(shape, 0.5)


@st.composite
def score_matrices(
    draw: Any,
    *,
    max_rows: int = 6,
    max_cols: int = 6,
    min_rows: int = 1,
    min_cols: int = 1,
    square: bool = False,
    forbidden: bool = True,
) -> dict[str, Any]:
    """A mentors × mentees instance: ``{"scores", "allowed", "weights"}``.

    Shapes may be rectangular either way; ``allowed`` is None or a mask with a
    drawn density (possibly leaving some mentees with no allowed mentor);
    forbidden cells sometimes hold NaN to check they are ignored.
    """
    n = draw(st.integers(min_rows, max_rows))
    m = n if square else draw(st.integers(min_cols, max_cols))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(SCORE_KINDS))
    rng = np.random.default_rng(seed)
    scores = _scores(rng, (n, m), kind)
    allowed = None
    if forbidden and draw(st.booleans()):
        density = draw(st.sampled_from([0.2, 0.5, 0.8]))
        allowed = rng.random((n, m)) < density
        if draw(st.booleans()):
            scores = np.where(allowed, scores, np.nan)
    weights = None
    if draw(st.booleans()):
        weights = rng.choice([1.0, 2.0], size=m)
    return {"scores": scores, "allowed": allowed, "weights": weights, "kind": kind}


@st.composite
def capacities(draw: Any, n_rows: int, *, max_capacity: int = 3) -> np.ndarray | int:
    """An int or an int array of capacities (0 allowed: a mentor who takes nobody)."""
    if draw(st.booleans()):
        return draw(st.integers(1, max_capacity))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).integers(0, max_capacity + 1, n_rows)


@st.composite
def symmetric_pools(
    draw: Any, *, max_people: int = 8, min_people: int = 1, forbidden: bool = True
) -> dict[str, Any]:
    """One pool: symmetric ``scores`` (diagonal arbitrary) and symmetric ``allowed``."""
    n = draw(st.integers(min_people, max_people))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(SCORE_KINDS))
    rng = np.random.default_rng(seed)
    half = np.triu(_scores(rng, (n, n), kind), 1)
    scores = half + half.T
    np.fill_diagonal(scores, rng.random(n) * 100)  # must never matter
    allowed = None
    if forbidden and draw(st.booleans()):
        density = draw(st.sampled_from([0.3, 0.6, 0.9]))
        upper = np.triu(rng.random((n, n)) < density, 1)
        allowed = upper | upper.T
    return {"scores": scores, "allowed": allowed, "kind": kind}
