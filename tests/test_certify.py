"""Optimality certificates for solves on the k best candidates per mentee.

Oracles: SciPy's dense assignment (slot expansion for capacities), brute force
on tiny cases, an exact CP-SAT model for priority, and the dense solve of the
same rosters; the LP duals are checked against the dual constraints and
complementary slackness directly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise._certify import certified_solve, dropped_bound, dropped_violators
from pairwise.compatibility import Compatibility
from pairwise.solvers import one_to_many, one_to_one
from pairwise.solvers._duals import matching_duals, priority_levels, reduced_values
from reference import brute_force_assignment, keys_equal, matching_key, scipy_one_to_many

# ---------------------------------------------------------------------------
# A compatibility over a given dense matrix: the model's block scorer replaced
# by blocks of that matrix (the certificate only reads blocks and kept arcs).
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class _MatrixCompat(Compatibility):
    full: np.ndarray | None = None
    full_allowed: np.ndarray | None = None

    def column_blocks(self, needed=None, fn=None):  # type: ignore[override]
        assert self.full is not None and self.full_allowed is not None
        n, m = self.full.shape
        for c0 in range(0, m, 3):
            cols = slice(c0, min(c0 + 3, m))
            if needed is None or needed[cols].any():
                index = np.arange(cols.start, cols.stop)
                block = (index, np.arange(n), self.full[:, cols].T.copy(),
                         self.full_allowed[:, cols].T.copy())  # fmt: skip
                yield block if fn is None else fn(*block)


def _top_k(T: np.ndarray, allowed: np.ndarray, k: int) -> sp.csr_matrix:
    """The k best allowed rows of each column (ties: lower row first), explicit zeros kept."""
    n, m = T.shape
    rows, cols = [], []
    for j in range(m):
        cand = np.flatnonzero(allowed[:, j])
        order = cand[np.lexsort((cand, -T[cand, j]))][:k]
        rows += order.tolist()
        cols += [j] * len(order)
    r, c = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    return sp.coo_matrix((T[r, c], (r, c)), shape=(n, m)).tocsr()


def _compat(T: np.ndarray, allowed: np.ndarray, k: int) -> _MatrixCompat:
    n, m = T.shape
    return _MatrixCompat(
        scores=_top_k(T, allowed, k),
        allowed=None,
        row_ids=np.arange(n).astype(str).astype(object),
        col_ids=np.arange(m).astype(str).astype(object),
        criteria=(),
        weights=(),
        rules=(),
        top_k=k,
        full=T,
        full_allowed=allowed,
    )


def _solver(cap: np.ndarray, priority: np.ndarray | None = None):
    def solve(c: Compatibility) -> pw.solvers.MatchingResult:
        return one_to_many(c.scores, cap, priority=priority)

    return solve


@st.composite
def instances(draw, max_n: int = 6, max_m: int = 8):
    """Tie-heavy scores on a quarter grid, a mask, capacities 0-2, optional priority."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    T = rng.integers(0, 5, size=(n, m)) / 4.0
    allowed = rng.random((n, m)) < draw(st.sampled_from([0.5, 0.8, 1.0]))
    cap = rng.integers(0, 3, size=n)
    priority = rng.choice([1.0, 2.0, 3.0], size=m) if draw(st.booleans()) else None
    k = draw(st.integers(1, 3))
    return T, allowed, cap, priority, k


# ---------------------------------------------------------------------------
# The duals
# ---------------------------------------------------------------------------


@settings(max_examples=60)
@given(instances())
def test_duals_are_feasible_and_complementary_on_the_kept_graph(inst):
    T, allowed, cap, priority, k = inst
    compat = _compat(T, allowed, k)
    solved = one_to_many(compat.scores, cap, priority=priority)
    coo = compat.scores.tocoo()
    open_ = cap[coo.row] > 0
    r, c, w = coo.row[open_], coo.col[open_], coo.data[open_]
    level = priority_levels(priority, T.shape[1])
    d = matching_duals(T.shape, (r, c, w), (solved.rows, solved.cols), cap, level)
    assert d.feasible
    tol = 1e-9
    # dual feasibility: u, v >= 0 (lexicographically) and u_i + v_j >= w_ij on every kept arc
    assert np.all((d.u1 > 0) | ((d.u1 == 0) & (d.u2 >= -tol)))
    assert np.all((d.v1 > 0) | ((d.v1 == 0) & (d.v2 >= -tol)))
    red1, red2 = reduced_values(d, r, c, level[c], w)
    assert np.all((red1 < 0) | ((red1 == 0) & (red2 <= tol)))
    # complementary slackness: matched arcs tight, u = 0 unless full, v = 0 unless matched
    m1, m2 = reduced_values(
        d, solved.rows, solved.cols, level[solved.cols], T[solved.rows, solved.cols]
    )
    assert np.all(m1 == 0) and np.allclose(m2, 0.0, atol=tol)
    load = np.bincount(solved.rows, minlength=len(cap))
    slack = load < cap
    assert np.all(d.u1[slack] == 0) and np.allclose(d.u2[slack], 0.0, atol=tol)
    unmatched = np.ones(T.shape[1], bool)
    unmatched[solved.cols] = False
    assert np.all(d.v1[unmatched] == 0) and np.all(d.v2[unmatched] == 0)
    # hence equal primal and dual objectives, both parts
    usable = cap > 0
    assert int(np.sum(cap[usable] * d.u1[usable]) + d.v1.sum()) == int(level[solved.cols].sum())
    dual2 = float(np.sum(cap[usable] * d.u2[usable]) + d.v2.sum())
    assert dual2 == pytest.approx(float(T[solved.rows, solved.cols].sum()), abs=1e-9)


def test_duals_of_a_suboptimal_matching_are_not_feasible():
    T = np.array([[0.9, 0.5], [0.0, 0.2]])
    arcs = (np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([0.9, 0.5, 0.2]))
    # mentor 0 takes mentee 1: mentee 0 stays out although mentor 1 cannot take it
    worse = matching_duals(T.shape, arcs, (np.array([0]), np.array([1])), np.ones(2, int),
                           np.ones(2, np.int64))  # fmt: skip
    assert not worse.feasible


def test_priority_levels_order_only():
    assert priority_levels(np.array([5.0, 1.0, 5.0, 3.0]), 4).tolist() == [3, 1, 3, 2]


# ---------------------------------------------------------------------------
# The certificate against dense optima
# ---------------------------------------------------------------------------


@settings(max_examples=80)
@given(instances())
def test_certified_means_the_dense_optimum(inst):
    T, allowed, cap, priority, k = inst
    compat = _compat(T, allowed, k)
    res, final = certified_solve(compat, _solver(cap, priority), capacity=cap, priority=priority)
    assert res.optimal_over == ("all pairs" if res.certified else "k best candidates per mentee")
    # every pair formed is allowed and among the candidates the last solve saw
    assert np.all(allowed[res.rows, res.cols])
    assert np.all(final.scores[res.rows, res.cols] == T[res.rows, res.cols]) or res.n_matched == 0
    dense = one_to_many(T, cap, allowed, priority=priority)
    key = matching_key(T, res.rows, res.cols, priority=priority)
    best = matching_key(T, dense.rows, dense.cols, priority=priority)
    if res.certified:
        assert keys_equal(key, best)
    if priority is None:
        assert keys_equal(best, scipy_one_to_many(T, cap, allowed))


@settings(max_examples=40)
@given(instances(max_n=3, max_m=5))
def test_certified_matches_brute_force(inst):
    T, allowed, cap, priority, k = inst
    compat = _compat(T, allowed, k)
    res, _ = certified_solve(compat, _solver(cap, priority), capacity=cap, priority=priority)
    if res.certified:
        best = brute_force_assignment(T, allowed, capacity=cap, priority=priority)
        assert keys_equal(matching_key(T, res.rows, res.cols, priority=priority), best)


def test_priority_certificate_against_cp_sat():
    cp_model = pytest.importorskip("ortools.sat.python.cp_model")
    rng = np.random.default_rng(7)
    n, m = 6, 14
    T = rng.integers(0, 9, size=(n, m)) / 8.0
    allowed = rng.random((n, m)) < 0.7
    cap = np.array([2, 1, 0, 3, 1, 1])
    priority = rng.choice([1.0, 2.0], size=m)
    res, _ = certified_solve(
        _compat(T, allowed, 1), _solver(cap, priority), capacity=cap, priority=priority
    )
    assert res.certified
    model = cp_model.CpModel()
    x = {
        (i, j): model.NewBoolVar(f"x{i}_{j}") for i in range(n) for j in range(m) if allowed[i, j]
    }
    for i in range(n):
        model.Add(sum(v for (a, _), v in x.items() if a == i) <= int(cap[i]))
    for j in range(m):
        model.Add(sum(v for (_, b), v in x.items() if b == j) <= 1)
    # count, then priority, then total: integer weights far apart (scores on eighths)
    big = 8 * m * 8 + 1
    model.Maximize(
        sum(v * (big * big + big * int(priority[j]) + int(8 * T[i, j])) for (i, j), v in x.items())
    )
    solver = cp_model.CpSolver()
    assert solver.Solve(model) == cp_model.OPTIMAL
    rows = [i for (i, j), v in x.items() if solver.Value(v)]
    cols = [j for (i, j), v in x.items() if solver.Value(v)]
    assert keys_equal(
        matching_key(T, res.rows, res.cols, priority=priority),
        matching_key(T, rows, cols, priority=priority),
    )


def test_a_needed_dropped_pair_is_added_and_certified():
    # every mentee prefers mentor 0; with k = 1 only mentor 0 is kept: one pair
    T = np.array([[0.9, 0.8, 0.7], [0.5, 0.4, 0.1], [0.3, 0.6, 0.2]])
    allowed = np.ones_like(T, dtype=bool)
    cap = np.ones(3, dtype=np.int64)
    compat = _compat(T, allowed, 1)
    first = one_to_one(compat.scores)
    assert first.n_matched == 1
    res, final = certified_solve(compat, lambda c: one_to_one(c.scores), capacity=cap)
    assert res.certified and res.optimal_over == "all pairs"
    assert res.options["certificate"]["rounds"] >= 1
    assert res.options["certificate"]["added_pairs"] >= 2
    assert final.scores.nnz > compat.scores.nnz
    dense = one_to_one(T)
    assert res.n_matched == 3 and res.objective == pytest.approx(dense.objective)


def test_no_round_left_says_k_best_honestly():
    T = np.array([[0.9, 0.8, 0.7], [0.5, 0.4, 0.1], [0.3, 0.6, 0.2]])
    cap = np.ones(3, dtype=np.int64)
    compat = _compat(T, np.ones_like(T, dtype=bool), 1)
    res, final = certified_solve(compat, lambda c: one_to_one(c.scores), capacity=cap, rounds=0)
    assert res.certified is False
    assert res.optimal_over == "k best candidates per mentee"
    assert "dropped pair" in res.options["certificate"]["reason"]
    assert final is compat and res.n_matched == 1


def test_a_cut_resolve_keeps_the_previous_exact_answer():
    T = np.array([[0.9, 0.8, 0.7], [0.5, 0.4, 0.1], [0.3, 0.6, 0.2]])
    cap = np.ones(3, dtype=np.int64)
    compat = _compat(T, np.ones_like(T, dtype=bool), 1)
    calls: list[int] = []

    def solve(c):
        res = one_to_one(c.scores)
        calls.append(res.n_matched)
        if len(calls) > 1:  # as a solve stopped by the wall clock reports itself
            return dataclasses.replace(res, status="feasible", stopped_by_time_limit=True)
        return res

    res, final = certified_solve(compat, solve, capacity=cap)
    assert len(calls) == 2
    assert res.certified is False and res.status == "optimal" and not res.stopped_by_time_limit
    assert res.n_matched == 1 and final is compat
    assert "time limit" in res.options["certificate"]["reason"]


def test_dropped_violators_skip_kept_full_and_excluded():
    T = np.array([[0.9, 0.8, 0.7], [0.5, 0.4, 0.1], [0.3, 0.6, 0.2]])
    allowed = np.ones_like(T, dtype=bool)
    cap = np.array([1, 0, 1])
    compat = _compat(T, allowed, 1)
    solved = one_to_many(compat.scores, cap)
    coo = compat.scores.tocoo()
    level = np.ones(3, np.int64)
    d = matching_duals(T.shape, (coo.row, coo.col, coo.data), (solved.rows, solved.cols), cap,
                       level)  # fmt: skip
    rows, cols, scores, n = dropped_violators(compat, d, cap, level, np.array([2]))
    assert n == len(rows) > 0
    assert not np.any(rows == 1)  # capacity 0
    assert not np.any(cols == 2)  # excluded mentee
    assert not np.any((rows == 0) & (compat.scores[rows, cols].A1 != 0))  # never a kept pair
    assert np.array_equal(scores, T[rows, cols])


@settings(max_examples=40)
@given(instances())
def test_dropped_bound_bounds_every_dropped_pair(inst):
    T, allowed, _, _, k = inst
    compat = _compat(T, allowed, k)
    cut = dropped_bound(compat)
    stored = compat.scores.tocoo()
    kept = np.zeros_like(allowed)
    kept[stored.row, stored.col] = True
    dropped = allowed & ~kept
    for j in range(T.shape[1]):
        if dropped[:, j].any():
            assert T[dropped[:, j], j].max() <= cut[j]
        else:
            assert cut[j] == -np.inf or kept[:, j].sum() == k


def test_dense_compatibility_needs_no_certificate():
    T = np.array([[0.9, 0.1], [0.2, 0.3]])
    compat = Compatibility(
        T, np.ones_like(T, dtype=bool), np.array(["a", "b"]), np.array(["x", "y"]), (), (), ()
    )
    res, same = certified_solve(compat, lambda c: one_to_one(c.scores, c.allowed),
                                capacity=np.ones(2, int))  # fmt: skip
    assert res.certified is None and res.optimal_over == "all pairs" and same is compat


# ---------------------------------------------------------------------------
# Through the programme, on real rosters
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return pw.datasets.demo_rosters()


@pytest.mark.parametrize("k", [1, 3, 10])
def test_programme_top_k_certified_equals_dense(demo, k):
    prog = pw.load_program()
    dense = prog.pairs(demo["mentors"], demo["mentees"])
    res = prog.replace(top_k=k).pairs(demo["mentors"], demo["mentees"])
    assert dense.certified is None and dense.optimal_over == "all pairs"
    assert res.certified is not None
    if res.certified:
        assert len(res.pairs) == len(dense.pairs)
        assert res.objective == pytest.approx(dense.objective, abs=1e-6)
        assert "certified by LP duals" in res.summary()
    else:
        assert "best candidates per mentee only" in res.summary()
    out = res.to_dict()
    assert out["certified"] == res.certified and out["optimal_over"] == res.optimal_over
    assert list(out)[1:4] == ["status", "certified", "optimal_over"]


def test_programme_organisation_certified_or_honest():
    org = pw.datasets.make_organisation(420, seed=3)
    mentors = org[(org["level"] >= 4) & (org["capacity"] > 0)]
    mentees = org[org["level"] <= 2].head(150)
    prog = pw.load_program()
    dense = prog.pairs(mentors, mentees)
    for k in (2, 5):
        res = prog.replace(top_k=k).pairs(mentors, mentees)
        if res.certified:
            assert len(res.pairs) == len(dense.pairs)
            assert res.objective == pytest.approx(dense.objective, abs=1e-6)
        else:
            assert res.optimal_over == "k best candidates per mentee"
            assert res.options["certificate"]["reason"]


def test_programme_fair_says_k_best(demo):
    res = (
        pw.load_program()
        .replace(top_k=3, objective="fair")
        .pairs(demo["mentors"], demo["mentees"])
    )
    assert res.certified is False and res.optimal_over == "k best candidates per mentee"
    assert '"total" only' in res.options["certificate"]["reason"]
    assert "not certified over all pairs" in res.summary()


def test_programme_required_pairs_stay_and_certify(demo):
    prog = pw.load_program()
    m_id, e_id = str(demo["mentors"]["id"].iloc[0]), str(demo["mentees"]["id"].iloc[0])
    compat = prog.model.score(pw.load_roster(demo["mentors"]), pw.load_roster(demo["mentees"]))
    if not compat.allowed[0, 0]:
        pytest.skip("the first pair of the demo breaks a rule")
    model = dataclasses.replace(
        prog.model, rules=(*prog.model.rules, pw.rules.Require([(m_id, e_id)]))
    )
    res = prog.replace(model=model, top_k=40).pairs(demo["mentors"], demo["mentees"])
    pair = res.pairs[(res.pairs["mentor_id"] == m_id) & (res.pairs["mentee_id"] == e_id)]
    assert len(pair) == 1
    assert res.certified is not None


# ---------------------------------------------------------------------------
# Per-person look-ups stay constant time
# ---------------------------------------------------------------------------


def test_roster_id_view_cached_and_read_only(demo):
    roster = pw.load_roster(demo["mentees"])
    assert roster.id_view is roster.id_view
    assert not roster.id_view.flags.writeable
    assert (
        roster.id_view.tolist() == roster.ids.tolist() == [str(i) for i in demo["mentees"]["id"]]
    )
    with pytest.raises(ValueError):
        roster.id_view[0] = "x"
    assert roster.ids is not roster.ids  # ``ids`` stays a fresh copy the caller may change


def test_sparse_candidate_counts_match_the_matrix(demo):
    m, e = pw.load_roster(demo["mentors"]), pw.load_roster(demo["mentees"])
    compat = pw.load_program().model.score(m, e, top_k=4)
    dense = compat.scores.toarray() != 0
    stored = compat.scores.copy()
    stored.data[:] = 1
    per_col = np.asarray(stored.sum(axis=0)).ravel()
    per_row = np.asarray(stored.sum(axis=1)).ravel()
    assert dense.shape == compat.shape
    assert [compat.n_candidates(col=j) for j in range(len(e))] == per_col.tolist()
    assert [compat.n_candidates(row=i) for i in range(len(m))] == per_row.tolist()
