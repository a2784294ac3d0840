"""Priority means placed first (issue 7, point 7): count, priority, fairness, then score."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise.errors import InputError
from pairwise.solvers.assignment import one_to_many, one_to_one
from reference import brute_force_assignment, keys_equal, matching_key
from strategies import score_matrices

SOME = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _priority(draw, m):
    return np.asarray(draw(st.lists(st.sampled_from([1.0, 2.0, 3.5]), min_size=m, max_size=m)))


# --------------------------------------------------------------------------- the issue's example


def test_issue_example_priority_mentee_keeps_its_only_mentor():
    # One mentor; mentee 0 has priority 2 and scores 0.1, mentee 1 scores 0.3.
    S = np.array([[0.1, 0.3]])
    res = one_to_one(S, priority=[2, 1])
    assert res.cols.tolist() == [0] and res.objective == pytest.approx(0.1)
    assert res.status == "optimal" and res.options["priority"] is True
    # ``weights`` stays a score multiplier: 2 * 0.1 < 0.3, so it does not place first.
    assert one_to_one(S, weights=[2, 1]).cols.tolist() == [1]
    assert one_to_many(S, 1, priority=[2, 1]).cols.tolist() == [0]
    assert one_to_many(np.vstack([S, S]), [1, 0], priority=[2, 1]).cols.tolist() == [0]
    assert one_to_one(sp.csr_matrix(S), priority=[2, 1]).cols.tolist() == [0]


def test_count_comes_before_priority():
    # Mentor 0 can take the priority mentee 0 or ordinary mentee 1; mentor 1 only mentee 0.
    # Placing mentee 0 with mentor 0 would leave mentee 1 out while mentor 1 had room.
    S = np.array([[9.0, 1.0], [1.0, -np.inf]])
    res = one_to_one(S, np.isfinite(S), priority=[5, 1])
    assert res.n_matched == 2
    assert sorted(zip(res.rows.tolist(), res.cols.tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_priority_comes_before_fairness_and_only_its_order_matters():
    S = np.array([[0.1, 0.9, 0.8]])
    for prio in ([2, 1, 1], [1000, 1, 1], [1.5, 1.0, 1.0]):
        for objective in ("total", "fair"):
            res = one_to_one(S, priority=prio, objective=objective)
            assert res.cols.tolist() == [0], (prio, objective)


def test_equal_priorities_change_nothing():
    S = np.random.default_rng(0).random((4, 6))
    a, b = one_to_one(S), one_to_one(S, priority=np.full(6, 3.0))
    assert a.cols.tolist() == b.cols.tolist() and "priority" not in b.options


# --------------------------------------------------------------------------- brute force


@SOME
@given(score_matrices(max_rows=4, max_cols=5), st.sampled_from(["total", "fair"]), st.data())
def test_one_to_one_priority_matches_brute_force(inst, objective, data):
    m = inst["scores"].shape[1]
    prio = _priority(data.draw, m)
    res = one_to_one(
        inst["scores"],
        inst["allowed"],
        objective=objective,
        priority=prio,
        weights=inst["weights"],
    )
    fair = objective == "fair"
    scores = np.nan_to_num(inst["scores"])
    got = matching_key(
        scores, res.rows, res.cols, weights=inst["weights"], fair=fair, priority=prio
    )
    best = brute_force_assignment(
        scores, inst["allowed"], weights=inst["weights"], fair=fair, priority=prio
    )
    assert keys_equal(got, best), (got, best)
    assert res.status == "optimal" and res.tolerance == 0.0


@SOME
@given(score_matrices(max_rows=3, max_cols=5), st.sampled_from(["total", "fair"]), st.data())
def test_one_to_many_priority_matches_brute_force(inst, objective, data):
    n, m = inst["scores"].shape
    prio = _priority(data.draw, m)
    cap = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    low = np.minimum(
        cap, np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    )
    scores = np.nan_to_num(inst["scores"])
    fair = objective == "fair"
    best = brute_force_assignment(
        scores,
        inst["allowed"],
        capacity=cap,
        min_load=low,
        weights=inst["weights"],
        fair=fair,
        priority=prio,
    )
    if best is None:
        with pytest.raises(pw.InfeasibleError):
            one_to_many(inst["scores"], cap, inst["allowed"], min_load=low, priority=prio)
        return
    res = one_to_many(
        inst["scores"],
        cap,
        inst["allowed"],
        min_load=low,
        objective=objective,
        priority=prio,
        weights=inst["weights"],
    )
    got = matching_key(
        scores, res.rows, res.cols, weights=inst["weights"], fair=fair, priority=prio
    )
    assert keys_equal(got, best), (got, best)
    assert np.all(np.bincount(res.rows, minlength=n) <= cap)
    assert np.all(np.bincount(res.rows, minlength=n) >= low)


@SOME
@given(score_matrices(max_rows=3, max_cols=5), st.data())
def test_a_solve_cut_at_the_deadline_still_places_priority_first(inst, data):
    # the fallback when the time limit stops the min-cost flow: scores are not optimised,
    # but the count and the priority of the matched mentees still equal the optimum's
    from pairwise.solvers import _flow, _ortools

    def cut(*args, **kwargs):
        raise _ortools.DeadlineExceeded

    n, m = inst["scores"].shape
    prio = _priority(data.draw, m)
    cap = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    scores = np.nan_to_num(inst["scores"])
    best = brute_force_assignment(scores, inst["allowed"], capacity=cap, priority=prio)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_flow, "mcf_assign", cut)
        res = one_to_many(inst["scores"], cap, inst["allowed"], priority=prio)
    got = matching_key(scores, res.rows, res.cols, priority=prio)
    assert got[:2] == pytest.approx(best[:2])
    assert np.all(np.bincount(res.rows, minlength=n) <= cap)
    allowed = np.ones((n, m), bool) if inst["allowed"] is None else inst["allowed"]
    assert allowed[res.rows, res.cols].all()
    if len(np.unique(prio)) > 1 and res.n_matched:
        assert res.stopped_by_time_limit and res.method == "priority+max_flow (time limit)"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("priority", "message"),
    [
        ([1, 2, 3], r"`priority` must have one entry per mentee \(2\); got shape \(3,\)"),
        ([1, 0], r"`priority` must be positive and finite; got 0.0 for mentee 1"),
        ([1, np.nan], r"`priority` must be positive and finite; got nan for mentee 1"),
        (["a", "b"], r"`priority` must be numbers; got dtype <U1"),
    ],
)
def test_priority_errors(priority, message):
    for solve in (one_to_one, lambda s, **kw: one_to_many(s, 2, **kw)):
        with pytest.raises(InputError, match=message):
            solve(np.ones((2, 2)), priority=priority)


# --------------------------------------------------------------------------- programme


def test_program_priority_column_places_mentees_first():
    # One mentor with room for one; of two mentees allowed with it, the one with the
    # lower score gets priority 2 and must be the one placed (before: the other).
    frames = pw.datasets.demo_rosters()
    program = pw.load_program().replace(time_limit=5.0)
    mentees = frames["mentees"].assign(priority=1)
    for i in range(len(frames["mentors"])):
        mentor = frames["mentors"].iloc[[i]].assign(capacity=1)
        compat = program.model.score(
            pw.load_roster(mentor, role="mentor"), pw.load_roster(mentees, role="mentee")
        )
        scores = np.asarray(
            compat.scores.todense() if sp.issparse(compat.scores) else compat.scores
        )
        ok = np.flatnonzero(np.asarray(compat.allowed)[0]) if compat.allowed is not None else []
        distinct = [j for j in ok if scores[0, j] != scores[0, ok[0]]]
        if len(ok) and distinct:
            break
    else:
        pytest.skip("no demo mentor with two differently scored allowed mentees")
    a, b = ok[0], distinct[0]
    low, high = (a, b) if scores[0, a] < scores[0, b] else (b, a)
    pair = mentees.iloc[[low, high]]
    plain = program.pairs(mentor, pair)
    assert plain.pairs["mentee_id"].tolist() == [str(pair.iloc[1]["id"])]
    first = program.pairs(mentor, pair.assign(priority=[2, 1]))
    assert first.pairs["mentee_id"].tolist() == [str(pair.iloc[0]["id"])]
    assert first.status == "optimal"


# ---------------------------------------------------------------------------
# Learning groups: the programme places the most protégés, then the most priority
# ---------------------------------------------------------------------------


def _one_leader_conflict():
    """A (priority 3) may share a group with nobody; B and C (priority 1) may share one."""
    from pairwise.solvers import learning_groups

    fit = np.array([[0.9, 0.1, 0.1]])
    together = np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1]], dtype=bool)
    return learning_groups, fit, together


def test_programme_group_weights_place_the_most_protégés_first():
    from pairwise.program import _count_then_priority

    learning_groups, fit, together = _one_leader_conflict()
    weights = _count_then_priority(np.array([3.0, 1.0, 1.0]))
    res = learning_groups(fit, min_size=1, max_size=2, together=together, weights=weights)
    assert res.labels.tolist() == [-1, 0, 0]  # two placed beat one priority protégé


def test_programme_group_weights_then_prefer_priority():
    from pairwise.program import _count_then_priority

    learning_groups, _, _ = _one_leader_conflict()
    fit = np.array([[0.1, 0.9]])  # one seat: the priority protégé wins it despite its fit
    weights = _count_then_priority(np.array([2.0, 1.0]))
    res = learning_groups(fit, min_size=1, max_size=1, weights=weights)
    assert res.labels.tolist() == [0, -1]


def test_count_then_priority_keeps_only_the_order():
    from pairwise.program import _count_then_priority

    assert _count_then_priority(None) is None
    assert _count_then_priority(np.array([2.0, 2.0])) is None
    a = _count_then_priority(np.array([1.0, 2.0, 1.0]))
    b = _count_then_priority(np.array([1.0, 1000.0, 1.0]))
    assert np.array_equal(a, b) and a[1] == a[0] + 1 and a[0] > 3
