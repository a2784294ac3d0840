"""Two-sided candidates and the top-k pass's blocks: each mentor's own best mentees are kept.

Oracles: the dense local matrices (each mentor's best allowed mentees, score
descending, then the mentee listed first; each mentee's best allowed mentors)
and a brute-force sort of every entry for the running per-mentor lists.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise import _topk
from pairwise.errors import InputError
from pairwise.roster import load_roster

HAS_DASK = importlib.util.find_spec("distributed") is not None
#: Scores are summed in single precision; blocks of other shapes may round a sum
#: one unit in the last place apart (ties at a cut may then fall either way).
ULP = 1e-6


@pytest.fixture(scope="module")
def model() -> pw.CompatibilityModel:
    return pw.load_program().model


@pytest.fixture(scope="module")
def org_rosters() -> tuple[Any, Any]:
    org = pw.datasets.make_organisation(1500, seed=11)
    mentors = load_roster(org[org["level"] >= 4].reset_index(drop=True), role="mentor")
    mentees = load_roster(org[org["level"] <= 3].reset_index(drop=True), role="mentee")
    return mentors, mentees


def _check_best(
    csr: sp.csr_matrix, scores: np.ndarray, allowed: np.ndarray, limit: np.ndarray
) -> None:
    """Each row of ``csr`` holds the ``limit[i]`` best allowed entries of its dense row."""
    for i in range(scores.shape[0]):
        kept = set(csr.indices[csr.indptr[i] : csr.indptr[i + 1]].tolist())
        ranked = np.sort(scores[i, allowed[i]])[::-1]
        want = min(int(limit[i]), len(ranked))
        if want == 0:
            continue
        cut = ranked[want - 1]
        sure = np.flatnonzero(allowed[i] & (scores[i] > cut + ULP))
        assert set(sure.tolist()) <= kept
        near = np.flatnonzero(allowed[i] & (scores[i] >= cut - ULP))
        assert len(kept & set(near.tolist())) >= want


def test_two_sided_candidates_hold_each_mentors_best_and_each_mentees_top_k(
    model, org_rosters
) -> None:
    mentors, mentees = org_rosters
    rng = np.random.default_rng(3)
    limit = rng.integers(0, 5, len(mentors))
    dense = model.score(mentors, mentees)
    scores, allowed = np.asarray(dense.scores), np.asarray(dense.allowed)
    one = model.score(mentors, mentees, top_k=3)
    both = model.score(mentors, mentees, top_k=3, row_top_k=limit)
    csr = both.scores.tocsr()
    coo = csr.tocoo()
    assert allowed[coo.row, coo.col].all()
    np.testing.assert_allclose(coo.data, scores[coo.row, coo.col], rtol=0, atol=ULP)
    _check_best(csr, scores, allowed, limit)  # each mentor's own best
    _check_best(csr.T.tocsr(), scores.T, allowed.T, np.full(len(mentees), 3))
    # the mentees' own top k is all still there, scores bit for bit
    assert (one.scores - one.scores.multiply(csr != 0)).nnz == 0
    assert abs(csr.multiply(one.scores != 0) - one.scores).max() == 0
    # without row_top_k, or with zeros, nothing is added
    zero = model.score(mentors, mentees, top_k=3, row_top_k=0)
    assert (zero.scores != one.scores).nnz == 0


def test_threads_and_blocks_do_not_change_the_two_sided_candidates(model, org_rosters) -> None:
    mentors, mentees = org_rosters
    with patch.object(_topk, "_THREADS", 1):
        a = model.score(mentors, mentees, top_k=4, row_top_k=3, block_size=9).scores
    b = model.score(mentors, mentees, top_k=4, row_top_k=3, block_size=9).scores
    assert (a != b).nnz == 0
    np.testing.assert_array_equal(a.indices, b.indices)


@settings(max_examples=40, deadline=None)
@given(
    n_rows=st.integers(1, 30),
    n_cols=st.integers(1, 12),
    levels=st.sampled_from([2, 4, 1000]),
    width=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_running_lists_equal_a_full_sort(n_rows, n_cols, levels, width, seed) -> None:
    """Blocks merged in any order give each mentor its best mentees by the total order."""
    rng = np.random.default_rng(seed)
    w = (np.round(rng.random((n_rows, n_cols)) * levels) / levels).astype(np.float32)
    w[rng.random(w.shape) < 0.2] = -2.0  # disallowed
    limit = rng.integers(0, width + 1, n_cols)
    best = _topk._RowBest(limit)
    cuts = np.sort(rng.choice(np.arange(1, n_rows), size=min(3, n_rows - 1), replace=False))
    blocks = np.split(rng.permutation(n_rows), cuts)
    for rows in blocks:
        rows = np.sort(rows)
        best.merge(best.block(w[rows], rows, np.arange(n_cols)))
    mentee, mentor, score = best.entries()
    for j in range(n_cols):
        ok = np.flatnonzero(w[:, j] >= 0)
        want = ok[np.lexsort((ok, -w[ok, j]))][: limit[j]]
        assert sorted(mentee[mentor == j].tolist()) == sorted(want.tolist())
        np.testing.assert_array_equal(np.sort(score[mentor == j]), np.sort(w[want, j]))


def test_pooled_groups_keep_the_dense_top_k(model, org_rosters) -> None:
    """Small rule groups scored against every mentor (rules as masks) keep the same top k."""
    mentors, mentees = org_rosters
    plain = model.score(mentors, mentees, top_k=6)
    with (
        patch.object(_topk, "_POOL_MIN_MENTORS", 0),
        patch.object(_topk, "_POOL_PAIRS", 1 << 40),
    ):
        pooled = model.score(mentors, mentees, top_k=6)
        both = model.score(mentors, mentees, top_k=6, row_top_k=2)
        layout = _topk.top_k_layout(pooled._context.plan.transpose(), None)[1]
    assert [row[0] for row in layout] == [_topk.POOLED]
    dense = model.score(mentors, mentees)
    scores, allowed = np.asarray(dense.scores), np.asarray(dense.allowed)
    for compat in (pooled, both):
        csr = compat.scores.tocsr()
        coo = csr.tocoo()
        assert allowed[coo.row, coo.col].all()
        _check_best(csr.T.tocsr(), scores.T, allowed.T, np.full(len(mentees), 6))
    _check_best(both.scores.tocsr(), scores, allowed, np.full(len(mentors), 2))
    a, b = pooled.scores.tocsc(), plain.scores.tocsc()
    np.testing.assert_array_equal(a.indptr, b.indptr)
    for j in range(len(mentees)):
        np.testing.assert_allclose(
            np.sort(a.data[a.indptr[j] : a.indptr[j + 1]]),
            np.sort(b.data[b.indptr[j] : b.indptr[j + 1]]),
            rtol=0,
            atol=ULP,
        )


def test_row_top_k_is_checked(model, org_rosters) -> None:
    mentors, mentees = org_rosters
    with pytest.raises(InputError, match="`row_top_k` needs `top_k`"):
        model.score(mentors, mentees, row_top_k=2)
    with pytest.raises(InputError, match="one number or one per mentor"):
        model.score(mentors, mentees, top_k=2, row_top_k=[1, 2])
    with pytest.raises(InputError, match="must be >= 0"):
        model.score(mentors, mentees, top_k=2, row_top_k=-1)
    with pytest.raises(InputError, match="whole numbers"):
        model.score(mentors, mentees, top_k=2, row_top_k=1.5)


def test_programme_adds_mentor_candidates_only_when_places_are_short(org_rosters) -> None:
    mentors, mentees = org_rosters
    program = dataclasses.replace(pw.load_program(), top_k=3)
    compat = program._score(program.model, mentors, mentees)
    places = int(program._capacity(mentors).sum())
    plain = program.model.score(mentors, mentees, top_k=3)
    if places < len(mentees):
        assert compat.scores.nnz > plain.scores.nnz
    else:
        assert compat.scores.nnz == plain.scores.nnz


@pytest.mark.parametrize(("block_size", "pool"), [(None, False), (7, False), (None, True)])
def test_dask_two_sided_equals_local(client, model, org_rosters, block_size, pool) -> None:
    mentors, mentees = org_rosters
    limit = np.arange(len(mentors)) % 4
    with (
        patch.object(_topk, "_POOL_MIN_MENTORS", 0 if pool else _topk._POOL_MIN_MENTORS),
        patch.object(_topk, "_POOL_PAIRS", 1 << 40 if pool else _topk._POOL_PAIRS),
    ):
        local = model.score(mentors, mentees, top_k=5, row_top_k=limit, block_size=block_size)
        remote = model.score(
            mentors, mentees, top_k=5, row_top_k=limit, block_size=block_size, client=client
        )
        plain = model.score(mentors, mentees, top_k=5, block_size=block_size, client=client)
        plain_local = model.score(mentors, mentees, top_k=5, block_size=block_size)
    for a, b in ((local.scores, remote.scores), (plain_local.scores, plain.scores)):
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.data, b.data)
