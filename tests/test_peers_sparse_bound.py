"""Sparse peers when the cover solve does not fit: maximum flow, pair swaps, the dual bound."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import maximum_bipartite_matching

import pairwise as pw
from pairwise import _peer_candidates as pc
from pairwise.checks import matching_violations
from pairwise.datasets import make_organisation
from pairwise.roster import load_roster
from pairwise.solvers import _peers_sparse as sps
from pairwise.solvers import peer_pairs
from pairwise.solvers import peers as peers_mod


def _graph(n: int, density: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random candidate pairs ``u < v`` (row-major) with scores on a quarter grid."""
    rng = np.random.default_rng(seed)
    u, v = np.nonzero(np.triu(rng.random((n, n)) < density, 1))
    s = rng.integers(0, 9, u.size) / 4.0
    return u.astype(np.int64), v.astype(np.int64), s


def _networkx(n: int, u: np.ndarray, v: np.ndarray, s: np.ndarray, maxcard: bool) -> float:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(zip(u.tolist(), v.tolist(), s.tolist(), strict=True))
    pairs = nx.max_weight_matching(g, maxcardinality=maxcard)
    return float(sum(g[a][b]["weight"] for a, b in pairs))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), density=st.floats(0.02, 0.5), seed=st.integers(0, 10**6))
def test_cover_mate_is_a_maximum_matching_of_the_double_cover(
    n: int, density: float, seed: int
) -> None:
    u, v, _ = _graph(n, density, seed)
    mate = sps.cover_mate(n, u, v, None)
    cover = pc._symmetric_csr(n, u, v, np.ones(u.size))
    scipy_mate = maximum_bipartite_matching(cover, perm_type="column")
    assert int((mate >= 0).sum()) == int((scipy_mate >= 0).sum())
    rows = np.flatnonzero(mate >= 0)
    assert np.unique(mate[rows]).size == rows.size  # each column used once
    assert cover.toarray()[rows, mate[rows]].all()  # along candidate arcs only


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 30), density=st.floats(0.05, 0.6), seed=st.integers(0, 10**6))
def test_dual_bound_is_above_networkx_exact_optimum(n: int, density: float, seed: int) -> None:
    u, v, s = _graph(n, density, seed)
    s = s - 0.5  # some negative scores: the bound covers matchings of any size
    bound = sps.dual_bound(n, u, v, s, None)
    pos = s > 0
    best_any = _networkx(n, u[pos], v[pos], s[pos], maxcard=False)
    assert bound >= best_any - 1e-9
    assert bound >= _networkx(n, u, v, s, maxcard=True) - 1e-9
    # never looser than half of everyone's best score (its starting point)
    start = np.zeros(n)
    np.maximum.at(start, np.r_[u, v], np.maximum(np.r_[s, s], 0.0))
    assert bound <= start.sum() / 2 + 1e-9


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 40), density=st.floats(0.05, 0.6), seed=st.integers(0, 10**6))
def test_swap_improve_keeps_a_matching_and_never_loses(n: int, density: float, seed: int) -> None:
    u, v, s = _graph(n, density, seed)
    cand = peers_mod._Candidates(n, u, v, s)
    mate = np.full(n, -1, dtype=np.int64)
    peers_mod._greedy(mate, cand)
    key = u * n + v

    def total(m: np.ndarray) -> tuple[int, float]:
        a = np.flatnonzero((m >= 0) & (np.arange(n) < m))
        w, found = sps.pair_weights(n, key, s, a, m[a])
        assert found.all()  # every pair is a candidate
        return a.size, float(w.sum())

    before = total(mate)
    sps.swap_improve(mate, u, v, s, None)
    after = total(mate)
    matched = np.flatnonzero(mate >= 0)
    np.testing.assert_array_equal(mate[mate[matched]], matched)  # symmetric, no one twice
    assert after[0] == before[0]
    assert after[1] >= before[1] - 1e-9
    assert after[1] <= _networkx(n, u, v, s, maxcard=False) + 1e-9


def _skip_cover(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the sparse cover solve could never fit: the heuristic and its dual bound run."""
    monkeypatch.setattr(peers_mod, "_exact_affordable", lambda *args: False)
    monkeypatch.setattr(peers_mod, "_COVER_SECONDS_PER_ARC", 1e6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_heuristic_bound_holds_and_the_objective_is_within_its_gap(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    n = 60
    u, v, s = _graph(n, 0.15, seed)
    S = pc._symmetric_csr(n, u, v, s)
    exact = _networkx(n, u, v, s, maxcard=True)
    _skip_cover(monkeypatch)
    res = peer_pairs(S, time_limit=60.0, seed=0)
    assert res.status == "feasible" and res.options["bound_method"] == "dual"
    assert res.bound is not None and res.bound >= exact - 1e-9
    assert res.objective <= exact + 1e-9
    assert res.gap is not None and (exact - res.objective) <= res.gap * abs(res.bound) + 1e-9
    A = np.zeros((n, n), dtype=bool)
    A[u, v] = A[v, u] = True  # the candidates, zero scores included
    assert matching_violations(res.rows, res.cols, shape=(n, n), allowed=A, peers=True) == []


def _program(time_limit: float | None) -> pw.Program:
    return dataclasses.replace(pw.load_program(), time_limit=time_limit)


@pytest.mark.parametrize("seed", [3, 4])
def test_forced_sparse_programme_vs_the_dense_answer(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Every pair a candidate, the cover skipped: the dense optimum lies under the bound."""
    n = 120
    frame = make_organisation(n, seed=seed)
    people = load_roster(frame, role="person")
    S, A = pw.load_program().peer_model.score(people, people).symmetric()
    u, v = np.nonzero(np.triu(A, 1))
    exact = _networkx(n, u, v, S[u, v], maxcard=True)
    dense = _program(None).peers(frame)
    assert dense.status == "optimal" and dense.objective == pytest.approx(exact, abs=1e-6)
    monkeypatch.setattr(pc, "PEERS_DENSE_PAIRS", 0)
    monkeypatch.setattr(pc, "PEER_TOP_K", n)
    _skip_cover(monkeypatch)
    sparse = _program(60.0).peers(frame)
    assert sparse.optimal_over == "k best candidates per person"
    assert "best candidates per person" in sparse.summary()
    assert sparse.to_dict()["optimal_over"] == sparse.optimal_over
    assert sparse.bound is not None and sparse.bound >= exact - 1e-6
    assert sparse.gap is not None
    assert exact - sparse.objective <= sparse.gap * abs(sparse.bound) + 1e-6
    assert len(sparse.pairs) <= len(dense.pairs)
    pos = {str(x): i for i, x in enumerate(people.ids.tolist())}
    a = np.array([pos[x] for x in sparse.pairs["person_a"]])
    b = np.array([pos[x] for x in sparse.pairs["person_b"]])
    rows, cols = np.minimum(a, b), np.maximum(a, b)
    assert matching_violations(rows, cols, shape=A.shape, allowed=A, peers=True) == []


def test_a_tiny_time_limit_still_returns_rule_abiding_pairs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 300
    frame = make_organisation(n, seed=7)
    people = load_roster(frame, role="person")
    _, A = pw.load_program().peer_model.score(people, people).symmetric()
    monkeypatch.setattr(pc, "PEERS_DENSE_PAIRS", 0)
    monkeypatch.setattr(pc, "PEER_TOP_K", 10)
    res = _program(1e-3).peers(frame)
    assert res.status in ("feasible", "optimal")
    assert res.optimal_over == "k best candidates per person"
    assert res.stopped_by_time_limit or res.status == "optimal"
    pos = {str(x): i for i, x in enumerate(people.ids.tolist())}
    a = np.array([pos[x] for x in res.pairs["person_a"]], dtype=np.int64)
    b = np.array([pos[x] for x in res.pairs["person_b"]], dtype=np.int64)
    rows, cols = np.minimum(a, b), np.maximum(a, b)
    assert matching_violations(rows, cols, shape=A.shape, allowed=A, peers=True) == []
    assert len(res.unmatched) == n - 2 * len(res.pairs)
    assert res.unmatched["reason"].str.len().gt(0).all()
    # the programme gives sparse runs a bound even when the clock left the solver none
    assert res.bound is not None and res.bound >= res.objective - 1e-9
    assert res.gap is not None
    S, _ = pw.load_program().peer_model.score(people, people).symmetric()
    u, v = np.nonzero(np.triu(A, 1))
    top = np.zeros(n)
    np.maximum.at(top, np.r_[u, v], np.r_[S[u, v], S[u, v]])
    assert res.objective <= top.sum() / 2 + 1e-6  # the bound's own premise, checked densely


def test_deficient_scoring_stops_at_its_deadline() -> None:
    """A deadline already past: the extra candidates are skipped, the top-k ones kept."""
    import time

    people = load_roster(make_organisation(150, seed=8), role="person")
    compat = pw.load_program().peer_model.score(people, people, top_k=3)
    free_s, _ = pc.peer_matrices(compat)
    cut_s, cut_a = pc.peer_matrices(compat, deadline=time.perf_counter() - 1.0)
    assert cut_s.nnz <= free_s.nnz
    free = set(zip(*sp.triu(free_s, 1).nonzero(), strict=True))
    assert set(zip(*sp.triu(cut_s, 1).nonzero(), strict=True)) <= free
    assert (cut_a != cut_a.T).nnz == 0
