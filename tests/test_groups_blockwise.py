"""Learning groups at scale: the blockwise, float32 and repair paths against their oracles.

Each path is checked against the straightforward computation it replaces:
the diversity distance by row blocks and in float32 against the dense float64
matrix, the tiled symmetric copy and check against numpy's, the group sums by
one sparse product against the per-group sums, the vectorised ejection against
ejecting by trial relocations, the rule culprits against a recount, the
construction's arcs against a max-flow (networkx), and a search cut before
every rule held against :func:`pairwise.checks.violations`.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pairwise import criteria
from pairwise.checks import violations
from pairwise.errors import InputError
from pairwise.roster import load_roster
from pairwise.solvers import _groups_flow, _groups_problem, _groups_search
from pairwise.solvers._groups_problem import _is_symmetric, _symmetric_upper, _validate
from pairwise.solvers._groups_reasons import _precheck

RULES = {"min_distinct": {"function": 2}, "max_count": {"function": 3}, "no_isolation": ["gender"]}


def _people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    goals = ["", "a", "b", "a;b", "c;a", "b;c;d"]
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "function": rng.choice(["Eng", "Ops", "HR", None], n),
            "level": rng.choice([1.0, 2.0, 3.0, np.nan], n),
            "goals": rng.choice(goals, n),
        }
    )


# ---------------------------------------------------------------------------
# diversity distance: row blocks and float32
# ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 10**6),
    columns=st.lists(st.sampled_from(["function", "level", "goals", "site"]), max_size=4),
    block=st.integers(1, 200),
)
def test_diversity_distance_by_blocks_equals_one_block(n, seed, columns, block):
    people = load_roster(_people(n, seed))
    whole = criteria.diversity_distance(people, columns)
    old = criteria._DISTANCE_BLOCK
    try:
        criteria._DISTANCE_BLOCK = block  # many row blocks, some of one row
        blocks = criteria.diversity_distance(people, columns)
        single = criteria.diversity_distance(people, columns, dtype=np.float32)
    finally:
        criteria._DISTANCE_BLOCK = old
    np.testing.assert_array_equal(blocks, whole)
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single, whole.astype(np.float32))
    np.testing.assert_array_equal(whole, whole.T)
    assert np.all(np.diag(whole) == 0)


def test_diversity_distance_refuses_other_dtypes():
    people = load_roster(_people(3, 0))
    with pytest.raises(InputError, match="float64 or float32"):
        criteria.diversity_distance(people, ["level"], dtype=np.int64)


# ---------------------------------------------------------------------------
# the tiled symmetric copy and check
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 7, 50])
def test_symmetric_upper_by_tiles_equals_numpy(monkeypatch, dtype, n):
    monkeypatch.setattr(_groups_problem, "_TILE", 8)
    d = np.random.default_rng(n).random((n, n)).astype(dtype)
    d[np.tril_indices(n, -1)] = np.nan  # only the upper triangle is read
    got = _symmetric_upper(d, 0.3)
    upper = np.triu(np.nan_to_num(d), 1)
    want = dtype(0.3) * (upper + upper.T)
    assert got is not None and got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    d[0, n - 1] = np.inf
    assert _symmetric_upper(d, 0.3) is None or n == 1


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 10**6), flip=st.booleans())
def test_tiled_symmetry_check_equals_numpy(n, seed, flip):
    old = _groups_problem._TILE
    m = np.random.default_rng(seed).random((n, n)) < 0.5
    m = m | m.T
    if flip:
        i, j = np.random.default_rng(seed + 1).integers(0, n, 2)
        m[i, j] = ~m[i, j]
    try:
        _groups_problem._TILE = 7
        got = _is_symmetric(m)
    finally:
        _groups_problem._TILE = old
    assert got == bool(np.array_equal(m, m.T))


def test_float32_distance_stays_float32_and_the_objective_sums_in_float64():
    rng = np.random.default_rng(0)
    d = rng.random((12, 12)).astype(np.float32)
    prob = _validate(
        rng.random((3, 12)),
        min_size=2,
        max_size=5,
        allowed=None,
        attributes=None,
        min_distinct=None,
        max_count=None,
        no_isolation=None,
        distance=d,
        diversity_weight=0.25,
        time_limit=None,
        seed=0,
        weights=None,
        together=None,
        max_iterations=None,
        method="heuristic",
        protected=(),
    )
    assert prob.wd is not None and prob.wd.dtype == np.float32
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, -1, 0, 1])
    upper = np.triu(d.astype(np.float64), 1)
    wd64 = 0.25 * (upper + upper.T)
    same = labels[:, None] == labels[None, :]
    placed = labels >= 0
    want = prob.fit[labels[placed], np.flatnonzero(placed)].sum()
    want += 0.5 * (wd64 * (same & placed[:, None] & placed[None, :])).sum()
    assert _groups_search._objective(prob, labels) == pytest.approx(want, rel=1e-6)
    # the integer view CP-SAT reads is rounded in float64
    np.testing.assert_array_equal(
        prob.wd_int[[0, 1], [2, 3]],
        np.round(prob.wd[[0, 1], [2, 3]].astype(np.float64) * prob.scale).astype(np.int64),
    )


# ---------------------------------------------------------------------------
# search state: sums by one sparse product, culprits, ejection, repair
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int8])
def test_member_sums_equal_the_per_group_sums(dtype):
    rng = np.random.default_rng(5)
    n, L = 40, 6
    m = rng.random((n, n))
    m = m + m.T
    m = (m > 1.0).astype(np.int8) if dtype == np.int8 else m.astype(dtype)
    labels = rng.integers(-1, L, n)
    want = _groups_search._group_sums(m, labels, L, dtype=np.float64)
    out = np.float64 if dtype != np.int8 else np.int32
    got = _groups_search._member_sums(m, labels, L, out)
    assert got.shape == (n, L + 1) and got.dtype == out
    assert got[:, 0].flags.c_contiguous  # one group's column is contiguous
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


def _state(seed: int, *, together: bool = True, n_leaders: int = 8, n_proteges: int = 48):
    rng = np.random.default_rng(seed)
    attrs = pd.DataFrame(
        {
            "function": rng.choice(list("ABC"), n_proteges),
            "gender": rng.choice(["F", "M", None], n_proteges, p=[0.3, 0.6, 0.1]),
        }
    )
    tog = None
    if together:
        hours = rng.integers(0, 5, n_proteges)
        tog = np.abs(hours[:, None] - hours[None, :]) <= 3
    fit = rng.random((n_leaders, n_proteges))
    allowed = rng.random((n_leaders, n_proteges)) < 0.7
    prob = _validate(
        fit,
        min_size=3,
        max_size=7,
        allowed=allowed,
        attributes=attrs,
        distance=None,
        diversity_weight=0.0,
        time_limit=None,
        seed=0,
        weights=None,
        together=tog,
        max_iterations=None,
        method="heuristic",
        protected=(),
        **RULES,
    )
    labels = np.full(n_proteges, -1, dtype=np.int64)
    for p in range(n_proteges):
        ok = np.flatnonzero(allowed[:, p])
        if len(ok) and rng.random() < 0.85:
            labels[p] = rng.choice(ok)
    return prob, labels, fit, allowed, attrs, tog


def _component_pens(search, g: int) -> list[int]:
    parts = [int(search.clash[g])]
    for k, (_, nv, md, mc, iso) in enumerate(search.cols):
        row = search.cnt[k][g, :nv]
        parts.append(max(0, md - int(search.dist[k][g])) if md > 0 else 0)
        parts.append(int(np.maximum(0, row - mc).sum()) if mc > 0 else 0)
        parts.append(int(np.count_nonzero(row == 1)) if iso else 0)
    return parts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), together=st.booleans())
def test_culprits_are_the_members_taking_part_in_a_broken_rule(seed, together):
    prob, labels, *_ = _state(seed, together=together)
    search = _groups_search._Search(prob, labels)
    got = set(search.culprits().tolist())
    want = set()
    for p in np.flatnonzero(search.lab >= 0):
        g = int(search.lab[p])
        if search.pen[g] == 0:
            continue
        before = _component_pens(search, g)
        short = any(
            md > 0 and search.dist[k][g] < md for k, (_, _, md, _, _) in enumerate(search.cols)
        )
        search.relocate(int(p), -1)
        after = _component_pens(search, g)
        search.relocate(int(p), g)
        if short or any(a < b for a, b in zip(after, before, strict=True)):
            want.add(int(p))
    assert got == want


def _eject_by_trials(search) -> None:
    """The ejection by trial relocations the vectorised one replaced (the oracle)."""
    for g in np.flatnonzero(search.pen[: search.L] > 0):
        while search.pen[g] > 0 and search.size[g] > search.minp[g]:
            members = np.flatnonzero(search.lab == g)
            best_p, best_pen = -1, search.pen[g]
            for p in members:
                search.relocate(int(p), -1)
                if search.pen[g] < best_pen:
                    best_p, best_pen = int(p), search.pen[g]
                search.relocate(int(p), int(g))
            if best_p < 0:
                break
            search.relocate(best_p, -1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), together=st.booleans())
def test_vectorised_ejection_equals_ejection_by_trials(seed, together):
    prob, labels, *_ = _state(seed, together=together)
    fast = _groups_search._Search(prob, labels)
    slow = _groups_search._Search(prob, labels)
    _groups_search._eject_broken(fast)
    _eject_by_trials(slow)
    np.testing.assert_array_equal(fast.lab, slow.lab)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), together=st.booleans())
def test_search_cut_before_feasibility_repairs_to_a_rule_feasible_grouping(seed, together):
    prob, labels, fit, allowed, attrs, tog = _state(seed, together=together, n_proteges=60)
    labels, _ = _groups_flow._construct(prob, _precheck(prob).viable)  # sizes kept
    search = _groups_search._Search(prob, labels)
    budget = _groups_search._Budget(0.0, None)  # cut before the first pass
    rng = np.random.default_rng(seed)
    best = _groups_search._local_search(search, budget, rng, lam_w=1e3, lam0=1.0)
    broken = violations(
        best,
        fit=fit,
        allowed=allowed,
        min_size=3,
        max_size=7,
        attributes=attrs,
        together=tog,
        **RULES,
    )
    assert broken == []
    # the waiting were seated wherever a group had room and no rule broke
    search.reset(best)
    assert search.total_pen == 0
    for p in np.flatnonzero(best < 0):
        for g in np.flatnonzero((search.size[: search.L] > 0) & allowed[:, p]):
            if search.size[g] >= search.maxp[g]:
                continue
            search.relocate(int(p), int(g))
            assert search.pen[g] > 0
            search.relocate(int(p), -1)


# ---------------------------------------------------------------------------
# the construction's kept arcs: nobody waits while an allowed leader has room
# ---------------------------------------------------------------------------


def _max_placed(allowed: np.ndarray, caps: np.ndarray) -> int:
    graph = nx.DiGraph()
    L, P = allowed.shape
    for g in range(L):
        graph.add_edge(("g", g), "t", capacity=int(caps[g]))
    for p in range(P):
        graph.add_edge("s", ("p", p), capacity=1)
        for g in np.flatnonzero(allowed[:, p]):
            graph.add_edge(("p", p), ("g", int(g)), capacity=1)
    return int(nx.maximum_flow_value(graph, "s", "t"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n_leaders=st.integers(2, 12),
    n_proteges=st.integers(2, 60),
    density=st.floats(0.05, 0.9),
)
def test_construction_with_kept_arcs_leaves_nobody_waiting_beside_room(
    seed, n_leaders, n_proteges, density
):
    rng = np.random.default_rng(seed)
    fit = rng.random((n_leaders, n_proteges))
    allowed = rng.random((n_leaders, n_proteges)) < density
    prob = _validate(
        fit, min_size=1, max_size=rng.integers(1, 5, n_leaders), allowed=allowed,
        attributes=None, min_distinct=None, max_count=None, no_isolation=None, distance=None,
        diversity_weight=0.0, time_limit=None, seed=0, weights=None, together=None,
        max_iterations=None, method="heuristic", protected=(),
    )  # fmt: skip
    assume((allowed.sum(axis=1) >= 1).any())
    pre = _precheck(prob)
    old = (_groups_flow._FLOW_ARCS, _groups_flow._KEEP_PER_PROTEGE)
    try:
        # the kept-arcs path on a small instance: one leader per protégé kept
        _groups_flow._FLOW_ARCS, _groups_flow._KEEP_PER_PROTEGE = 0, 1
        info: dict[str, int] = {}
        labels, relax = _groups_flow._construct(prob, pre.viable, info)
    finally:
        _groups_flow._FLOW_ARCS, _groups_flow._KEEP_PER_PROTEGE = old
    assert relax is not None and info["arcs"] <= int(allowed.sum())
    load = np.bincount(relax[relax >= 0], minlength=n_leaders)
    room = pre.viable & (load < prob.max_size)
    for p in np.flatnonzero(relax < 0):
        assert not np.any(allowed[:, p] & room)
    # with min_size 1 the construction places as many as a max-flow does
    caps = np.where(pre.viable, prob.max_size, 0)
    assert np.count_nonzero(labels >= 0) <= _max_placed(allowed, caps)
    full = _groups_flow._construct(prob, pre.viable)[0]
    assert np.count_nonzero(full >= 0) == _max_placed(allowed, caps)
