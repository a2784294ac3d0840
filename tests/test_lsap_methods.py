"""The dense one-to-one method portfolio: lattice scores, sparse masks, the row-maximum check.

Oracles: SciPy's dense ``linear_sum_assignment`` with a cardinality bonus
(``reference.scipy_assignment``) and networkx's maximum-weight matching.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairwise.solvers import _lsap
from pairwise.solvers.assignment import one_to_one
from reference import check_one_to_one_against_scipy, hr_like_scores

SOME = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SOME
@given(seed=st.integers(0, 2**16), shape=st.sampled_from([(260, 260), (230, 300), (300, 240)]))
def test_lattice_scores_match_scipy(seed: int, shape: tuple[int, int]) -> None:
    check_one_to_one_against_scipy(hr_like_scores(*shape, seed, skills=12, functions=6, zones=8))


def test_lattice_scores_use_the_dense_solver() -> None:
    res = check_one_to_one_against_scipy(
        hr_like_scores(400, 400, 1, skills=12, functions=6, zones=8)
    )
    assert res.method in {"lsa-lattice", "row-max"}
    assert _lsap._few_levels(hr_like_scores(300, 300, 2, skills=12, functions=6, zones=8))
    assert not _lsap._few_levels(np.random.default_rng(0).random((300, 300)))


def test_lattice_recogniser_ignores_forbidden_cells() -> None:
    S = hr_like_scores(300, 300, 3, skills=12, functions=6, zones=8)
    S[::2] = -np.inf
    assert _lsap._few_levels(S)
    assert not _lsap._few_levels(np.full((300, 300), -np.inf))


@SOME
@given(
    seed=st.integers(0, 2**16),
    share=st.sampled_from([0.02, 0.1, 0.25]),
    shape=st.sampled_from([(250, 250), (220, 300), (300, 220)]),
)
def test_sparse_masks_match_scipy(seed: int, share: float, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    S = rng.random(shape)
    allowed = rng.random(shape) < share
    res = check_one_to_one_against_scipy(S, allowed)
    assert res.method.endswith("lsa-sparse") or res.method.endswith("lsa-ortools")


def test_sparse_mask_with_unmatchable_people() -> None:
    rng = np.random.default_rng(11)
    S = rng.random((260, 300))
    allowed = rng.random(S.shape) < 0.05
    allowed[:, :30] = False  # 30 mentees nobody may take
    allowed[:10] = False  # 10 mentors who may take nobody
    res = check_one_to_one_against_scipy(S, allowed)
    assert "lsa-sparse" in res.method
    assert np.all(allowed[res.rows, res.cols]) and not np.isin(np.arange(10), res.rows).any()


def test_dense_mask_on_a_lattice_stays_dense() -> None:
    rng = np.random.default_rng(5)
    S = rng.integers(0, 9, (300, 300)) / 4.0
    allowed = rng.random(S.shape) < 0.25
    res = check_one_to_one_against_scipy(S, allowed)
    assert "lsa-sparse" not in res.method


def test_sparse_mask_against_networkx() -> None:
    rng = np.random.default_rng(2)
    n, m = 220, 240
    S = rng.random((n, m))
    allowed = rng.random((n, m)) < 0.03
    res = one_to_one(S, allowed)
    g = nx.Graph()
    r, c = np.nonzero(allowed)
    big = 1.0 + S.max() * min(n, m)  # one more pair outweighs any total
    g.add_weighted_edges_from(
        (("r", i), ("c", j), big + S[i, j]) for i, j in zip(r, c, strict=True)
    )
    mate = nx.max_weight_matching(g, maxcardinality=True)
    pairs = [(a[1], b[1]) if a[0] == "r" else (b[1], a[1]) for a, b in mate]
    assert res.n_matched == len(pairs)
    assert res.objective == pytest.approx(sum(S[i, j] for i, j in pairs), rel=1e-12)


def test_row_max_precheck_rejects_popular_columns() -> None:
    """Every row's maximum sits in the same 5 columns: no certificate, still optimal."""
    rng = np.random.default_rng(4)
    S = rng.integers(0, 5, (300, 300)).astype(float)
    S[:, :5] = 10.0
    assert _lsap._row_max_certificate(S) is None
    res = check_one_to_one_against_scipy(S)
    assert res.method != "row-max"


def test_row_max_certificate_still_found_on_ties() -> None:
    S = np.random.default_rng(6).integers(0, 3, (300, 300)).astype(float)
    mate = _lsap._row_max_certificate(S)
    assert mate is not None
    assert np.array_equal(np.sort(mate), np.arange(300))
    assert np.all(S[np.arange(300), mate] == S.max(axis=1))
