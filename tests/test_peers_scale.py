"""Peers on sparse (top-k) candidates: the same answers as the dense form, never n x n."""

from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise import _peer_candidates as pc
from pairwise.checks import matching_violations
from pairwise.datasets import make_organisation
from pairwise.roster import load_roster
from pairwise.solvers import peer_pairs


def _pool(n: int, seed: int = 0) -> pw.Roster:
    return load_roster(make_organisation(n, seed=seed), role="person")


def _program() -> pw.Program:
    return dataclasses.replace(pw.load_program(), time_limit=None)


@pytest.fixture
def force_sparse(monkeypatch: pytest.MonkeyPatch):
    """Score every pool in the top-k form, with ``k`` set by the test."""
    monkeypatch.setattr(pc, "PEERS_DENSE_PAIRS", 0)

    def keep(k: int) -> None:
        monkeypatch.setattr(pc, "PEER_TOP_K", k)

    return keep


def _dense_oracle(people: pw.Roster) -> tuple[np.ndarray, np.ndarray]:
    compat = pw.load_program().peer_model.score(people, people)
    return compat.symmetric()


def test_peer_top_k_switches_above_the_budget() -> None:
    side = int(np.sqrt(pc.PEERS_DENSE_PAIRS))
    assert pc.peer_top_k(side) is None
    assert pc.peer_top_k(side + 1) == pc.PEER_TOP_K


def test_every_pair_kept_gives_the_dense_matrices() -> None:
    people = _pool(150, seed=1)
    S, A = _dense_oracle(people)
    model = pw.load_program().peer_model
    scores, allowed = pc.peer_matrices(model.score(people, people, top_k=len(people)))
    assert sp.issparse(scores) and sp.issparse(allowed)
    np.testing.assert_array_equal(allowed.toarray(), A)
    got = scores.toarray()
    np.testing.assert_allclose(got[A], S[A], atol=1e-6)
    assert (scores != scores.T).nnz == 0  # exactly symmetric


@settings(max_examples=15, deadline=None)
@given(k=st.integers(1, 12), seed=st.integers(0, 3))
def test_top_k_candidates_are_allowed_both_ways_and_cover_every_kept_pair(
    k: int, seed: int
) -> None:
    people = _pool(90, seed=seed)
    S, A = _dense_oracle(people)
    compat = pw.load_program().peer_model.score(people, people, top_k=k)
    scores, allowed = pc.peer_matrices(compat)
    cand = allowed.toarray()
    assert not cand.diagonal().any()
    assert not (cand & ~A).any()  # every candidate is allowed both ways
    kept = compat.scores.toarray() != 0
    kept |= sp.csr_array(compat.scores).astype(bool).toarray()  # explicit zeros too
    np.fill_diagonal(kept, False)
    # a pair either side kept is a candidate when the rules allow it both ways
    assert not ((kept | kept.T) & A & ~cand).any()
    np.testing.assert_allclose(scores.toarray()[cand], S[cand], atol=1e-6)


def test_pair_values_match_the_dense_matrices() -> None:
    people = _pool(120, seed=2)
    compat = pw.load_program().peer_model.score(people, people)
    rng = np.random.default_rng(0)
    r = rng.integers(0, 120, 3000)
    c = rng.integers(0, 120, 3000)
    scores, allowed = pc.pair_values(compat._ctx().plan, r, c)
    np.testing.assert_array_equal(allowed, compat.allowed[r, c])
    np.testing.assert_allclose(scores, compat.scores[r, c], atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_path_with_every_pair_equals_the_dense_answer(force_sparse, seed: int) -> None:
    frame = make_organisation(80, seed=seed)
    dense = _program().peers(frame)
    force_sparse(80)
    sparse = _program().peers(frame)
    assert dense.method == sparse.method == "blossom"
    assert len(sparse.pairs) == len(dense.pairs)
    assert sparse.objective == pytest.approx(dense.objective, abs=1e-6 * len(dense.pairs))


@pytest.mark.parametrize("k", [3, 8])
def test_sparse_path_meets_every_rule_and_its_bound(
    force_sparse, monkeypatch: pytest.MonkeyPatch, k: int
) -> None:
    from pairwise.solvers import peers

    frame = make_organisation(200, seed=3)
    people = load_roster(frame, role="person")
    S, A = _dense_oracle(people)
    force_sparse(k)
    res = _program().peers(frame)
    pos = {str(v): i for i, v in enumerate(people.ids.tolist())}
    a = np.array([pos[x] for x in res.pairs["person_a"]])
    b = np.array([pos[x] for x in res.pairs["person_b"]])
    rows, cols = np.minimum(a, b), np.maximum(a, b)
    assert matching_violations(rows, cols, shape=A.shape, allowed=A, peers=True) == []
    np.testing.assert_allclose(res.pairs["score"], S[a, b], atol=1e-6)
    # scores are summed in single precision (about 1e-7 each, blocks of any shape)
    tol = 1e-6 * max(1, len(a))
    assert res.objective == pytest.approx(float(S[a, b].sum()), abs=tol)
    assert res.bound is None or res.bound >= res.objective - 1e-9
    # an exact solve (blossom) on every allowed pair is no worse on count, then total
    monkeypatch.setattr(peers, "EXACT_WORK", 10**12)
    full = peer_pairs(S, A, time_limit=None)
    assert full.method == "blossom"
    assert len(res.pairs) <= full.n_matched
    if len(res.pairs) == full.n_matched:
        assert res.objective <= full.objective + tol
    # everyone without a partner has a reason
    assert len(res.unmatched) == len(people) - 2 * len(res.pairs)
    assert res.unmatched["reason"].str.len().gt(0).all()


def test_sparse_solve_never_allocates_n_by_n(force_sparse) -> None:
    """Peak traced memory below ``4 n**2`` bytes: no float32 (or wider) n x n array.

    (Fixed costs such as the integer-grid scan, about 30 MB, rule out a tighter
    bound at a pool size a test can afford.)
    """
    n = 4000
    frame = make_organisation(n, seed=4)
    people = load_roster(frame, role="person")
    force_sparse(10)
    program = dataclasses.replace(pw.load_program(), time_limit=60.0)
    tracemalloc.start()
    try:
        res = program.peers(people)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(res.pairs) > 0
    assert peak < 4 * n * n


def test_previous_pairs_are_kept_in_the_sparse_form(force_sparse) -> None:
    frame = make_organisation(120, seed=5)
    force_sparse(4)
    first = _program().peers(frame)
    previous = first.pairs[["person_a", "person_b"]]
    again = _program().peers(frame, previous=previous)
    changes = again.changes
    assert (changes["change"] == "kept").sum() == len(previous)
    assert len(again.pairs) >= len(first.pairs)


def test_validate_uses_the_sparse_form(force_sparse) -> None:
    frame = make_organisation(100, seed=6)
    force_sparse(5)
    report = _program().validate(people=frame)
    assert report.ok


def test_keep_bonus_matches_the_dense_bonus() -> None:
    from pairwise._lifecycle import keep_bonus_scores

    rng = np.random.default_rng(1)
    S = np.triu(rng.random((8, 8)), 1)
    S = S + S.T
    A = ~np.eye(8, dtype=bool)
    rows, cols = np.array([0, 2]), np.array([5, 3])
    dense, bonus = keep_bonus_scores(S, A, rows, cols)
    got, got_bonus = pc.keep_bonus(sp.csr_array(S), sp.csr_array(A), rows, cols)
    assert got_bonus == pytest.approx(bonus)
    np.testing.assert_allclose(got.toarray(), np.where(A, dense, 0.0))


def test_peer_matrices_refuse_a_hand_made_top_k_form() -> None:
    compat = pw.Compatibility(
        scores=sp.csr_matrix(np.ones((3, 3))),
        allowed=None,
        row_ids=np.array(["a", "b", "c"]),
        col_ids=np.array(["a", "b", "c"]),
        criteria=(),
        weights=(),
        rules=(),
        top_k=2,
    )
    with pytest.raises(pw.InputError, match=r"CompatibilityModel\.score"):
        pc.peer_matrices(compat)
