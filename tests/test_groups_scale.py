"""Learning groups at organisation scale: the paths that replace dense or quadratic work.

Each fast path is checked against the straightforward computation it replaces
(kept here as the oracle): the flow's integer costs, the per-protégé diversity
bound, the shared integer scale, the recomputed objective, the reasons of
waiting protégés, and the sampled local search.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairwise.checks import violations
from pairwise.diversity import group_counts, group_penalties
from pairwise.solvers import _groups_flow, _groups_search, _ortools
from pairwise.solvers._groups_problem import _shared_scale, _validate
from pairwise.solvers._groups_reasons import _precheck, _reasons
from pairwise.solvers.groups import learning_groups

RULES = {"min_distinct": {"function": 2}, "max_count": {"function": 3}, "no_isolation": ["gender"]}


def _problem(n_leaders, n_proteges, seed, *, weights=None, distance=False, together=False):
    rng = np.random.default_rng(seed)
    fit = rng.random((n_leaders, n_proteges))
    allowed = rng.random((n_leaders, n_proteges)) < 0.6
    attrs = pd.DataFrame(
        {
            "function": rng.choice(list("ABCDE"), n_proteges),
            "gender": rng.choice(["F", "M", "X", None], n_proteges, p=[0.45, 0.45, 0.06, 0.04]),
        }
    )
    dist = None
    if distance:
        d = rng.random((n_proteges, n_proteges))
        dist = (d + d.T) / 2
    tog = None
    if together:
        hours = rng.integers(0, 4, n_proteges)
        tog = np.abs(hours[:, None] - hours[None, :]) <= 2
    prob = _validate(
        fit,
        min_size=3,
        max_size=5,
        allowed=allowed,
        attributes=attrs,
        distance=dist,
        diversity_weight=0.1 if distance else 0.0,
        time_limit=None,
        seed=0,
        weights=weights,
        together=tog,
        max_iterations=None,
        method="heuristic",
        protected=(),
        **RULES,
    )
    return prob, fit, allowed, attrs, tog


# ---------------------------------------------------------------------------
# min-cost flow: integer costs stay in OR-Tools' range whatever the priority tiers
# ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n_proteges=st.integers(1, 4000),
    tier_max=st.sampled_from([0, 1, 2, 3002, 9002, 10**6]),
    n_arcs=st.integers(1, 50),
    seed=st.integers(0, 10**6),
)
def test_flow_costs_fit_int64_and_make_tiers_lexicographic(n_proteges, tier_max, n_arcs, seed):
    rng = np.random.default_rng(seed)
    prob, *_ = _problem(2, 8, 0)
    prob.fit = np.zeros((2, n_proteges))
    pi = rng.integers(0, n_proteges, n_arcs)
    value = rng.random(n_arcs) * 3.0
    n_nodes = n_proteges + 1500 + 2
    cost, big = _groups_flow._flow_costs(prob, value, pi, tier_max, n_nodes, None)
    # OR-Tools multiplies costs by the node count: the tiered cost must survive that
    assert (tier_max + 1) * big * (n_nodes + 1) < 2**63
    # two flows differ by at most the largest cost of each protégé: big outweighs it
    per_p = np.zeros(n_proteges, dtype=np.int64)
    np.maximum.at(per_p, pi, np.abs(cost))
    assert big > 2 * int(per_p.sum())
    assert np.all(np.abs(cost) <= big)


def test_construction_places_everyone_with_count_then_priority_weights():
    # weights C + rank (C > P) as a programme passes them: the flow used to overflow
    # OR-Tools' cost range from about 300 leaders x 3,000 protégés and place nobody
    n_leaders, n_proteges = 300, 3000
    rng = np.random.default_rng(1)
    weights = n_proteges + 1 + rng.integers(0, 2, n_proteges).astype(float)
    prob, *_ = _problem(n_leaders, n_proteges, 2, weights=weights)
    pre = _precheck(prob)
    labels, relax = _groups_flow._construct(prob, pre.viable)
    assert relax is not None
    # every place is taken (300 leaders x 5 places for 3,000 protégés)
    assert np.count_nonzero(labels >= 0) == 5 * n_leaders
    sizes = np.bincount(labels[labels >= 0], minlength=n_leaders)
    assert np.all((sizes == 0) | ((sizes >= 3) & (sizes <= 5)))
    placed = np.flatnonzero(labels >= 0)
    assert np.all(prob.allowed[labels[placed], placed])


# ---------------------------------------------------------------------------
# the diversity bound, the shared scale, the objective
# ---------------------------------------------------------------------------


def _extra_by_full_sort(prob) -> np.ndarray:
    pos = np.maximum(prob.wd, 0.0)
    srt = -np.sort(-pos, axis=1)
    csum = np.concatenate([np.zeros((srt.shape[0], 1)), np.cumsum(srt, axis=1)], axis=1)
    k = np.clip(prob.max_size - 1, 0, srt.shape[1])
    return 0.5 * csum[:, k].T


@pytest.mark.parametrize("n_proteges", [4, 60, 700])
def test_diversity_bound_by_row_blocks_equals_the_full_sort(monkeypatch, n_proteges):
    monkeypatch.setattr(_groups_flow, "_BLOCK_ELEMENTS", 5000)  # many blocks
    prob, *_ = _problem(6, n_proteges, 3, distance=True)
    prob.max_size = np.array([1, 2, 3, 5, 7, 9])[: prob.n_leaders]
    np.testing.assert_array_equal(_groups_flow._diversity_extra(prob), _extra_by_full_sort(prob))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 400),
    grid=st.sampled_from([None, 4, 10, 3]),
    weight=st.sampled_from([0.05, 1.0, -0.5]),
    seed=st.integers(0, 10**6),
)
def test_shared_scale_from_a_sample_equals_the_full_scan(n, grid, weight, seed):
    rng = np.random.default_rng(seed)
    fit = rng.random((5, n)) if grid is None else rng.integers(0, 9, (5, n)) / grid
    allowed = rng.random((5, n)) < 0.7
    d = rng.random((n, n)) if grid is None else rng.integers(0, 5, (n, n)) / grid
    d = np.triu(d, 1)
    wd = weight * (d + d.T)
    max_size = np.full(5, 7)
    terms = n * 8
    full = np.concatenate([fit[allowed], wd[np.triu_indices(n, 1)]])
    expected = _ortools.integer_scale(full, limit=2.0**50, terms=terms, max_peak=2.0**21)
    assert _shared_scale(fit, allowed, wd, max_size) == expected.scale


def test_objective_over_same_group_pairs_equals_the_dense_sum(monkeypatch):
    prob, *_ = _problem(30, 200, 4, distance=True)
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 30, 200)
    dense = _groups_search._objective(prob, labels)
    monkeypatch.setattr(_groups_search, "_DENSE_OBJECTIVE", 0)
    assert _groups_search._objective(prob, labels) == pytest.approx(dense, rel=1e-12)
    rows, cols = _groups_search._same_group_pairs(labels)
    placed = labels >= 0
    same = (labels[:, None] == labels[None, :]) & placed[:, None]
    assert len(rows) == int(np.triu(same, 1).sum())
    assert np.all(labels[rows] == labels[cols]) and np.all(rows != cols)


# ---------------------------------------------------------------------------
# reasons: counted once per grouping instead of once per (protégé, group)
# ---------------------------------------------------------------------------


def _rule_reason_by_recount(prob, labels, p, room, base_pen):
    """The reference: re-count every group's penalty with ``p`` added to each group."""
    rules = prob.rules
    L = prob.n_leaders
    broken: dict[str, int] = {}
    for g in room:
        if prob.conflict is not None and np.any(prob.conflict[p, labels == g]):
            broken["no common meeting time with every member (`together`)"] = 1
            continue
        if base_pen is None:
            broken.setdefault("", 0)
            continue
        trial = labels.copy()
        trial[p] = g
        if group_penalties(trial, rules, L)[g] > base_pen[g]:
            name = "a composition rule"
            for c, col in enumerate(rules.columns):
                nv = rules.n_values(c)
                new = group_counts(trial, rules.codes[c], L, nv)[g]
                old = group_counts(labels, rules.codes[c], L, nv)[g]
                if rules.max_count[c] > 0 and np.any((new > rules.max_count[c]) & (new > old)):
                    name = f"max_count {col}={int(rules.max_count[c])}"
                    break
                if rules.no_isolation[c] and np.count_nonzero(new == 1) > np.count_nonzero(
                    old == 1
                ):
                    name = f"no_isolation {col}"
                    break
            broken[name] = broken.get(name, 0) + 1
        else:
            broken.setdefault("", 0)
    if "" in broken:
        return (
            "an allowed group had room but the search ended before placing them; raise time_limit"
        )
    which = max(broken, key=lambda s: broken[s])
    return f"joining any allowed group with room would break a rule: {which}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), together=st.booleans(), fill=st.floats(0.2, 0.9))
def test_rule_reasons_equal_the_recount(seed, together, fill):
    prob, *_ = _problem(12, 60, seed % 1000, together=together)
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(60) < fill, rng.integers(0, 12, 60), -1)
    labels[~prob.allowed[np.maximum(labels, 0), np.arange(60)]] = -1
    pre = _precheck(prob)
    got = _reasons(prob, labels, pre.diag, pre.excluded, False)
    sizes = np.bincount(labels[labels >= 0], minlength=12)
    base_pen = group_penalties(labels, prob.rules, 12)
    for p in np.flatnonzero(labels < 0):
        if int(p) in pre.excluded:
            continue
        og = np.flatnonzero(prob.allowed[:, p] & (sizes > 0))
        room = og[sizes[og] < prob.max_size[og]]
        if len(room) == 0:
            continue
        assert got[str(int(p))] == _rule_reason_by_recount(prob, labels, int(p), room, base_pen)


# ---------------------------------------------------------------------------
# local search at scale: focused repair passes and sampled swaps
# ---------------------------------------------------------------------------


def test_large_mode_local_search_meets_every_rule_and_is_deterministic(monkeypatch):
    monkeypatch.setattr(_groups_search, "_LARGE", 50)
    monkeypatch.setattr(_groups_search, "_SWAP_SAMPLE", 16)
    rng = np.random.default_rng(5)
    n_leaders, n_proteges = 40, 220
    fit = rng.random((n_leaders, n_proteges))
    allowed = rng.random((n_leaders, n_proteges)) < 0.6
    attrs = pd.DataFrame(
        {
            "function": rng.choice(list("ABCDE"), n_proteges),
            "gender": rng.choice(["F", "M", "X"], n_proteges, p=[0.47, 0.47, 0.06]),
        }
    )
    hours = rng.integers(0, 4, n_proteges)
    together = np.abs(hours[:, None] - hours[None, :]) <= 2
    kwargs = dict(
        allowed=allowed,
        attributes=attrs,
        together=together,
        min_size=3,
        max_size=5,
        method="heuristic",
        max_iterations=30,
        seed=3,
        **RULES,
    )
    a = learning_groups(fit, **kwargs)
    b = learning_groups(fit, **kwargs)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.n_assigned > 0.8 * n_proteges
    broken = violations(
        a,
        fit=fit,
        allowed=allowed,
        attributes=attrs,
        together=together,
        min_size=3,
        max_size=5,
        **RULES,
    )
    assert broken == []
    assert a.bound is not None and a.bound >= a.objective


# ---------------------------------------------------------------------------
# the `together` mask: working hours compared kind against kind
# ---------------------------------------------------------------------------


def test_common_hours_by_kinds_equals_the_person_by_person_test():
    import dataclasses

    from pairwise import rules as R
    from pairwise.datasets import make_organisation
    from pairwise.roster import load_roster

    people = load_roster(make_organisation(400, seed=3))
    cache = R.EncodingCache(at=None)
    rule = R.Accessible(min_overlap_hours=2.0, same_site=True, at=None)
    side, _ = rule._sides(people, people, cache, None)
    side = dataclasses.replace(side, remote=np.ones(len(people), dtype=bool))
    fields = side.fields()
    ok = rule._allowed(tuple(x[:, None] for x in fields), tuple(x[None, :] for x in fields))
    start, _ = people.work_hours_minutes()
    known = ~np.isnan(start) & ~np.isnan(side.offset)
    expected = ok | ~(known[:, None] & known[None, :])
    got = R._common_hours(people, 2.0, R.EncodingCache(at=None), None)
    np.testing.assert_array_equal(got, expected)
    assert 0 < got.mean() < 1
