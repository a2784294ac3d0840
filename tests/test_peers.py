"""Tests for peer_pairs: exact blossom vs oracles, the fast double-cover method, input errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairwise.errors import InputError
from pairwise.solvers import peers
from pairwise.solvers.peers import peer_pairs
from reference import brute_force_peers, keys_equal, matching_key, networkx_peers
from strategies import symmetric_pools

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def fast_only(monkeypatch):
    """Force the fast double-cover method whatever the size."""
    monkeypatch.setattr(peers, "EXACT_WORK", 0)


def _check(pool, res):
    S, allowed = pool["scores"], pool["allowed"]
    assert np.all(res.rows < res.cols), "pairs must have rows < cols"
    people = np.concatenate([res.rows, res.cols])
    assert np.unique(people).size == people.size, "a person in two pairs"
    assert np.all(np.diff(res.rows) > 0), "sorted by rows"
    if allowed is not None:
        assert allowed[res.rows, res.cols].all()
    assert res.objective == pytest.approx(float(S[res.rows, res.cols].sum()), abs=1e-12)
    if res.bound is not None:
        assert res.objective <= res.bound + 1e-9


def _free_pair_left(pool, res):
    """Two unmatched people who are allowed together (never acceptable)."""
    n = pool["scores"].shape[0]
    free = np.ones(n, bool)
    free[res.rows] = free[res.cols] = False
    allowed = np.ones((n, n), bool) if pool["allowed"] is None else pool["allowed"]
    sub = allowed[np.ix_(free, free)] & ~np.eye(free.sum(), dtype=bool)
    return bool(sub.any())


@FAST
@given(symmetric_pools(max_people=8), st.sampled_from(["total", "fair"]))
def test_exact_matches_brute_force(pool, objective):
    res = peer_pairs(pool["scores"], pool["allowed"], objective=objective)
    _check(pool, res)
    assert res.status == "optimal" and res.method in ("blossom", "empty")
    fair = objective == "fair"
    best = brute_force_peers(pool["scores"], pool["allowed"], fair=fair)
    assert keys_equal(matching_key(pool["scores"], res.rows, res.cols, fair=fair), best)


@SOME
@given(symmetric_pools(max_people=30, min_people=10))
def test_exact_matches_networkx(pool):
    res = peer_pairs(pool["scores"], pool["allowed"])
    _check(pool, res)
    count, total = networkx_peers(pool["scores"], pool["allowed"], scale=1000)
    assert res.n_matched == count
    if pool["kind"] != "floats":  # grids: both exact
        assert res.objective == pytest.approx(total, abs=1e-9)


@SOME
@given(symmetric_pools(max_people=10, min_people=2))
def test_fast_method_is_sound(pool):
    old = peers.EXACT_WORK
    peers.EXACT_WORK = 0
    try:
        res = peer_pairs(pool["scores"], pool["allowed"])
        fair = peer_pairs(pool["scores"], pool["allowed"], objective="fair")
    finally:
        peers.EXACT_WORK = old
    _check(pool, res)
    _check(pool, fair)
    assert res.method in ("double-cover", "empty")
    assert not _free_pair_left(pool, res) and not _free_pair_left(pool, fair)
    best = brute_force_peers(pool["scores"], pool["allowed"])
    assert res.n_matched <= best[0]
    assert res.bound >= best[1] - 1e-9 or res.n_matched < best[0]
    if res.status == "optimal":
        assert keys_equal(matching_key(pool["scores"], res.rows, res.cols), best)


def test_fast_method_close_on_uniform(fast_only):
    rng = np.random.default_rng(0)
    S = rng.random((80, 80))
    S = (S + S.T) / 2
    res = peer_pairs(S)
    count, total = networkx_peers(S, scale=10**9)
    assert res.n_matched == count == 40
    assert res.objective >= total * 0.99
    assert res.objective <= total + 1e-9
    assert total <= res.bound + 1e-9


def test_fast_method_on_sparse_pool(fast_only):
    rng = np.random.default_rng(1)
    upper = np.triu(rng.random((60, 60)) < 0.1, 1)
    allowed = upper | upper.T
    S = np.round(rng.random((60, 60)), 2)
    S = np.triu(S, 1) + np.triu(S, 1).T
    rows, cols = np.nonzero(allowed)
    res = peer_pairs(sp.csr_matrix((S[rows, cols], (rows, cols)), shape=S.shape))
    _check({"scores": S, "allowed": allowed}, res)
    count, total = networkx_peers(S, allowed)
    assert res.n_matched >= count - 2  # heuristic: near-maximum count
    assert res.bound >= total - 1e-9 or res.n_matched < count


def test_diagonal_never_used():
    S = np.diag([100.0, 100.0, 100.0]) + 1.0
    res = peer_pairs(S)
    assert res.n_matched == 1 and res.objective == 1.0


def test_sparse_equals_dense_and_deterministic():
    rng = np.random.default_rng(3)
    S = np.round(rng.random((12, 12)), 2)
    S = (S + S.T) / 2
    allowed = rng.random((12, 12)) < 0.5
    allowed = allowed & allowed.T
    rows, cols = np.nonzero(allowed)
    a = peer_pairs(S, allowed, seed=5)
    b = peer_pairs(sp.csr_matrix((S[rows, cols], (rows, cols)), shape=S.shape), seed=5)
    c = peer_pairs(S, allowed, seed=5)
    assert (a.n_matched, a.objective) == (b.n_matched, pytest.approx(b.objective))
    np.testing.assert_array_equal(a.rows, c.rows)
    np.testing.assert_array_equal(a.cols, c.cols)


def test_time_limit_chooses_the_method():
    rng = np.random.default_rng(4)
    S = rng.random((150, 150))
    S = (S + S.T) / 2
    assert peer_pairs(S, time_limit=0.5).method == "double-cover"


# --------------------------------------------------------------------------- input errors


def _raises(match, *args, **kw):
    with pytest.raises(InputError, match=match) as err:
        peer_pairs(*args, **kw)
    assert "Fix:" in str(err.value)


def test_error_not_square():
    _raises(r"`scores` must be square .* got shape \(2, 3\)", np.ones((2, 3)))


def test_error_not_symmetric():
    S = np.array([[0.0, 1.0], [0.5, 0.0]])
    _raises(
        r"must be symmetric within 1e-09; got scores\[0, 1\] = 1.0 .*Fix: pass \(S \+ S.T\) / 2", S
    )


def test_error_allowed_not_symmetric():
    allowed = np.array([[False, True], [False, False]])
    _raises(r"`allowed` must be symmetric; got allowed\[0, 1\] = True", np.ones((2, 2)), allowed)


def test_error_sparse_missing_mirror():
    _raises(
        r"every stored pair needs its mirror; got \(0, 1\) stored without \(1, 0\)",
        sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]])),
    )


def test_error_sparse_values_not_symmetric():
    _raises(r"symmetric within", sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 0.0]])))


def test_error_objective_and_time_limit():
    _raises(r"one of 'total', 'fair'; got 'max'", np.ones((2, 2)), objective="max")
    _raises(r"`time_limit` must be a positive number", np.ones((2, 2)), time_limit=0.0)


# --------------------------------------------------------------------------
# Large pools: the same answers from the vectorised steps, checks in strips
# --------------------------------------------------------------------------


def _loop_complete(n, mate, u, v, s):
    """The plain-loop completion (greedy by score, then length-3 augmenting paths)."""
    free = mate < 0
    n_free = int(np.count_nonzero(free))
    both = free[u] & free[v]
    for k in np.flatnonzero(both)[np.argsort(-s[both], kind="stable")].tolist():
        if n_free < 2:
            break
        a, b = int(u[k]), int(v[k])
        if mate[a] < 0 and mate[b] < 0:
            mate[a], mate[b] = b, a
            n_free -= 2
    if n_free < 2:
        return
    nbrs = [[] for _ in range(n)]
    for a, b in zip(u.tolist(), v.tolist(), strict=True):
        nbrs[a].append(b)
        nbrs[b].append(a)
    changed = True
    while changed:
        changed = False
        for x in np.flatnonzero(mate < 0).tolist():
            if mate[x] >= 0:
                continue
            for a in nbrs[x]:
                b = int(mate[a])
                if b < 0:
                    continue
                y = next((y for y in nbrs[b] if mate[y] < 0 and y != x), None)
                if y is not None:
                    mate[x], mate[a] = a, x
                    mate[b], mate[y] = y, b
                    changed = True
                    break


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_completion_matches_the_plain_loops(seed, monkeypatch):
    monkeypatch.setattr(peers, "_GREEDY_BAND", 1)  # many score bands on small pools
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 80))
    density = [0.05, 0.2, 0.6][seed % 3]
    upper = np.triu(rng.random((n, n)) < density, 1)
    u, v = (x.astype(np.int64) for x in np.nonzero(upper))
    s = rng.integers(0, 4, u.size).astype(float) if seed % 2 else rng.random(u.size)
    # start from a partial matching, as after rounding the cover
    start = np.full(n, -1, np.int64)
    for k in rng.permutation(u.size)[: u.size // 4].tolist():
        if start[u[k]] < 0 and start[v[k]] < 0:
            start[u[k]], start[v[k]] = v[k], u[k]
    for begin in (start, np.full(n, -1, np.int64)):
        expected, got = begin.copy(), begin.copy()
        _loop_complete(n, expected, u, v, s)
        peers._complete(got, peers._Candidates(n, u, v, s))
        np.testing.assert_array_equal(got, expected)


def test_neighbour_lists_are_ascending_csr():
    u = np.array([0, 0, 1, 2], np.int64)
    v = np.array([1, 3, 3, 3], np.int64)
    indptr, indices = peers._Candidates(4, u, v, np.ones(4)).neighbours
    lists = [indices[indptr[i] : indptr[i + 1]].tolist() for i in range(4)]
    assert lists == [[1, 3], [0, 3], [3], [0, 1, 2]]


def test_symmetry_checks_in_strips_name_the_first_bad_pair(monkeypatch):
    monkeypatch.setattr(peers, "_BLOCK_CELLS", 500)  # strips of 2-3 rows
    rng = np.random.default_rng(0)
    S = rng.random((200, 200))
    S = (S + S.T) / 2
    peer_pairs(S, time_limit=0.5)  # symmetric: accepted
    S[170, 150] += 1e-6
    S[190, 160] += 1e-6
    _raises(r"got scores\[150, 170\] = .* but scores\[170, 150\]", S)
    allowed = np.ones((200, 200), bool)
    allowed[180, 120] = False
    S[170, 150] = S[150, 170]
    S[190, 160] = S[160, 190]
    _raises(r"`allowed` must be symmetric; got allowed\[120, 180\] = True", S, allowed)
    # a difference on a forbidden pair is not looked at
    allowed[120, 180] = False
    S[180, 120] = np.nan
    assert peer_pairs(S, allowed, time_limit=0.5).n_matched == 100


def test_symmetry_tolerance_is_relative_to_the_smaller_magnitude():
    big = 1e6
    S = np.array([[0.0, big], [big * (1 + 5e-10), 0.0]])
    assert peer_pairs(S).n_matched == 1  # within 1e-9 of both values
    S[1, 0] = big * (1 + 2e-9)
    _raises(r"symmetric within 1e-09; got scores\[0, 1\]", S)


@pytest.mark.parametrize("masked", [False, True])
def test_edges_in_strips_equal_the_arcs_of_the_upper_triangle(masked, monkeypatch):
    from pairwise.solvers._validation import check_scores

    monkeypatch.setattr(peers, "_BLOCK_CELLS", 300)
    rng = np.random.default_rng(3)
    S = rng.random((90, 90))
    S = (S + S.T) / 2
    allowed = None
    if masked:
        allowed = rng.random((90, 90)) < 0.3
        allowed &= allowed.T
    problem = check_scores(S, allowed, "test")
    r, c, s = problem.arcs()
    keep = r < c
    u, v, w = peers._edges(problem)
    np.testing.assert_array_equal(u, r[keep])
    np.testing.assert_array_equal(v, c[keep])
    np.testing.assert_array_equal(w, s[keep])
