"""Sparse blocks of off-grid scores: OR-Tools on the rounded grid, kept when LP duals prove it.

Oracle: brute force on tiny cases and the plain floating-point path (SciPy's
sparse LAPJV) on the same arcs; the proof must reject a rounded answer that is
not optimal for the scores themselves, and the solve must then fall back.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairwise.solvers import _lsap
from pairwise.solvers._ortools import Scaling
from pairwise.solvers.assignment import one_to_one
from reference import brute_force_assignment

SOME = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def float_arcs(draw, max_n=5, max_m=5):
    """Random arcs with continuous scores (off every exact grid), any shape."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    mask = rng.random((n, m)) < draw(st.sampled_from([0.3, 0.6, 1.0]))
    scores = np.where(mask, rng.random((n, m)) * draw(st.sampled_from([1.0, 1e-6, 50.0])), 0.0)
    return sp.csr_matrix(scores), mask


def _solve(S: sp.csr_matrix, monkeypatch: pytest.MonkeyPatch, *, first: int) -> tuple:
    with monkeypatch.context() as mp:
        mp.setattr(_lsap, "_ROUNDED_FIRST_ARCS", first)
        res = one_to_one(S)
    return len(res.rows), res.objective


@SOME
@given(float_arcs())
def test_rounded_then_proved_equals_the_float_solve_and_brute_force(data) -> None:
    S, mask = data
    mp = pytest.MonkeyPatch()
    try:
        n_proved, proved = _solve(S, mp, first=0)
        n_float, plain = _solve(S, mp, first=10**12)
    finally:
        mp.undo()
    assert n_proved == n_float
    assert proved == pytest.approx(plain, rel=1e-9, abs=1e-12)
    count, total = brute_force_assignment(S.toarray(), mask)
    assert n_proved == count
    assert proved == pytest.approx(total, rel=1e-9, abs=1e-12)


def test_a_rounding_that_hides_the_optimum_is_rejected(monkeypatch) -> None:
    """Scores 1e-3 apart on a grid of step 1: the rounded optimum is a tie, the proof says no."""
    S = np.array([[1.0, 1.0005], [1.0004, 1.0]])
    calls: list[str] = []
    real_float = _lsap._sparse_float_full

    def spy(*args):
        calls.append("float")
        return real_float(*args)

    coarse = Scaling(scale=1.0, exact=False)
    monkeypatch.setattr(_lsap, "_ROUNDED_FIRST_ARCS", 0)
    monkeypatch.setattr(_lsap, "integer_scale", lambda *a, **k: coarse)
    monkeypatch.setattr(_lsap, "_sparse_float_full", spy)
    mate = _lsap._rounded_then_proved(2, 2, *np.nonzero(S), S[np.nonzero(S)], coarse)
    # the rounded problem is all ties: the solver's pick is proved only if it is the optimum
    if mate is not None:
        assert S[[0, 1], mate].sum() == pytest.approx(2.0009)
    res = one_to_one(sp.csr_matrix(S))
    assert res.objective == pytest.approx(2.0009)
    assert sorted(zip(res.rows.tolist(), res.cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    if mate is None:
        assert calls == ["float"]


def test_the_proof_rejects_a_wrong_matching(monkeypatch) -> None:
    """A solver answer that is not optimal for the float scores never comes back as proved."""
    S = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.2], [0.0, 0.6, 0.5]])
    r, c = np.nonzero(S > 0)
    monkeypatch.setattr(
        _lsap._sparse_assign, "lsa_mates", lambda n, *a: np.array([1, 0, 2], dtype=np.int64)
    )
    assert _lsap._rounded_then_proved(3, 3, r, c, S[r, c], Scaling(1e6, False)) is None
    monkeypatch.undo()
    mate = _lsap._rounded_then_proved(3, 3, r, c, S[r, c], Scaling(1e6, False))
    assert mate is not None and S[[0, 1, 2], mate].sum() == pytest.approx(2.1)
