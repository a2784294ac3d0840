"""Stable matching: no blocking pairs, mentee-optimal, blocking pairs listed, in a programme.

The oracles are written here from the definitions, independently of the
solver: a blocking-pair checker over explicit preference keys, and a brute
force that enumerates every matching of a tiny instance to find all the
stable ones (for mentee-optimality).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise.config import build_program, parse_program
from pairwise.errors import InputError
from pairwise.solvers import blocking_pairs, one_to_many, stable_matching

# --------------------------------------------------------------------------- oracles


def _key(ranks, scores, i, j, other):
    """Preference key (lower = better): rank (unranked last), higher score, lower index."""
    r = 0 if ranks is None else ranks[i, j]
    return (r if r > 0 else math.inf, -scores[i, j], other)


def _brute_blocking(rows, cols, scores, allowed, cap, me=None, mr=None):
    n, m = scores.shape
    partner = {int(j): int(i) for i, j in zip(rows, cols, strict=True)}
    held = {i: [int(j) for r, j in zip(rows, cols, strict=True) if r == i] for i in range(n)}
    out = []
    for i in range(n):
        for j in range(m):
            if not allowed[i, j] or partner.get(j) == i or cap[i] == 0:
                continue
            if j in partner and _key(me, scores, i, j, i) >= _key(
                me, scores, partner[j], j, partner[j]
            ):
                continue
            if len(held[i]) >= cap[i]:
                worst = max(_key(mr, scores, i, k, k) for k in held[i])
                if _key(mr, scores, i, j, j) >= worst:
                    continue
            out.append((i, j))
    return sorted(out, key=lambda p: (p[1], p[0]))


def _all_matchings(allowed, cap):
    """Every matching: each mentee to an allowed mentor or to nobody, capacities kept."""
    n, m = allowed.shape
    options = [[-1, *np.flatnonzero(allowed[:, j]).tolist()] for j in range(m)]
    for choice in itertools.product(*options):
        load = np.bincount([i for i in choice if i >= 0], minlength=n)
        if np.all(load <= cap):
            yield choice


def _pairs(choice):
    cols = [j for j, i in enumerate(choice) if i >= 0]
    return np.array([choice[j] for j in cols], dtype=int), np.array(cols, dtype=int)


@st.composite
def instances(draw, max_rows=4, max_cols=5):
    n = draw(st.integers(1, max_rows))
    m = draw(st.integers(1, max_cols))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(n, m)).astype(float)  # few values: many ties
    allowed = rng.random((n, m)) < draw(st.sampled_from([0.5, 0.8, 1.0]))
    cap = rng.integers(0, 3, size=n)
    me = mr = None
    if draw(st.booleans()):  # some mentees rank some mentors
        me = np.zeros((n, m))
        for j in range(m):
            k = int(rng.integers(0, n + 1))
            me[rng.permutation(n)[:k], j] = np.arange(1, k + 1)
    if draw(st.booleans()):
        mr = np.zeros((n, m))
        for i in range(n):
            k = int(rng.integers(0, m + 1))
            mr[i, rng.permutation(m)[:k]] = np.arange(1, k + 1)
    return scores, allowed, cap, me, mr


def _sparse(scores, allowed):
    r, c = np.nonzero(allowed)
    return sp.csr_matrix((scores[r, c], (r, c)), shape=scores.shape)  # zeros stay stored


# --------------------------------------------------------------------------- solver


@settings(max_examples=150, deadline=None)
@given(instances())
def test_no_blocking_pairs_and_mentee_optimal(instance):
    scores, allowed, cap, me, mr = instance
    res = stable_matching(scores, allowed, cap, mentee_ranks=me, mentor_ranks=mr)
    rows, cols = res.rows, res.cols
    assert np.all(allowed[rows, cols])
    assert len(set(cols.tolist())) == len(cols)
    assert np.all(np.bincount(rows, minlength=len(cap)) <= cap)
    assert _brute_blocking(rows, cols, scores, allowed, cap, me, mr) == []
    assert res.objective == pytest.approx(scores[rows, cols].sum())
    # mentee-optimal: no stable matching gives any mentee a better mentor
    mine = dict(zip(cols.tolist(), rows.tolist(), strict=True))
    for choice in _all_matchings(allowed, cap):
        r, c = _pairs(choice)
        if _brute_blocking(r, c, scores, allowed, cap, me, mr):
            continue
        for j, i in zip(c.tolist(), r.tolist(), strict=True):
            assert j in mine  # the same mentees are matched in every stable matching
            assert _key(me, scores, mine[j], j, mine[j]) <= _key(me, scores, i, j, i)


def _textbook(scores, allowed, cap, me=None, mr=None):
    """Gale and Shapley's algorithm as printed: one free mentee proposes at a time."""
    n, m = scores.shape
    lists = {
        j: sorted((i for i in range(n) if allowed[i, j]), key=lambda i: _key(me, scores, i, j, i))
        for j in range(m)
    }
    nxt = dict.fromkeys(range(m), 0)
    held = {i: [] for i in range(n)}
    free = list(range(m))
    while free:
        j = free.pop(0)
        while nxt[j] < len(lists[j]):
            i = lists[j][nxt[j]]
            nxt[j] += 1
            held[i].append(j)
            if len(held[i]) <= cap[i]:
                break
            held[i].sort(key=lambda k: _key(mr, scores, i, k, k))
            out = held[i].pop()
            if out != j:
                free.append(out)
                break
    pairs = sorted((j, i) for i in range(n) for j in held[i])
    return [i for _, i in pairs], [j for j, _ in pairs]


@pytest.mark.parametrize("round_min", [1, 4])
@settings(max_examples=60, deadline=None)
@given(instance=instances(max_rows=6, max_cols=9))
def test_numpy_rounds_give_the_textbook_answer(instance, round_min):
    # the solver runs numpy rounds while many mentees are free; make them run here
    import pairwise.solvers.stable as module

    scores, allowed, cap, me, mr = instance
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_ROUND_MIN", round_min)
        res = stable_matching(scores, allowed, cap, mentee_ranks=me, mentor_ranks=mr)
    rows, cols = _textbook(scores, allowed, cap, me, mr)
    assert (res.rows.tolist(), res.cols.tolist()) == (rows, cols)


def test_a_larger_instance_equals_the_textbook_answer():
    rng = np.random.default_rng(5)
    n, m = 40, 1500  # enough free mentees for the numpy rounds
    scores = np.round(rng.random((n, m)), 2)
    allowed = rng.random((n, m)) < 0.3
    cap = rng.integers(0, 40, size=n)
    me = np.where(rng.random((n, m)) < 0.05, rng.integers(1, 6, size=(n, m)), 0)
    res = stable_matching(scores, allowed, cap, mentee_ranks=me)
    assert res.options["proposals"] > 0
    rows, cols = _textbook(scores, allowed, cap, me)
    assert (res.rows.tolist(), res.cols.tolist()) == (rows, cols)
    assert _brute_blocking(res.rows, res.cols, scores, allowed, cap, me) == []


@settings(max_examples=80, deadline=None)
@given(instances(max_rows=6, max_cols=8))
def test_sparse_candidates_give_the_same_matching(instance):
    scores, allowed, cap, me, mr = instance
    dense = stable_matching(scores, allowed, cap, mentee_ranks=me, mentor_ranks=mr)
    ranks = (None if me is None else sp.csr_matrix(me), None if mr is None else sp.csr_matrix(mr))
    sparse = stable_matching(
        _sparse(scores, allowed), capacity=cap, mentee_ranks=ranks[0], mentor_ranks=ranks[1]
    )
    assert dense.rows.tolist() == sparse.rows.tolist()
    assert dense.cols.tolist() == sparse.cols.tolist()
    r, c = blocking_pairs(
        sparse.rows, sparse.cols, _sparse(scores, allowed), None, cap,
        mentee_ranks=ranks[0], mentor_ranks=ranks[1],
    )  # fmt: skip
    assert r.size == 0 and c.size == 0


@settings(max_examples=120, deadline=None)
@given(instances(), st.integers(0, 2**32 - 1))
def test_blocking_pairs_match_the_definition(instance, seed):
    scores, allowed, cap, me, mr = instance
    matchings = list(_all_matchings(allowed, cap))
    choice = matchings[np.random.default_rng(seed).integers(len(matchings))]
    rows, cols = _pairs(choice)
    got = blocking_pairs(rows, cols, scores, allowed, cap, mentee_ranks=me, mentor_ranks=mr)
    want = _brute_blocking(rows, cols, scores, allowed, cap, me, mr)
    assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == want
    got_sparse = blocking_pairs(
        rows, cols, _sparse(scores, allowed), None, cap,
        mentee_ranks=None if me is None else sp.csr_matrix(me),
        mentor_ranks=None if mr is None else sp.csr_matrix(mr),
    )  # fmt: skip
    assert list(zip(got_sparse[0].tolist(), got_sparse[1].tolist(), strict=True)) == want


def _ranks(prefs, rows, cols):
    """``prefs[person] = [partners, best first]`` as a (mentor × mentee) rank matrix."""
    out = np.zeros((len(rows), len(cols)))
    for who, listed in prefs.items():
        for rank, other in enumerate(listed, start=1):
            if who in cols:
                out[rows.index(other), cols.index(who)] = rank
            else:
                out[rows.index(who), cols.index(other)] = rank
    return out


def test_gale_shapley_1962_example_1():
    # Three men (proposing: mentees) and three women; two stable matchings. The
    # proposing side gets its first choices (Gale and Shapley, 1962, example 1).
    men, women = ["a", "b", "c"], ["A", "B", "C"]
    me = _ranks({"a": "ABC", "b": "BCA", "c": "CAB"}, women, men)
    mr = _ranks({"A": "bca", "B": "cab", "C": "abc"}, women, men)
    res = stable_matching(np.zeros((3, 3)), mentee_ranks=me, mentor_ranks=mr)
    assert [(men[j], women[i]) for i, j in zip(res.rows, res.cols, strict=True)] == [
        ("a", "A"),
        ("b", "B"),
        ("c", "C"),
    ]
    # with the women proposing, the women get theirs: A-b, B-c, C-a
    res = stable_matching(np.zeros((3, 3)), mentee_ranks=mr.T, mentor_ranks=me.T)
    assert [(women[j], men[i]) for i, j in zip(res.rows, res.cols, strict=True)] == [
        ("A", "b"),
        ("B", "c"),
        ("C", "a"),
    ]


def test_gale_shapley_1962_example_2_has_one_stable_matching():
    # (rank given by the man, rank given by the woman); the only stable set is
    # a-C, b-D, g-A, d-B (Gale and Shapley, 1962, example 2)
    table = [
        [(1, 3), (2, 3), (3, 2), (4, 3)],
        [(1, 4), (4, 1), (3, 3), (2, 2)],
        [(2, 2), (1, 4), (3, 4), (4, 1)],
        [(4, 1), (2, 2), (3, 1), (1, 4)],
    ]  # rows: men a, b, g, d; columns: women A..D
    me = np.array([[table[j][i][0] for j in range(4)] for i in range(4)], float)
    mr = np.array([[table[j][i][1] for j in range(4)] for i in range(4)], float)
    res = stable_matching(np.zeros((4, 4)), mentee_ranks=me, mentor_ranks=mr)
    assert dict(zip(res.cols.tolist(), res.rows.tolist(), strict=True)) == {0: 2, 1: 3, 2: 0, 3: 1}


def test_hospitals_residents_with_capacities():
    # Gusfield and Irving (1989), section 1.6: residents propose; hospital h0 takes
    # two. Residents r0, r1, r2 all prefer h0; h0 prefers r2, r0, r1; h1 takes r1.
    me = np.array([[1, 1, 1], [2, 2, 2]], float)
    mr = np.array([[2, 3, 1], [1, 2, 3]], float)
    res = stable_matching(np.zeros((2, 3)), capacity=[2, 1], mentee_ranks=me, mentor_ranks=mr)
    assert res.rows.tolist() == [0, 1, 0] and res.cols.tolist() == [0, 1, 2]
    assert blocking_pairs(res.rows, res.cols, np.zeros((2, 3)), None, [2, 1],
                          mentee_ranks=me, mentor_ranks=mr)[0].size == 0  # fmt: skip


def test_scores_order_both_sides_when_nobody_ranks():
    # the highest-scoring pair always forms: it blocks otherwise
    scores = np.array([[0.9, 0.8], [0.7, 0.1]])
    res = stable_matching(scores)
    assert res.rows.tolist() == [0, 1] and res.cols.tolist() == [0, 1]
    assert res.status == "optimal" and res.bound is None
    assert res.method == "deferred_acceptance"
    assert one_to_many(scores, 1).objective == pytest.approx(1.5)  # the optimum pairs 0-1, 1-0
    assert res.objective == pytest.approx(1.0)


def test_ranked_mentors_come_before_unranked_and_ties_go_to_the_lower_index():
    scores = np.array([[0.1], [0.9], [0.5]])
    me = np.array([[1], [0], [0]])  # ranks mentor 0 only; the others by score
    assert stable_matching(scores, mentee_ranks=me).rows.tolist() == [0]
    me = np.array([[0], [0], [0]])
    assert stable_matching(scores, mentee_ranks=me).rows.tolist() == [1]
    assert stable_matching(np.ones((3, 1))).rows.tolist() == [0]
    assert stable_matching(np.ones((1, 3))).cols.tolist() == [0]


def test_hand_built_unstable_matching():
    scores = np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [1.0, 1.0, 1.0]])
    # mentor 0 with mentee 1 and mentor 1 with mentee 0: both pairs (0, 0) and
    # (1, 1) prefer each other; mentee 2 is unmatched and mentor 2 is free
    r, c = blocking_pairs([1, 0], [0, 1], scores)
    assert list(zip(r.tolist(), c.tolist(), strict=True)) == [(0, 0), (1, 1), (2, 2)]
    r, c = blocking_pairs([0, 1, 2], [0, 1, 2], scores)
    assert r.size == 0


def test_capacity_zero_mentors_never_take_or_block():
    scores = np.array([[5.0, 5.0], [1.0, 1.0]])
    res = stable_matching(scores, capacity=[0, 1])
    assert res.rows.tolist() == [1] and res.cols.tolist() == [0]
    assert blocking_pairs(res.rows, res.cols, scores, None, [0, 1])[0].size == 0


def test_empty_and_time_limit_and_seed_recorded():
    res = stable_matching(np.zeros((0, 3)))
    assert res.n_matched == 0 and res.min_score is None
    res = stable_matching(np.ones((2, 2)), time_limit=5, seed=7)
    assert res.seed == 7 and res.options["time_limit"] == 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mentee_ranks": np.ones((3, 2))}, "`mentee_ranks` must have the shape of `scores`"),
        ({"mentor_ranks": -np.ones((2, 2))}, "`mentor_ranks` must be positive ranks or 0"),
        ({"mentee_ranks": np.full((2, 2), np.inf)}, "`mentee_ranks` must be positive ranks"),
        ({"mentee_ranks": np.array([["a", "b"], ["c", "d"]])}, "`mentee_ranks` must hold"),
        ({"capacity": -1}, "`capacity` must be non-negative"),
        ({"time_limit": 0}, "`time_limit` must be a positive number"),
    ],
)
def test_stable_matching_input_errors(kwargs, message):
    with pytest.raises(InputError, match="^" + re.escape(message)):
        stable_matching(np.ones((2, 2)), **kwargs)


def test_sparse_ranks_must_rank_each_pair_once():
    ranks = sp.coo_matrix(([1.0, 2.0], ([0, 0], [1, 1])), shape=(2, 2))
    with pytest.raises(InputError, match="rank each pair once"):
        stable_matching(np.ones((2, 2)), mentee_ranks=ranks)


@pytest.mark.parametrize(
    ("rows", "cols", "message"),
    [
        ([0], [0, 1], "`rows` and `cols` must have the same length"),
        ([0, 1], [0, 0], "mentee 0 appears in 2 pairs"),
        ([0, 0], [0, 1], "mentor 0 has 2 mentees; capacity is 1"),
        ([5], [0], r"pair \(5, 0\) lies outside"),
        ([1], [1], r"pair \(1, 1\) is not an allowed"),
        ([0.5], [1], "`rows` must be a 1-D array of integer indices"),
    ],
)
def test_blocking_pairs_input_errors(rows, cols, message):
    allowed = np.array([[True, True], [True, False]])
    with pytest.raises(InputError, match=message):
        blocking_pairs(rows, cols, np.ones((2, 2)), allowed)


# --------------------------------------------------------------------------- programme


@pytest.fixture(scope="module")
def demo():
    return pw.datasets.demo_rosters()


def test_programme_stable_objective_has_no_blocking_pairs(demo):
    program = pw.load_program().replace(objective="stable")
    result = program.pairs(demo["mentors"], demo["mentees"])
    assert result.method == "deferred_acceptance"
    blocking = result.blocking_pairs()
    assert list(blocking.columns) == [
        "mentor_id",
        "mentee_id",
        "score",
        "mentee_gain",
        "mentor_gain",
    ]
    assert blocking.empty
    text = result.summary()
    assert "stable: no blocking pairs; score cost vs the optimum:" in text
    optimum = pw.load_program().pairs(demo["mentors"], demo["mentees"])
    assert optimum.objective >= result.objective - 1e-9
    cost = optimum.objective - result.objective
    assert f"score cost vs the optimum: {cost:.3f}" in text


def test_programme_optimal_plan_reports_its_blocking_pairs(demo):
    result = pw.load_program().pairs(demo["mentors"], demo["mentees"])
    blocking = result.blocking_pairs()
    assert len(blocking) > 0
    assert f"the optimal plan has {len(blocking)} blocking pair(s)" in result.summary()
    # mentors rank by score (ties to the lower index): they never lose score
    assert (blocking["mentor_gain"] >= 0).all()
    pairs = result.pairs.set_index("mentee_id")["mentor_id"]
    for row in blocking.itertuples():
        assert pairs.get(row.mentee_id) != row.mentor_id


def test_programme_mentee_ranks_come_from_the_preferences_column():
    m = pd.DataFrame({"id": ["m1", "m2"], "level": [5, 5], "function": ["A", "B"]})
    e = pd.DataFrame(
        {"id": ["e1", "e2"], "level": [1, 1], "function": ["C", "C"],
         "preferences": ["m2;m1", "m2"]}
    )  # fmt: skip
    program = build_program(
        {
            "program": {"objective": "stable"},
            "criteria": [{"kind": "different", "column": "function"}],
            "rules": {"not_manager": False, "accessibility": False, "shared_language": False},
        }
    )
    result = program.pairs(m, e)
    # both mentees rank m2 first; m2 (by score, a tie) keeps the lower index e1
    assert dict(zip(result.pairs["mentee_id"], result.pairs["mentor_id"], strict=True)) == {
        "e1": "m2",
        "e2": "m1",
    }
    assert "(preferences: ranked preferences, then scores)" in result.summary()
    assert result.blocking_pairs().empty


def test_programme_stable_refuses_min_load(demo):
    program = pw.load_program().replace(objective="stable", min_load=1)
    with pytest.raises(InputError, match=r"`pairs\.min_load` must be 0 with objective 'stable'"):
        program.pairs(demo["mentors"], demo["mentees"])


def test_programme_objective_lists_stable():
    with pytest.raises(InputError, match="'total' or 'fair' or 'stable'"):
        parse_program({"program": {"objective": "stabel"}})


def test_peers_run_with_a_stable_programme(demo):
    program = pw.load_program().replace(objective="stable", time_limit=10.0)
    assert len(program.peers(demo["people"]).pairs) > 0
